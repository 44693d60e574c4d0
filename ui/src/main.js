// The app's page: picks and loads a model, runs the chat, shows what is going on.
import { bridge } from './bridge.js';
import { Chat } from './chat.js';
import { Conversation, summarySampling } from './conversation.js';
import { createEngine } from './engines/index.js';
import { explainLoadError } from './engines/errors.js';
import { gpuFit, probeWebGPU } from './gpu.js';
import { acceptDocuments, describeLength, saveMarkdown, saveMarkdownFile } from './documents.js';
import { followUpContext, relatedPassages, summarizeDocument, summaryOptions } from './summarize.js';
import { HistorySidebar } from './history.js';
import { SettingsPanel } from './settings-panel.js';
import { showDiagnostics } from './diagnostics.js';
import { LocalApiWorker } from './local-api.js';
import { ModelsPanel } from './models.js';
import { EnginesPanel, remoteModels } from './engines-panel.js';
import { copyText } from './clipboard.js';
import { drawIcons, icon } from './icons.js';

const $ = (id) => document.getElementById(id);
const ui = {
  select: $('model-select'), status: $('engine-status'), newChat: $('new-chat'),
  banners: $('banners'), progress: $('load-progress'), bar: $('load-bar'), barLabel: $('load-label'),
  messages: $('messages'), empty: $('empty-state'), composer: $('composer'), prompt: $('prompt'),
  send: $('send'), stop: $('stop'), stats: $('stats'),
  openDocument: $('open-document'), fileInput: $('file-input'), dropOverlay: $('drop-overlay'),
  docPanel: $('document-panel'), docName: $('document-name'), docStats: $('document-stats'),
  docError: $('document-error'), docForm: $('document-form'), docClose: $('document-close'),
  docQueue: $('document-queue'), summarizeAll: $('summarize-all'),
  summarize: $('summarize'), sidebarNew: $('sidebar-new'), historyList: $('history-list'),
  historySearch: $('history-search'), openSettings: $('open-settings'),
  settingsDialog: $('settings-dialog'), openDiagnostics: $('open-diagnostics'),
  diagnosticsDialog: $('diagnostics-dialog'), apiActivity: $('api-activity'),
  openModels: $('open-models'), modelsDialog: $('models-dialog'), enginesDialog: $('engines-dialog'),
};

const state = {
  info: null, settings: null, gpu: null, engine: null, model: null, document: null,
  queue: [], // documents dropped or chosen together, waiting for their turn in the panel
  localModels: [], remoteModels: [], // the store's, and those of the servers in Settings → Engines
  get models() { return [...this.localModels, ...this.remoteModels]; },
};
const history = new HistorySidebar({
  list: ui.historyList,
  search: ui.historySearch,
  onOpen: async (kept) => {
    chat.load(kept ? kept.messages : []);
    conversation.begin(); // a kept conversation: its document (if any) is no longer open
    ui.stats.textContent = ''; // the speed of an answer in another conversation
    await state.engine?.reset();
  },
  onExport: async (conversation) => {
    try {
      const { markdown, filename } = await bridge.history.export(conversation.id);
      saidSaved(await saveMarkdownFile(filename, markdown));
    } catch (error) {
      showBanner('error', `Could not export “${conversation.title}”: ${error.message}`);
    }
  },
  beforeSwitch: () => chat.settle(),
  onError: (message) => showBanner('error', message),
});
const conversation = new Conversation();

// One user of the engine at a time: the chat, a summary, or a request from the local API.
let engineQueue = Promise.resolve();
function withEngine(run) {
  const turn = engineQueue.then(run);
  engineQueue = turn.catch(() => {});
  return turn;
}

const localApi = new LocalApiWorker({
  engine: () => state.engine,
  withEngine,
  defaults: () => state.settings,
  onBusy: (busy) => {
    if (busy) document.body.dataset.api = 'busy';
    else delete document.body.dataset.api;
    ui.apiActivity.hidden = !busy;
  },
});
const chat = new Chat(ui.messages, ui.empty, (role, content) => {
  history.record(role, content, conversation.record(state.model?.id, state.settings));
});

function setEngineState(name, text) {
  document.body.dataset.engineState = name;
  ui.status.textContent = text;
  ui.status.title = text; // the whole text, where the bar cuts it
  ui.send.disabled = name !== 'ready' || chat.busy;
  ui.summarize.disabled = name !== 'ready' || chat.busy;
}

function setBusy(busy) {
  ui.send.disabled = busy || !state.engine;
  ui.summarize.disabled = busy || !state.engine;
  ui.stop.hidden = !busy;
  if (busy) document.body.dataset.generating = 'true';
  else delete document.body.dataset.generating;
}

/** A document arrives: shown in the panel, or queued while another one is there or being
 *  summarized, so dropping several files loses none of them. */
function acceptDocument(doc) {
  const panelFree = ui.docPanel.hidden && ui.docPanel.dataset.busy !== 'true';
  if (panelFree) showDocument(doc);
  else if (doc.error) showBanner('error', doc.error.includes(doc.name) ? doc.error : `${doc.name}: ${doc.error}`);
  else {
    state.queue.push(doc);
    showQueue();
  }
}

/** The next document waiting, if any, into the panel; otherwise the panel closes. */
function showNextDocument() {
  const next = state.queue.shift();
  if (next) showDocument(next);
  else {
    ui.docPanel.hidden = true;
    state.document = null;
  }
}

function showQueue() {
  const waiting = state.queue;
  ui.docQueue.hidden = !waiting.length;
  ui.docQueue.textContent = waiting.length
    ? `${waiting.length} more waiting: ${waiting.map((d) => d.name).join(', ')}. Each comes here in turn.`
    : '';
  const count = waiting.length + (state.document ? 1 : 0);
  ui.summarizeAll.hidden = !state.document || count < 2;
  ui.summarizeAll.textContent = `Summarize all ${count}`;
}

function showDocument(doc) {
  state.document = doc.error ? null : doc;
  ui.docPanel.hidden = false;
  ui.docName.textContent = doc.name;
  ui.docError.hidden = !doc.error;
  ui.docError.textContent = doc.error || '';
  ui.docForm.hidden = Boolean(doc.error);
  ui.docPanel.dataset.state = doc.error ? 'error' : 'ready';
  const stats = (tokens) => `${describeLength(doc)} · ${tokens}${doc.pages ? ` · ${doc.pages} pages` : ''}`;
  ui.docStats.textContent = doc.error ? '' : stats(`about ${doc.estimated_tokens.toLocaleString()} tokens`);
  showQueue();
  // The model's own tokenizer decides how many parts a summary needs: its count replaces the guess.
  const engine = state.engine;
  if (!doc.error && engine) {
    engine.countTokens(doc.text).then((count) => {
      if (state.document !== doc) return;
      ui.docStats.textContent = stats(`${count.toLocaleString()} tokens for ${state.model.name}`);
      ui.docStats.dataset.tokens = String(count);
    }).catch(() => {});
  }
}

/** Summarize the document in the panel, then each one waiting, with the same options; Stop
 *  ends the run and leaves the rest waiting. */
async function summarizeAll() {
  while (state.document) {
    if (await summarizeCurrent() !== 'done') return;
  }
}

async function summarizeCurrent() {
  const doc = state.document;
  if (!doc || !state.engine || chat.busy) return null;
  const form = new FormData(ui.docForm);
  const options = { ...summaryOptions(Object.fromEntries(form.entries())), sampling: summarySampling(state.settings) };
  ui.docPanel.hidden = true;
  ui.docPanel.dataset.busy = 'true'; // documents arriving now wait in the queue
  state.document = null;
  setBusy(true);
  const lengthWord = { short: 'short', medium: 'medium-length', detailed: 'detailed' }[options.length];
  const request = `Summarize “${doc.name}” (${describeLength(doc)}): ${lengthWord}, `
    + `${options.form === 'bullets' ? 'bullet points' : 'a paragraph'}`
    + `${options.language ? `, in ${options.language}` : ''}${options.instruction ? `. ${options.instruction}` : ''}`;
  await history.startNew(); // a summary is a conversation of its own; questions follow in it
  chat.clear();
  conversation.begin({
    kind: 'summary', title: `Summary of ${doc.name}`, documentName: doc.name, sampling: options.sampling, document: doc,
  });
  const save = async (text, button) => {
    try {
      const saved = await saveMarkdown(doc.name, `# Summary of ${doc.name}\n\n${text}\n`);
      button.textContent = saved ? 'Saved' : 'Save as Markdown';
      saidSaved(saved);
    } catch (error) {
      showBanner('error', error.message);
    }
  };
  let outcome = 'failed';
  await withEngine(async () => {
    await state.engine.reset();
    outcome = await chat.summarize(doc, request, (signal, onFinalPiece, onProgress) => summarizeDocument(
      doc, options, state.engine, { signal, onFinalPiece, onProgress }), save);
    await state.engine.reset();
  });
  setBusy(false);
  delete ui.docPanel.dataset.busy;
  if (state.queue.length) showNextDocument();
  return outcome;
}

function showBanner(kind, text, action) {
  const banner = document.createElement('div');
  banner.className = `banner ${kind}`;
  banner.dataset.kind = kind;
  const words = document.createElement('span');
  words.textContent = text;
  banner.append(words);
  if (action) {
    const button = document.createElement('button');
    button.type = 'button';
    button.textContent = action.label;
    button.addEventListener('click', action.run);
    banner.append(button);
  }
  const close = document.createElement('button');
  close.type = 'button';
  close.className = 'dismiss';
  close.setAttribute('aria-label', 'Dismiss');
  close.append(icon('close'));
  close.addEventListener('click', () => banner.remove());
  banner.append(close);
  ui.banners.append(banner);
  return banner;
}

/** A note that goes away by itself: the confirmation of something done. */
function notify(text) {
  const banner = showBanner('info', text);
  banner.dataset.kind = 'notice';
  banner.setAttribute('role', 'status');
  setTimeout(() => banner.remove(), 6000);
}

/** Saving returns the path chosen in the app window's dialog, the file name of a browser
 *  download, or nothing when the dialog was cancelled. */
function saidSaved(saved) {
  if (!saved) return;
  notify(document.body.dataset.host === 'webview' ? `Saved to ${saved}.` : `Downloaded as ${saved}.`);
}

function applyTheme(theme) {
  if (theme === 'system') delete document.documentElement.dataset.theme;
  else document.documentElement.dataset.theme = theme;
}

async function loadModel(model) {
  const fit = model.engine === 'webllm' ? gpuFit(state.gpu, model.webllm || {}, state.info) : { ok: true };
  if (!fit.ok) {
    setEngineState('unavailable', `${fit.reason} ${fit.fix}`);
    return;
  }
  await state.engine?.unload().catch(() => {});
  state.engine = null;
  state.model = model;
  document.body.dataset.engineModel = model.id;
  setEngineState('loading', `Loading ${model.name}…`);
  ui.progress.hidden = false;
  let engine;
  const loadStarted = performance.now();
  const onProgress = (fraction, text) => {
    ui.bar.value = fraction;
    ui.barLabel.textContent = `${text ? text.split('\n')[0] : 'Loading'} (${Math.round(fraction * 100)}%)`;
  };
  try {
    const native = Boolean(state.info.native_engine);
    engine = await createEngine(model, state.settings, { native });
    try {
      await engine.load(onProgress);
    } catch (error) {
      // The native engine failing to load is no reason not to answer: wllama always can.
      if (!(native && model.engine === 'wllama' && state.settings.cpu_engine === 'auto')) throw error;
      showBanner('warning', `The native CPU engine could not load ${model.name} (${error.message}); using the in-window engine.`);
      engine = await createEngine(model, state.settings, { native: false });
      await engine.load(onProgress);
    }
  } catch (error) {
    console.error(error);
    setEngineState('error', explainLoadError(error, model));
    return;
  } finally {
    ui.progress.hidden = true;
  }
  state.engine = engine;
  const { engine: kind, threads } = engine.describe();
  const slow = fit.slow ? ' · software GPU only: very slow here' : '';
  setEngineState('ready', `${model.name} · ${kind}${threads ? ` · ${threads} threads` : ''}${slow}`);
  ui.status.title += ` · loaded in ${((performance.now() - loadStarted) / 1000).toFixed(2)} s`;
  ui.prompt.focus();
}

async function send() {
  await history.ready(); // a question asked while switching goes to the conversation switched to
  const text = ui.prompt.value.trim();
  if (!text || !state.engine || chat.busy) return;
  ui.prompt.value = '';
  setBusy(true);
  const { temperature, top_p, max_tokens, frequency_penalty, presence_penalty } = state.settings;
  const stats = await withEngine(async () => chat.ask(text, state.engine, {
    temperature, top_p, max_tokens, frequency_penalty, presence_penalty,
    system_prompt: await systemPrompt(text),
  }));
  setBusy(false);
  ui.stats.textContent = describeStats(stats);
  ui.prompt.focus();
}

/** The settings' system prompt; in a summary's conversation, with the passages of the document
 *  that relate to the question, as many as fit beside the conversation and the answer. */
async function systemPrompt(question) {
  const own = state.settings.system_prompt;
  const doc = conversation.document;
  const engine = state.engine;
  if (!doc) return own;
  const said = chat.messages.map((m) => m.content).join('\n') + question + (own || '');
  const room = engine.contextSize - state.settings.max_tokens - (await engine.countTokens(said)) - 300;
  const passages = await relatedPassages(doc.text, question, Math.min(room, engine.contextSize / 2), (t) => engine.countTokens(t));
  if (!passages.length) return own;
  return [own, followUpContext(doc.name, passages)].filter(Boolean).join('\n\n');
}

function describeStats(stats) {
  const parts = [`${stats.tokens} tokens`];
  if (stats.firstTokenSeconds !== null) parts.push(`first token after ${stats.firstTokenSeconds.toFixed(2)} s`);
  if (stats.tokensPerSecond !== null) parts.push(`${stats.tokensPerSecond.toFixed(1)} tokens/s`);
  return parts.join(' · ');
}

const BROWSER_OFFER_DISMISSED = 'browser-offer-dismissed';

function offerBrowserHost() {
  if (state.gpu.available || state.info.host !== 'webview' || !state.info.browser) return;
  if (localStorage.getItem(BROWSER_OFFER_DISMISSED)) return;
  const banner = showBanner('info',
    'This window cannot use your graphics card (no WebGPU). CPU models work here; GPU models run in your browser.', {
      label: 'Reopen in browser',
      run: async () => {
        try {
          await bridge.switchHost('browser');
          setEngineState('idle', 'Reopening in your browser…');
        } catch (error) {
          showBanner('error', error.message);
        }
      },
    });
  banner.dataset.kind = 'browser-offer';
  banner.querySelector('.dismiss').addEventListener('click', () => localStorage.setItem(BROWSER_OFFER_DISMISSED, '1'));
}

function modelOption(model) {
  const option = document.createElement('option');
  option.value = model.id;
  const fit = model.engine === 'webllm' ? gpuFit(state.gpu, model.webllm || {}, state.info) : { ok: true };
  const note = !fit.ok ? ' (cannot run here)' : fit.slow ? ' (very slow here: software GPU)' : '';
  const kind = { webllm: ' (GPU)', wllama: ' (CPU)', remote: '' }[model.engine] ?? '';
  option.textContent = `${model.name}${kind}${note}`;
  return option;
}

/** This computer's models, then each server's under its name. */
function fillModelPicker() {
  const current = ui.select.value;
  const groups = new Map([['On this computer', state.localModels]]);
  for (const model of state.remoteModels) {
    if (!groups.has(model.server_name)) groups.set(model.server_name, []);
    groups.get(model.server_name).push(model);
  }
  ui.select.replaceChildren(...[...groups].filter(([, models]) => models.length).map(([label, models]) => {
    const group = document.createElement('optgroup');
    group.label = label;
    group.append(...models.map(modelOption));
    return group;
  }));
  if (state.models.some((m) => m.id === current)) ui.select.value = current;
  else if (state.model) ui.select.value = state.model.id;
}

/** Ask every server in Settings → Engines for its models (a server that is down lists none). */
async function refreshRemoteModels(servers = null) {
  try {
    state.remoteModels = remoteModels(servers || (await bridge.engines.list()).servers);
  } catch (error) {
    console.error(error);
    state.remoteModels = [];
  }
  fillModelPicker();
}

async function boot({ ignoreSavedModel = false } = {}) {
  ui.prompt.focus(); // typing can start while the model loads
  const [info, settings, models, gpu] = await Promise.all([
    bridge.info(), bridge.settings(), bridge.models(), probeWebGPU(),
  ]);
  Object.assign(state, { info, settings: settings.values, localModels: models, gpu });
  document.body.dataset.webgpu = gpu.available ? 'yes' : 'no';
  document.body.dataset.shaderF16 = gpu.available && gpu.features.includes('shader-f16') ? 'yes' : 'no';
  document.body.dataset.gpuAdapter = gpu.available ? [gpu.vendor, gpu.architecture, gpu.description].join(' ').trim() : '';
  document.body.dataset.host = info.host;
  applyTheme(state.settings.theme);
  if (info.settings_warning) showBanner('warning', info.settings_warning);
  if (info.history_warning) showBanner('warning', info.history_warning);
  fillModelPicker();
  offerBrowserHost();
  acceptDocuments({
    host: info.host, overlay: ui.dropOverlay, fileInput: ui.fileInput,
    openButton: ui.openDocument, onDocument: acceptDocument,
  });
  history.refresh();
  bridge.events({
    settings: (values) => { state.settings = values; applyTheme(values.theme); },
    'api-request': (job) => localApi.run(job),
    'api-cancel': ({ id }) => localApi.cancel(id),
    download: (progress) => modelsPanel.onProgress(progress),
    models: () => modelsPanel.onStoreChanged(),
  });
  // Servers can be slow to answer: their models join the picker when they do, unless the
  // model to start with is one of theirs.
  const remote = refreshRemoteModels();
  const wanted = info.start_model || state.settings.model;
  if (!ignoreSavedModel && wanted?.startsWith('remote:')) await remote;
  // `desktop-llm --model ID` names the model for this launch; the self-test uses it or the built-in.
  const byId = (id) => state.models.find((m) => m.id === id);
  const model = ignoreSavedModel ? byId(info.start_model) || models.find((m) => m.embedded)
    : byId(info.start_model) || byId(state.settings.model) || models.find((m) => m.embedded) || models[0];
  if (!model) {
    setEngineState('error', 'No model is installed. Add one from the models list.');
    return;
  }
  ui.select.value = model.id;
  await loadModel(model);
}

ui.composer.addEventListener('submit', (event) => { event.preventDefault(); send(); });
ui.prompt.addEventListener('keydown', (event) => {
  if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    send();
  }
});
ui.stop.addEventListener('click', () => chat.stop());
ui.docForm.addEventListener('submit', (event) => { event.preventDefault(); summarizeCurrent(); });
ui.docClose.addEventListener('click', () => showNextDocument());
ui.summarizeAll.addEventListener('click', () => summarizeAll());
const settingsPanel = new SettingsPanel(ui.settingsDialog, (values) => {
  state.settings = values;
  applyTheme(values.theme);
});
ui.openSettings.addEventListener('click', () => settingsPanel.open(state.info, state.models));
const modelsPanel = new ModelsPanel(ui.modelsDialog, {
  getContext: () => ({ gpu: state.gpu, info: state.info, models: state.localModels, settings: state.settings }),
  onChange: async () => {
    state.localModels = await bridge.models();
    fillModelPicker();
  },
  onUse: (id) => {
    ui.select.value = id;
    switchModel(id);
  },
});
ui.openModels.addEventListener('click', () => modelsPanel.open());
const enginesPanel = new EnginesPanel(ui.enginesDialog, refreshRemoteModels);
$('open-engines').addEventListener('click', () => enginesPanel.open());
ui.openDiagnostics.addEventListener('click', () => showDiagnostics(ui.diagnosticsDialog, state.gpu, state.info));
$('diagnostics-close').addEventListener('click', () => ui.diagnosticsDialog.close());
$('diagnostics-copy').addEventListener('click', (event) => copyText(ui.diagnosticsDialog.dataset.facts || '', event.currentTarget));
ui.sidebarNew.addEventListener('click', () => ui.newChat.click());

// Narrow windows: the sidebar opens over the page, and closes when something in it is used.
const sidebarToggle = $('sidebar-toggle');
function setSidebar(open) {
  if (open) document.body.dataset.sidebar = 'open';
  else delete document.body.dataset.sidebar;
  sidebarToggle.setAttribute('aria-expanded', String(open));
}
sidebarToggle.addEventListener('click', () => setSidebar(document.body.dataset.sidebar !== 'open'));
$('sidebar').addEventListener('click', (event) => {
  if (event.target.closest('button') && !event.target.closest('.act')) setSidebar(false);
});
// A click beside it, or Escape, folds it away again.
document.addEventListener('click', (event) => {
  if (document.body.dataset.sidebar === 'open' && !event.target.closest('#sidebar, #sidebar-toggle')) setSidebar(false);
});
// Keys: Escape folds the sidebar or stops the answer being written; Ctrl/Cmd+N starts a new
// chat; Ctrl/Cmd+K searches the conversations. Dialogs keep Escape for themselves.
document.addEventListener('keydown', (event) => {
  if (document.querySelector('dialog[open]')) return;
  const command = event.ctrlKey || event.metaKey;
  if (event.key === 'Escape') {
    if (document.body.dataset.sidebar === 'open') setSidebar(false);
    else if (chat.busy) {
      event.preventDefault();
      chat.stop();
    }
  } else if (command && !event.shiftKey && !event.altKey && event.key.toLowerCase() === 'n') {
    event.preventDefault();
    ui.newChat.click();
  } else if (command && !event.shiftKey && !event.altKey && event.key.toLowerCase() === 'k') {
    event.preventDefault();
    if (getComputedStyle(sidebarToggle).display !== 'none') setSidebar(true);
    ui.historySearch.focus();
    ui.historySearch.select();
  }
});

ui.newChat.addEventListener('click', async () => {
  if (chat.busy) await chat.settle(); // an answer being written is stopped and kept where asked
  chat.clear();
  conversation.begin();
  const switched = history.startNew(); // at once: a question sent now waits for it
  ui.stats.textContent = '';
  await switched;
  await state.engine?.reset();
  ui.prompt.focus();
});
async function switchModel(id) {
  const model = state.models.find((m) => m.id === id);
  if (!model || model.id === state.model?.id) return;
  chat.stop();
  await loadModel(model);
  if (state.engine) bridge.updateSettings({ model: model.id }).catch(() => {});
}
ui.select.addEventListener('change', () => switchModel(ui.select.value));
// Links in answers open in the system browser, never inside the app's window.
ui.messages.addEventListener('click', (event) => {
  const link = event.target.closest('a[href]');
  if (!link) return;
  event.preventDefault();
  if (/^https?:/i.test(link.href)) bridge.openExternal(link.href).catch(() => {});
});

/** `desktop-llm doctor` opens the app hidden with ?mode=probe-<window>: report WebGPU, load nothing. */
async function probeOnly(host) {
  await bridge.probeResult(host, await probeWebGPU());
  document.body.dataset.probe = 'done';
}

/** `desktop-llm --self-test`: load the built-in model, answer one prompt, report. */
async function selfTest() {
  await boot({ ignoreSavedModel: true });
  if (document.body.dataset.engineState !== 'ready') {
    await bridge.selfTestResult(false, ui.status.textContent || 'the built-in model did not load');
    return;
  }
  let answer = '';
  const options = { temperature: 0, top_p: 1, max_tokens: 16 };
  const started = performance.now();
  for await (const piece of state.engine.stream(
    [{ role: 'user', content: 'Say hello.' }], options, new AbortController().signal)) {
    answer += piece;
  }
  answer = answer.trim();
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  const on = `${state.model.name} (on ${state.engine.describe().engine})`;
  await bridge.selfTestResult(Boolean(answer), answer
    ? `${on} answered in ${seconds} s: ${answer}`
    : `${on} loaded but gave an empty answer`);
}

drawIcons();

// The launcher chooses a special run of the page with ?mode=...; a normal launch has none.
const mode = new URLSearchParams(location.search).get('mode') || '';
const runs = { 'probe-browser': () => probeOnly('browser'), 'probe-webview': () => probeOnly('webview'), 'self-test': selfTest };
(runs[mode] || boot)().catch((error) => {
  const message = error.message || String(error);
  if (mode === 'self-test') bridge.selfTestResult(false, message).catch(() => {});
  console.error(error);
  setEngineState('error', message);
});
