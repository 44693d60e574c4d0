// Turning an engine's error into one sentence a user can act on.

export function explainLoadError(error, model) {
  const text = String(error?.message || error);
  const name = error?.name || '';
  if (/WebGPUNotAvailable/i.test(name) || /WebGPU is not (available|supported)/i.test(text)) {
    return 'This window has no WebGPU, so it cannot run GPU models. Choose a CPU model.';
  }
  if (/compatible GPU/i.test(text)) {
    return 'WebGPU found no graphics adapter it can use. Update your graphics driver or choose a CPU model.';
  }
  if (/ShaderF16/i.test(name) || /shader-f16/i.test(text)) {
    return 'This model needs 16-bit float shaders (shader-f16), which this GPU does not offer. Choose its q4f32 version.';
  }
  const missing = /Missing model file: (\S+)/.exec(text);
  if (missing) {
    const file = decodeURIComponent(missing[1].split('/').pop());
    const what = file.endsWith('.wasm') ? 'The model library' : 'A file of this model';
    return `${what} (${file}) is missing from the model store. Download or import “${model.name}” again.`;
  }
  if (/CompileError|magic word|wasm|LinkError/i.test(name + ' ' + text)) {
    return `The model library of “${model.name}” is damaged and cannot run. Download or import the model again.`;
  }
  if (/out of memory|OOM|allocation/i.test(text)) {
    return `There is not enough memory to load “${model.name}”. Close other programs or choose a smaller model.`;
  }
  return `“${model.name}” could not be loaded: ${text.split('\n')[0]}`;
}

export function isAbort(error) {
  return error?.name === 'AbortError' || error?.name === 'WllamaAbortError' || /abort/i.test(String(error?.message));
}
