// Pure functions of the page, run by Node's test runner (`./dev lint`): no browser, no model.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { gpuFit } from '../src/gpu.js';
import { splitIntoParts } from '../src/summarize.js';

const words = async (text) => text.split(/\s+/).filter(Boolean).length;

test('splitIntoParts keeps every word, in order, within the budget', async () => {
  const paragraphs = Array.from({ length: 30 }, (_, i) => `Paragraph ${i} has exactly six words.`);
  const text = paragraphs.join('\n\n');
  const parts = await splitIntoParts(text, 40, words);
  assert.ok(parts.length > 1);
  for (const part of parts) assert.ok((await words(part)) <= 40);
  assert.equal(parts.join(' ').split(/\s+/).join(' '), text.split(/\s+/).join(' '));
});

test('splitIntoParts cuts a paragraph longer than the budget at sentences, then words', async () => {
  const sentence = 'one two three four five six seven eight nine ten eleven twelve.';
  const parts = await splitIntoParts(`${sentence} ${sentence}`, 8, words);
  assert.ok(parts.length >= 3);
  for (const part of parts) assert.ok((await words(part)) <= 8);
});

const swiftshader = {
  available: true, features: [], isFallbackAdapter: true,
  limits: { maxBufferSize: 1 << 30, maxStorageBufferBindingSize: 1 << 30 },
};

test('gpuFit refuses f16 models on an adapter without shader-f16, naming the f32 version', () => {
  const fit = gpuFit(swiftshader, { required_features: ['shader-f16'] });
  assert.equal(fit.ok, false);
  assert.match(fit.reason, /shader-f16/);
  assert.match(fit.fix, /q4f32/);
});

test('gpuFit says a window without WebGPU cannot run GPU models, and what to do', () => {
  const fit = gpuFit({ available: false, problem: 'no-webgpu' }, {}, { host: 'webview', browser: 'chromium' });
  assert.equal(fit.ok, false);
  assert.match(fit.reason, /no WebGPU/);
  assert.match(fit.fix, /browser/);
});

test('gpuFit runs a model on a software adapter but says it is slow and what to pick', () => {
  const fit = gpuFit({ ...swiftshader, vendor: 'google', architecture: 'swiftshader', description: '' }, {});
  assert.equal(fit.ok, true);
  assert.equal(fit.slow, true);
  assert.match(fit.reason, /software/);
  assert.match(fit.fix, /CPU model/);
  const hardware = { ...swiftshader, isFallbackAdapter: false, vendor: 'nvidia', architecture: 'ampere', description: '' };
  assert.deepEqual(gpuFit(hardware, {}), { ok: true });
});

test('gpuFit blames the window, not the driver, for Qt\'s webview on Linux', () => {
  const fit = gpuFit({ available: false, problem: 'no-adapter' }, {}, { host: 'webview', os: 'Linux', browser: 'chromium' });
  assert.equal(fit.ok, false);
  assert.doesNotMatch(`${fit.reason} ${fit.fix}`, /driver/);
  assert.match(fit.fix, /browser/);
});
