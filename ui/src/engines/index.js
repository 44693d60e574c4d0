// Engines behind one interface:
//   load(onProgress(fraction, text)), stream(messages, options, signal) -> one piece of text per
//   token (possibly ''), reset() forgets the conversation, contextSize and countTokens(text) for
//   fitting documents,
//   describe() -> {engine, threads}, unload().
// The model's format decides which engine runs it. Each engine's code loads only when needed.

export async function createEngine(model, settings) {
  if (model.engine === 'webllm') {
    const { WebLLMEngine } = await import('./webllm.js');
    return new WebLLMEngine(model, settings);
  }
  if (model.engine === 'wllama') {
    const { WllamaEngine } = await import('./wllama.js');
    return new WllamaEngine(model, settings);
  }
  throw new Error(`No engine can run models of type “${model.engine}”.`);
}
