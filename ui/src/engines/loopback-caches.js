// WebLLM copies every artifact it loads into browser storage (Cache API), which would store each
// model a second time on disk. Defining our own `caches` before WebLLM runs decides where the
// bytes live: `add` fetches from the local server and holds the response only until WebLLM
// reads it back with `match`; nothing is written to disk. Missing files become a clear error.

export function installLoopbackCaches(scope) {
  const waiting = new Map();
  const keyOf = (request) => (typeof request === 'string' ? request : request.url);
  const store = {
    async match(request) {
      const key = keyOf(request);
      const response = waiting.get(key);
      waiting.delete(key);
      return response;
    },
    async add(request) {
      const response = await fetch(request, { cache: 'no-store' });
      if (!response.ok) throw new Error(`Missing model file: ${keyOf(request)} (${response.status})`);
      waiting.set(keyOf(request), response);
    },
    async put(request, response) {
      waiting.set(keyOf(request), response);
    },
    async keys() {
      return [];
    },
    async delete(request) {
      return waiting.delete(keyOf(request));
    },
  };
  const caches = {
    open: async () => store,
    has: async () => false,
    delete: async () => true,
    keys: async () => [],
    match: async (request) => store.match(request),
  };
  Object.defineProperty(scope, 'caches', { value: caches, configurable: true });
}
