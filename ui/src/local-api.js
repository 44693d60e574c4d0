// Requests from the local OpenAI-compatible API, answered by the engine in this page. Python
// queues them (one at a time); the answer goes back through the bridge a few pieces at a time.
import { bridge } from './bridge.js';

const FLUSH_MS = 50;

export class LocalApiWorker {
  constructor({ engine, withEngine, onBusy, defaults }) {
    this.engine = engine; // () => the loaded engine, or null
    this.withEngine = withEngine; // run(fn) one engine user at a time
    this.onBusy = onBusy;
    this.defaults = defaults; // () => settings
    this.running = new Map(); // id -> AbortController
  }

  cancel(id) {
    this.running.get(id)?.abort();
  }

  run(job) {
    return this.withEngine(() => this.answer(job));
  }

  async answer(job) {
    const engine = this.engine();
    if (!engine) {
      await bridge.llmFeed(job.id, [], { error: 'No model is loaded in the app yet.' });
      return;
    }
    const controller = new AbortController();
    this.running.set(job.id, controller);
    this.onBusy(true);
    const stops = (job.stop || []).filter(Boolean);
    const holdBack = Math.max(0, ...stops.map((s) => s.length - 1));
    const maxTokens = job.max_tokens ?? this.defaults().max_tokens;
    let text = '';
    let sent = 0;
    let tokens = 0;
    let finish = 'stop';
    let error = null;
    let lastFlush = performance.now();
    let feeding = Promise.resolve();
    const send = (upTo) => {
      if (upTo <= sent) return;
      const piece = text.slice(sent, upTo);
      sent = upTo;
      feeding = feeding.then(() => bridge.llmFeed(job.id, [piece]));
    };
    try {
      await engine.reset(); // a fresh conversation: the request carries its whole history
      const options = {
        temperature: job.temperature, top_p: job.top_p, max_tokens: maxTokens,
        frequency_penalty: job.frequency_penalty, presence_penalty: job.presence_penalty,
      };
      let stopped = false;
      for await (const piece of engine.stream(job.messages, options, controller.signal)) {
        // After a stop string the engine is told to stop; its last pieces are dropped. (The loop
        // runs on to its end: leaving it early would leave the engine mid-generation.)
        if (stopped) continue;
        tokens += 1;
        if (!piece) continue;
        text += piece;
        const at = stops.map((s) => text.indexOf(s, Math.max(0, sent - s.length))).filter((i) => i >= 0);
        if (at.length) {
          text = text.slice(0, Math.min(...at));
          stopped = true;
          controller.abort();
          continue;
        }
        if (performance.now() - lastFlush > FLUSH_MS) {
          send(text.length - holdBack);
          lastFlush = performance.now();
        }
      }
      if (tokens >= maxTokens) finish = 'length';
    } catch (problem) {
      if (!controller.signal.aborted) error = String(problem?.message || problem);
    } finally {
      this.running.delete(job.id);
    }
    send(text.length);
    await feeding.catch(() => {});
    const promptTokens = await engine.promptTokens(job.messages).catch(() => 0);
    await bridge.llmFeed(job.id, [], error ? { error } : {
      finish_reason: finish, prompt_tokens: promptTokens, completion_tokens: tokens,
    }).catch(() => {});
    this.onBusy(false);
  }
}
