// Stop that acts at once. An engine hears Stop only between its steps (wllama reads up to
// n_batch prompt tokens in one step, which can take many seconds): the page stops waiting the
// moment Stop is pressed, and the engine finishes its step in the background (engines queue
// their streams, so the next answer starts after it).

/** The pieces of `stream` until it ends or `signal` aborts, whichever comes first. */
export async function* untilStopped(stream, signal) {
  const iterator = stream[Symbol.asyncIterator]();
  let onAbort = () => {};
  const stopped = new Promise((resolve) => {
    onAbort = () => resolve({ stopped: true });
    signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    while (!signal.aborted) {
      const next = await Promise.race([iterator.next(), stopped]);
      if (next.stopped || next.done) return;
      yield next.value;
    }
  } finally {
    signal.removeEventListener('abort', onAbort);
    iterator.return?.().catch(() => {}); // not awaited: it ends with the engine's current step
  }
}
