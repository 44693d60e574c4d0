// What this window's WebGPU can do, and whether a GPU model can run on it, in plain words.

export async function probeWebGPU() {
  if (!('gpu' in navigator)) {
    return { available: false, problem: 'no-webgpu' };
  }
  let adapter = null;
  try {
    adapter = await navigator.gpu.requestAdapter({ powerPreference: 'high-performance' });
  } catch {
    adapter = null;
  }
  if (!adapter) return { available: false, problem: 'no-adapter' };
  const info = adapter.info || {};
  return {
    available: true,
    vendor: info.vendor || '',
    architecture: info.architecture || '',
    description: info.description || '',
    isFallbackAdapter: Boolean(adapter.isFallbackAdapter ?? info.isFallbackAdapter),
    features: [...adapter.features].sort(),
    limits: {
      maxBufferSize: adapter.limits.maxBufferSize,
      maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
    },
  };
}

const MB = 1024 * 1024;

/** Chromium's software WebGPU (SwiftShader), the only adapter on a machine without a GPU. */
export function isSoftwareAdapter(report) {
  if (!report.available) return false;
  const names = `${report.vendor} ${report.architecture} ${report.description}`.toLowerCase();
  return report.isFallbackAdapter || names.includes('swiftshader');
}

/**
 * Can this GPU run this WebLLM model record? Returns {ok}, {ok: true, slow: true, reason, fix}
 * (it runs, on a software GPU only), or {ok: false, reason, fix}.
 * context: {host, browser, os} from the app, to say what the user can do instead.
 */
export function gpuFit(report, record, context = {}) {
  const elsewhere = context.host === 'webview' && context.browser
    ? 'Reopen the app in your browser (one click, above) to use GPU models, or choose a CPU model.'
    : 'Choose a CPU model (GGUF), or use a browser with WebGPU such as Chrome or Edge.';
  if (!report.available && report.problem === 'no-webgpu') {
    return { ok: false, reason: 'This window has no WebGPU, so it cannot run GPU models.', fix: elsewhere };
  }
  if (!report.available && context.host === 'webview' && context.os === 'Linux') {
    // Qt's webview on Linux is built without WebGPU's GPU side: no driver update can help.
    return { ok: false, reason: 'This window cannot use the graphics card (Qt\'s webview has no WebGPU adapter on Linux).', fix: elsewhere };
  }
  if (!report.available) {
    return {
      ok: false,
      reason: 'WebGPU is here, but it found no graphics adapter it can use.',
      fix: `Update your graphics driver. ${elsewhere}`,
    };
  }
  const required = record.required_features || [];
  const missing = required.filter((feature) => !report.features.includes(feature));
  if (missing.includes('shader-f16')) {
    return {
      ok: false,
      reason: 'This model needs 16-bit float shaders (shader-f16), which this GPU does not offer.',
      fix: 'Choose the q4f32 version of this model instead.',
    };
  }
  if (missing.length) {
    return { ok: false, reason: `This GPU lacks features the model needs: ${missing.join(', ')}.`, fix: elsewhere };
  }
  const needed = record.buffer_size_required_bytes || 0;
  const allowed = Math.min(report.limits.maxBufferSize, report.limits.maxStorageBufferBindingSize);
  if (needed > allowed) {
    return {
      ok: false,
      reason: `This model needs GPU buffers of ${Math.ceil(needed / MB)} MB; this GPU allows ${Math.floor(allowed / MB)} MB.`,
      fix: 'Choose a smaller model.',
    };
  }
  if (isSoftwareAdapter(report)) {
    return {
      ok: true,
      slow: true,
      reason: 'The only GPU here is a software one (SwiftShader, on the processor): this would be very slow.',
      fix: 'Pick a CPU model.',
    };
  }
  return { ok: true };
}
