// Engines behind one interface:
//   load(onProgress(fraction, text)), stream(messages, options, signal) -> async pieces of text,
//   describe() -> {engine, threads}, unload().
// The model's format decides which engine runs it.
import { WllamaEngine } from './wllama.js';
import { WebLLMEngine } from './webllm.js';

export function createEngine(model, settings) {
  if (model.engine === 'webllm') return new WebLLMEngine(model, settings);
  if (model.engine === 'wllama') return new WllamaEngine(model, settings);
  throw new Error(`No engine can run models of type “${model.engine}”.`);
}
