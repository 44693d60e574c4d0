// MLC models on the GPU through WebLLM, in a Web Worker. Every URL points at the local server:
// the page never talks to the internet.
import { CreateWebWorkerMLCEngine } from '@mlc-ai/web-llm';
import { modelBaseUrl } from '../bridge.js';

/** The model's WebLLM record with its URLs rewritten to the local server. */
export function localRecord(model) {
  const base = modelBaseUrl(model.id);
  const record = { ...model.webllm };
  return {
    ...record,
    model_id: model.id,
    model: base,
    model_lib: base + encodeURIComponent(record.model_lib_file || 'model.wasm'),
  };
}

export class WebLLMEngine {
  constructor(model, settings) {
    this.model = model;
    this.settings = settings;
    this.engine = null;
    this.worker = null;
  }

  async load(onProgress) {
    this.worker = new Worker(new URL('./webllm-worker.js', import.meta.url), { type: 'module' });
    try {
      this.engine = await CreateWebWorkerMLCEngine(this.worker, this.model.id, {
        appConfig: { model_list: [localRecord(this.model)], cacheBackend: 'cache' },
        initProgressCallback: (report) => onProgress(report.progress, report.text),
      });
    } catch (error) {
      this.worker.terminate();
      this.worker = null;
      throw error;
    }
  }

  async *stream(messages, options, signal) {
    const stop = () => this.engine.interruptGenerate();
    signal.addEventListener('abort', stop);
    try {
      const chunks = await this.engine.chat.completions.create({
        messages,
        stream: true,
        temperature: options.temperature,
        top_p: options.top_p,
        max_tokens: options.max_tokens,
        frequency_penalty: options.frequency_penalty || 0,
        presence_penalty: options.presence_penalty || 0,
        stream_options: { include_usage: true },
      });
      for await (const chunk of chunks) {
        const piece = chunk.choices[0]?.delta?.content;
        if (piece) yield piece;
        if (signal.aborted) break;
      }
    } finally {
      signal.removeEventListener('abort', stop);
    }
  }

  get contextSize() {
    return this.model.webllm?.overrides?.context_window_size || this.model.context_window || 4096;
  }

  /** An estimate: WebLLM keeps its tokenizer inside the worker. Errs on the long side. */
  async countTokens(text) {
    return Math.ceil(text.length / 3);
  }

  async promptTokens(messages) {
    return this.countTokens(messages.map((m) => m.content).join('\n'));
  }

  async reset() {
    await this.engine?.resetChat();
  }

  describe() {
    return { engine: 'WebLLM (GPU)', threads: 0 };
  }

  async unload() {
    await this.engine?.unload();
    this.worker?.terminate();
    this.engine = null;
    this.worker = null;
  }
}
