// GGUF models on the CPU, through wllama (llama.cpp in WebAssembly). Threads need the page to be
// crossOriginIsolated, which the local server's COOP/COEP headers give it.
import { Wllama } from '@wllama/wllama';
import singleThreadWasm from '@wllama/wllama/esm/single-thread/wllama.wasm?url';
import multiThreadWasm from '@wllama/wllama/esm/multi-thread/wllama.wasm?url';
import { modelBaseUrl } from '../bridge.js';

export class WllamaEngine {
  constructor(model, settings) {
    this.model = model;
    this.settings = settings;
    this.wllama = null;
    this.idle = Promise.resolve(); // the engine's current stream has finished
  }

  async load(onProgress) {
    const file = this.model.files[0];
    const source = await streamedModelFile(
      modelBaseUrl(this.model.id) + encodeURIComponent(file), file,
      (fraction) => onProgress(fraction * 0.95, 'Loading the model into memory'));
    this.wllama = new Wllama(
      { 'single-thread/wllama.wasm': singleThreadWasm, 'multi-thread/wllama.wasm': multiThreadWasm },
      { suppressNativeLog: true },
    );
    const cores = navigator.hardwareConcurrency || 1;
    const threads = self.crossOriginIsolated ? (this.settings.threads || cores) : 1;
    this.contextSize = Math.min(this.settings.context_size, this.model.context_window || this.settings.context_size);
    await this.wllama.loadModel([source], { n_ctx: this.contextSize, n_threads: threads });
    onProgress(1, 'Ready');
  }

  /**
   * The answer to a chat, a token at a time: wllama's own chat completion, step by step, so
   * that Stop is heard between the batches of a long prompt too (wllama reads a prompt in one
   * call; a long document part took minutes). The batches are wllama's own n_batch, so the
   * numbers, and the answers, are wllama's. One stream at a time: a stream the page stopped
   * waiting for (see untilStopped) finishes its current step before the next one starts.
   */
  async *stream(messages, options, signal) {
    const previous = this.idle;
    let release = () => {};
    this.idle = new Promise((resolve) => { release = resolve; });
    try {
      await previous;
      if (signal.aborted) return;
      yield* this.complete(messages, options, signal);
    } finally {
      release();
    }
  }

  async *complete(messages, options, signal) {
    const w = this.wllama;
    const sampling = {
      ...(options.temperature === 0 ? { temp: 0 } : { temp: options.temperature, top_p: options.top_p }),
      penalty_freq: options.frequency_penalty || 0,
      penalty_present: options.presence_penalty || 0,
    };
    await w.samplingInit(sampling);
    let tokens = await w.tokenize(await w.formatChat(messages, true), true);
    if (w.mustAddBosToken() && tokens[0] !== w.getBOS()) tokens.unshift(w.getBOS());
    tokens = await w.computeNonCachedTokens(tokens); // what an earlier turn left in the cache stays
    await w.samplingAccept(tokens);
    const { n_batch: batch, n_ctx: context } = w.getLoadedContextInfo();
    for (let start = 0; start < tokens.length; start += batch) {
      if (signal.aborted) return;
      await w.decode(tokens.slice(start, start + batch), { skipLogits: start + batch < tokens.length });
    }
    // Never past the context window: the answer ends where the window does.
    const room = context - w.nCachedTokens;
    const decoder = new TextDecoder();
    for (let made = 0; made < Math.min(options.max_tokens, room) && !signal.aborted; made += 1) {
      const { token, piece } = await w.samplingSample();
      if (w.isTokenEOG(token)) break;
      // One yield per token; a token that ends inside a UTF-8 character yields ''.
      yield decoder.decode(piece, { stream: true });
      await w.samplingAccept([token]);
      if (made + 1 < room) await w.decode([token], {});
    }
    const rest = decoder.decode();
    if (rest) yield rest;
  }

  /** How many tokens the model sees in text (its own tokenizer). */
  async countTokens(text) {
    return (await this.wllama.tokenize(text)).length;
  }

  /** Tokens of a whole chat prompt, as the model's chat template lays it out. */
  async promptTokens(messages) {
    return this.countTokens(await this.wllama.formatChat(messages, true));
  }

  /** Forget the conversation. (wllama's prompt cache otherwise continues from stale logits when
   *  a new prompt is wholly a prefix of what it cached, as with the same question after New chat.) */
  async reset() {
    await this.wllama?.kvClear();
  }

  describe() {
    return { engine: 'wllama (CPU)', threads: this.wllama?.getNumThreads() ?? 0 };
  }

  async unload() {
    await this.wllama?.exit();
    this.wllama = null;
  }
}

/**
 * The model file as wllama reads it: it asks only for `size` and `stream()` of each Blob it is
 * given, so the bytes can flow from the local server straight into the engine's memory, with no
 * whole-file copy in the browser's Blob storage on the way.
 */
async function streamedModelFile(url, name, onProgress) {
  const response = await fetch(url, { cache: 'no-store' });
  if (!response.ok) throw new Error(`Missing model file: ${url} (${response.status})`);
  const size = Number(response.headers.get('content-length'));
  let received = 0;
  const counter = new TransformStream({
    transform(chunk, controller) {
      received += chunk.byteLength;
      onProgress(Math.min(received / size, 1));
      controller.enqueue(chunk);
    },
  });
  return { name, size, stream: () => response.body.pipeThrough(counter) };
}
