// WebLLM copies every artifact it loads into browser storage (Cache API), which would store each
// model a second time on disk. Defining our own `caches` before WebLLM runs decides where the
// bytes live: they stay on the local server, and nothing is written to browser storage.
//
// `match` answers after a HEAD request with a Response whose body is fetched only when it is
// read. WebLLM first "downloads" every weight shard (match, then add on a miss) and only then
// reads them one by one; a response that held its bytes, or an open connection, from the first
// pass to the second would pin every shard in memory or exhaust the browser's six connections
// per host (a deadlock for models of more than six shards). Missing files become a clear error.

export function installLoopbackCaches(scope) {
  const keyOf = (request) => (typeof request === 'string' ? request : request.url);

  async function exists(url) {
    const response = await fetch(url, { method: 'HEAD', cache: 'no-store' });
    return response.ok;
  }

  function lazyResponse(url) {
    let reader = null;
    const body = new ReadableStream(
      {
        async pull(controller) {
          if (reader === null) {
            const response = await fetch(url, { cache: 'no-store' });
            if (!response.ok) throw new Error(`Missing model file: ${url} (${response.status})`);
            reader = response.body.getReader();
          }
          const { done, value } = await reader.read();
          if (done) controller.close();
          else controller.enqueue(value);
        },
        cancel(reason) {
          return reader?.cancel(reason);
        },
      },
      { highWaterMark: 0 },
    );
    return new Response(body);
  }

  const store = {
    async match(request) {
      const url = keyOf(request);
      return (await exists(url)) ? lazyResponse(url) : undefined;
    },
    async add(request) {
      // Only reached when match found nothing: the file is not on the server.
      const response = await fetch(request, { method: 'HEAD', cache: 'no-store' });
      throw new Error(`Missing model file: ${keyOf(request)} (${response.status})`);
    },
    async put() {},
    async keys() {
      return [];
    },
    async delete() {
      return false;
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
