// The Diagnostics panel: the same facts as `desktop-llm doctor`, plus this window's own WebGPU.
import { bridge } from './bridge.js';

function row(name, value, problem = false) {
  const tr = document.createElement('tr');
  const th = document.createElement('th');
  th.textContent = name;
  const td = document.createElement('td');
  td.textContent = value;
  if (problem) td.className = 'problem';
  tr.append(th, td);
  return tr;
}

function describeGpu(report) {
  if (!report.available) {
    return report.problem === 'no-webgpu' ? 'none: this window has no WebGPU' : 'none: WebGPU found no adapter';
  }
  return `${report.vendor} ${report.architecture} ${report.description}`.trim()
    + `; shader-f16 ${report.features.includes('shader-f16') ? 'yes' : 'no'}`
    + `; max buffer ${Math.floor(report.limits.maxBufferSize / 2 ** 20)} MB`;
}

export async function showDiagnostics(dialog, gpu, info) {
  const body = dialog.querySelector('#diagnostics-body');
  dialog.showModal();
  const { facts, problems } = await bridge.doctor();
  facts.webgpu = { [info.host]: gpu };
  const table = document.createElement('table');
  const web = facts.webview;
  table.append(
    row('System', `${facts.os.system} ${facts.os.release} (${facts.os.machine})`),
    row('App', `Desktop LLM ${facts.app.version}, Python ${facts.app.python}`),
    row('This window', info.host === 'webview'
      ? `webview: ${web.engine}${web.chromium ? ` ${web.qt} (Chromium ${web.chromium})` : ''}`
      : `browser: ${navigator.userAgent.match(/(Chrome|Edg)\/[\d.]+/)?.[0] || navigator.userAgent}`),
    row('WebGPU here', describeGpu(gpu), !gpu.available),
    row('GGUF models run on', facts.cpu_engine.runs_on),
    row('Browsers found', Object.keys(facts.browsers.found).join(', ') || 'none', !facts.browsers.chosen),
    row('Free disk', `${(facts.disk.free_bytes / 1e9).toFixed(1)} GB in ${facts.disk.folder}`),
    ...facts.models.map((m) => row(`Model ${m.id}`,
      `${m.format}, ${(m.size / 1e6).toFixed(0)} MB, ${m.verified === true ? 'verified' : m.verified === false ? `DAMAGED: ${m.detail}` : 'not verifiable'}`,
      m.verified === false)),
  );
  const list = document.createElement('ul');
  for (const p of problems) {
    const li = document.createElement('li');
    li.textContent = `${p.problem} Fix: ${p.fix}`;
    list.append(li);
  }
  const summary = document.createElement('p');
  summary.textContent = problems.length ? 'Problems and their fixes:' : 'No problems found.';
  body.replaceChildren(table, summary, list);
  dialog.dataset.facts = JSON.stringify({ facts, problems }, null, 2);
}
