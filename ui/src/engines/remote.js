// Models served by an OpenAI-compatible server: one the user added in Settings → Engines, or the
// app's own native CPU engine (llama.cpp). The page never talks to the server: Python does
// (desktop_llm/bridge/engines.py), and streams the answer back over the local server, so the
// page's Content-Security-Policy never allows another host and the key never reaches the page.
import { bridge, BRIDGE_HEADERS } from '../bridge.js';

export class RemoteEngine {
  constructor(model, settings) {
    this.model = model;
    this.settings = settings;
    this.parallel = 1; // parts of a long document summarized at once (summarize.js)
    this.threads = 0;
  }

  async load(onProgress) {
    if (this.model.engine === 'remote') {
      onProgress(0.5, `Connecting to ${this.model.server_name}`);
      const { context_window: contextWindow } = await bridge.engines.open(this.model.server, this.model.remote_model);
      this.server = this.model.server;
      this.served = this.model.remote_model;
      this.contextSize = contextWindow;
      this.parallel = this.settings.remote_parallel || 1;
    } else {
      onProgress(0.3, 'Loading the model into memory');
      const wanted = Math.min(this.settings.context_size, this.model.context_window || this.settings.context_size);
      const loaded = await bridge.engines.loadNative(this.model.id, wanted);
      this.server = loaded.server;
      this.served = loaded.model;
      this.contextSize = loaded.context_window;
      this.threads = loaded.threads;
    }
    onProgress(1, 'Ready');
  }

  /** The answer a piece at a time. Aborting `signal` closes the request, and Python closes the
   *  server's in turn, so the server stops writing. */
  async *stream(messages, options, signal) {
    const response = await fetch('/api/engines/chat', {
      method: 'POST',
      headers: { ...BRIDGE_HEADERS, 'Content-Type': 'application/json' },
      body: JSON.stringify({ server: this.server, model: this.served, messages, options }),
      cache: 'no-store',
      signal,
    });
    if (!response.ok) {
      const data = await response.json().catch(() => ({}));
      throw new Error(data.error || `The app answered ${response.status}.`);
    }
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffered = '';
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) throw new Error('The connection to the app closed in the middle of the answer.');
        buffered += value;
        let end;
        while ((end = buffered.indexOf('\n\n')) >= 0) {
          const line = buffered.slice(0, end);
          buffered = buffered.slice(end + 2);
          if (!line.startsWith('data: ')) continue;
          const event = JSON.parse(line.slice(6));
          if (event.error) throw new Error(event.error);
          if (event.done) return;
          yield* event.pieces; // one at a time: the chat counts them as tokens
        }
      }
    } finally {
      reader.cancel().catch(() => {});
    }
  }

  /** Tokens in text, by the server's own tokenizer where it offers one (else a long estimate). */
  async countTokens(text) {
    return (await bridge.engines.tokens(this.server, this.served, text)).tokens;
  }

  async promptTokens(messages) {
    const texts = await Promise.all(messages.map((m) => this.countTokens(m.content)));
    return texts.reduce((sum, n) => sum + n + 8, 8); // the template's few tokens per message
  }

  async reset() {} // a server keeps no conversation between requests

  describe() {
    if (this.model.engine === 'remote') return { engine: `${this.model.server_name} (server)`, threads: 0 };
    return { engine: 'llama.cpp native (CPU)', threads: this.threads };
  }

  async unload() {}
}
