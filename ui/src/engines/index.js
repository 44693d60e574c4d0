// Engines behind one interface:
//   load(onProgress(fraction, text)), stream(messages, options, signal) -> one piece of text per
//   token (possibly ''), reset() forgets the conversation, contextSize and countTokens(text) for
//   fitting documents,
//   describe() -> {engine, threads}, unload().
// The model's format decides which engine runs it: MLC models WebLLM (WebGPU), GGUF models
// llama.cpp, native (through Python) when it is installed and chosen, else wllama in the page;
// models on a server the server itself. The in-window engines' code (large) loads only when
// needed; the remote engine's (small, and what the native engine uses) comes with the page, so
// loading a model on it waits for no module.
import { RemoteEngine } from './remote.js';

export async function createEngine(model, settings, { native = false } = {}) {
  if (model.engine === 'webllm') {
    const { WebLLMEngine } = await import('./webllm.js');
    return new WebLLMEngine(model, settings);
  }
  if (model.engine === 'remote' || (model.engine === 'wllama' && useNative(settings, native))) {
    return new RemoteEngine(model, settings);
  }
  if (model.engine === 'wllama') {
    const { WllamaEngine } = await import('./wllama.js');
    return new WllamaEngine(model, settings);
  }
  throw new Error(`No engine can run models of type “${model.engine}”.`);
}

/** GGUF models run natively when llama-server is built, unless the user chose wllama. */
export function useNative(settings, native) {
  return native && settings.cpu_engine !== 'wllama';
}
