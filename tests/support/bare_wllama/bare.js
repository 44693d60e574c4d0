// The bare engine: wllama straight from node_modules, the model straight from disk.
import { Wllama } from '/wllama/index.js';

let wllama = null;

window.loadBare = async (threads, nCtx) => {
  wllama = new Wllama({
    'single-thread/wllama.wasm': '/wllama/single-thread/wllama.wasm',
    'multi-thread/wllama.wasm': '/wllama/multi-thread/wllama.wasm',
  }, { suppressNativeLog: true });
  const blob = await (await fetch('/model.gguf')).blob();
  await wllama.loadModel([blob], { n_ctx: nCtx, n_threads: threads });
  return wllama.getNumThreads();
};

window.runBare = async (messages, nPredict) => {
  await wllama.kvClear();
  const started = performance.now();
  let first = 0;
  let tokens = 0;
  const stream = await wllama.createChatCompletion(messages, {
    nPredict, sampling: { temp: 0 }, stream: true, useCache: true,
  });
  for await (const chunk of stream) {
    if (!first) first = performance.now();
    tokens += 1;
  }
  const ended = performance.now();
  return { tokens, firstTokenSeconds: (first - started) / 1000, tokensPerSecond: (tokens - 1) / ((ended - first) / 1000) };
};

// The model's own token ids for text (llama.cpp's tokenizer), special tokens not parsed.
window.tokenizeBare = async (text) => Array.from(await wllama.tokenize(text, false));
