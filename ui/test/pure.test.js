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

test('describeLength counts characters for text written without spaces, words otherwise', async () => {
  const { describeLength } = await import('../src/documents.js');
  const chinese = '北京是中国的首都。上海是中国最大的城市。';
  assert.equal(describeLength({ text: chinese, words: 1 }), `${chinese.length} characters`);
  assert.equal(describeLength({ text: 'one two three', words: 3 }), '3 words');
  assert.equal(describeLength({ text: 'alone', words: 1 }), '1 word');
});

// An engine that answers from a script, standing in for a model that writes nothing (which the
// built-in model does only on inputs too slow to reproduce in a unit test).
function scriptedEngine(answers) {
  const asked = [];
  return {
    asked,
    contextSize: 4096,
    parallel: 1,
    countTokens: async (text) => Math.ceil(text.length / 4),
    async *stream(messages, options) {
      asked.push(options);
      const answer = answers.shift() ?? '';
      if (answer) yield answer;
    },
  };
}

const summaryJob = (engine) => import('../src/summarize.js').then(({ summarizeDocument }) => summarizeDocument(
  { name: 'doc.txt', text: 'A short document about rivers.' },
  { length: 'short', form: 'paragraph', language: '', instruction: '', sampling: { temperature: 0, top_p: 1, frequency_penalty: 0.3 } },
  engine,
  { signal: new AbortController().signal, onProgress: () => {}, onFinalPiece: () => {} },
));

test('an empty summary is asked again, sampled, and never returned as a summary', async () => {
  const retried = scriptedEngine(['', 'Rivers.']);
  assert.equal((await summaryJob(retried)).summary, 'Rivers.');
  assert.equal(retried.asked[0].temperature, 0);
  assert.equal(retried.asked[0].frequency_penalty, 0.3); // the summary's own penalty reaches the engine
  assert.ok(retried.asked[1].temperature > 0);
  await assert.rejects(summaryJob(scriptedEngine(['', '  '])), /wrote nothing/);
});

test('Pace says nothing before a measurement, then the time left from measured rates', async () => {
  const { Pace } = await import('../src/summarize.js');
  const pace = new Pace();
  assert.equal(pace.secondsFor(1000, 100), null);
  pace.record(2000, 10, 99, 5); // read 2,000 tokens in 10 s; wrote 99 more in 5 s
  assert.equal(pace.secondsFor(1000, 99), 5 + 5);
  assert.equal(pace.averageAnswer, 100);
});
