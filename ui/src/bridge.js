// The page's side of the bridge: one function per Python route (desktop_llm/bridge/*.py, ROUTES).
// The session cookie travels by itself; the header proves the request comes from this page.

export class BridgeError extends Error {
  constructor(message, status, field) {
    super(message);
    this.status = status;
    this.field = field;
  }
}

export const BRIDGE_HEADERS = { 'X-Desktop-LLM': '1' };

async function call(method, name, body) {
  let response;
  try {
    response = await fetch(`/api/${name}`, {
      method,
      headers: { ...BRIDGE_HEADERS, 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: 'no-store',
    });
  } catch {
    throw new BridgeError('The app is not answering. Close this window and start it again.', 0);
  }
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    throw new BridgeError(data.error || `The app answered ${response.status}.`, response.status, data.field);
  }
  return data;
}

export const bridge = {
  info: () => call('GET', 'info'),
  settings: () => call('GET', 'settings'),
  updateSettings: (changes) => call('POST', 'settings', changes),
  models: () => call('GET', 'models'),
  catalog: () => call('GET', 'models/catalog'),
  downloadModel: (id) => call('POST', 'models/download', { id }),
  cancelDownload: (id) => call('POST', 'models/cancel', { id }),
  deleteModel: (id) => call('POST', 'models/delete', { id }),
  verifyModel: (id) => call('POST', 'models/verify', { id }),
  importModel: (kind) => call('POST', 'models/import', { kind }),
  importDroppedModel: (names) => call('POST', 'models/import-dropped', { names }),
  switchHost: (host) => call('POST', 'host', { host }),
  openExternal: (url) => call('POST', 'open-external', { url }),
  openDocuments: () => call('POST', 'documents/open', {}),
  droppedDocuments: (names) => call('POST', 'documents/dropped', { names }),
  saveText: (suggested_name, text) => call('POST', 'save-text', { suggested_name, text }),
  copyText: (text) => call('POST', 'clipboard', { text }),

  resetSettings: () => call('POST', 'settings/reset', {}),
  openFolder: (which) => call('POST', 'open-folder', { which }),
  doctor: () => call('GET', 'doctor'),
  probeResult: (host, report) => call('POST', 'probe', { host, report }),
  selfTestResult: (ok, detail) => call('POST', 'self-test', { ok, detail }),
  llmFeed: (id, pieces, done = null) => call('POST', 'llm/feed', { id, pieces, done }),
  engines: {
    list: () => call('GET', 'engines'),
    add: (fields) => call('POST', 'engines/add', fields),
    update: (fields) => call('POST', 'engines/update', fields),
    remove: (id) => call('POST', 'engines/remove', { id }),
    test: (fields) => call('POST', 'engines/test', fields),
    open: (server, model) => call('POST', 'engines/open', { server, model }),
    tokens: (server, model, text) => call('POST', 'engines/tokens', { server, model, text }),
    loadNative: (id, context_size) => call('POST', 'engines/native', { id, context_size }),
  },
  history: {
    list: (query = '') => call('GET', `history?query=${encodeURIComponent(query)}`),
    get: (id) => call('GET', `history/get?id=${id}`),
    create: (fields) => call('POST', 'history/create', fields),
    add: (conversationId, role, content) => call('POST', 'history/add', { conversation_id: conversationId, role, content }),
    rename: (id, title) => call('POST', 'history/rename', { id, title }),
    remove: (id) => call('POST', 'history/delete', { id }),
    export: (id) => call('GET', `history/export?id=${id}`),
  },

  /** Subscribe to pushed events: handlers is {eventName: (data) => void}. */
  events(handlers) {
    const source = new EventSource('/api/events');
    for (const [name, handler] of Object.entries(handlers)) {
      source.addEventListener(name, (event) => handler(JSON.parse(event.data)));
    }
    return source;
  },
};

/** Where the local server serves a model's files (the hub's layout, which WebLLM expects). */
export function modelBaseUrl(modelId) {
  return `${location.origin}/models/${encodeURIComponent(modelId)}/resolve/main/`;
}
