// The model list: what is on this computer, what can be downloaded and whether this machine can
// run it, downloads with progress, delete, verify, and adding models the user already has.
// Everything is rendered with textContent: names and errors come from files and servers.
import { bridge } from './bridge.js';
import { gpuFit } from './gpu.js';
import { confirmAction } from './confirm.js';
import { useNative } from './engines/index.js';

const MB = 1e6;

export function formatBytes(bytes) {
  if (bytes >= 1e9) return `${(bytes / 1e9).toFixed(2)} GB`;
  return `${(bytes / MB).toFixed(1)} MB`;
}

function formatSeconds(seconds) {
  if (seconds >= 3600) return `${Math.floor(seconds / 3600)} h ${Math.round((seconds % 3600) / 60)} min`;
  if (seconds >= 60) return `${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s`;
  return `${Math.max(1, Math.round(seconds))} s`;
}

/** "120.0 MB of 500.0 MB · 35.2 MB/s · about 11 s left" */
export function describeTransfer(progress) {
  const parts = [`${formatBytes(progress.done)} of ${formatBytes(progress.total)}`];
  if (progress.note) return [...parts, progress.note].join(' · ');
  if (progress.speed > 0) parts.push(`${formatBytes(progress.speed)}/s`);
  if (progress.eta !== null && progress.eta !== undefined) parts.push(`about ${formatSeconds(progress.eta)} left`);
  return parts.join(' · ');
}

/**
 * Can this machine run a catalog entry? {ok} or {ok: false, reason, fix, suggest}, where suggest is
 * the id of the closest model that fits.
 */
export function modelFit(entry, all, gpu, info, memoryTotal) {
  let gpuResult = { ok: true };
  if (entry.engine === 'webllm') {
    const record = { required_features: entry.required_features, buffer_size_required_bytes: entry.webllm?.buffer_size_required_bytes };
    const fit = gpuFit(gpu, record, info);
    gpuResult = fit;
    if (!fit.ok) {
      const missingF16 = gpu.available && entry.required_features.includes('shader-f16') && !gpu.features.includes('shader-f16');
      const suggest = missingF16 ? entry.alternative : closest(entry, all.filter((e) => e.engine === 'wllama'));
      return { ...fit, suggest };
    }
  }
  if (memoryTotal && entry.memory_mb * 2 ** 20 > memoryTotal * 0.75) {
    const smaller = all.filter((e) => e.engine === entry.engine && e.memory_mb * 2 ** 20 <= memoryTotal * 0.75);
    return {
      ok: false,
      reason: `It needs about ${formatBytes(entry.memory_mb * 2 ** 20)} of memory; this computer has ${formatBytes(memoryTotal)}.`,
      fix: 'Choose a smaller model.',
      suggest: closest(entry, smaller),
    };
  }
  return gpuResult; // {ok: true}, or {ok: true, slow: true, ...} on a software GPU
}

/** Which engine runs a model here. */
export function runsOn(model, info, settings) {
  if (model.engine === 'webllm') return 'WebLLM (WebGPU)';
  if (useNative(settings, Boolean(info.native_engine))) return 'llama.cpp native (CPU)';
  return 'wllama, in the window (CPU)';
}

function closest(entry, candidates) {
  let best = null;
  for (const candidate of candidates) {
    const distance = Math.abs(candidate.download_size - entry.download_size);
    if (!best || distance < best.distance) best = { id: candidate.id, distance };
  }
  return best?.id || '';
}

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function button(label, onClick, className = '') {
  const node = element('button', className, label);
  node.type = 'button';
  node.addEventListener('click', onClick);
  return node;
}

export class ModelsPanel {
  /** getContext(): {gpu, info, models} of the page; onChange(): the installed models changed,
   * the page re-reads them (and its model picker) before the panel redraws. */
  constructor(dialog, { getContext, onChange, onUse }) {
    this.dialog = dialog;
    this.getContext = getContext;
    this.onChange = onChange;
    this.onUse = onUse;
    this.data = null;
    this.progress = {};
    this.$ = (id) => dialog.querySelector(`#${id}`);
    this.$('models-close').addEventListener('click', () => dialog.close());
    this.$('import-gguf').addEventListener('click', () => this.importChosen('model-file'));
    this.$('import-mlc').addEventListener('click', () => this.importChosen('model-folder'));
    this.acceptDrops(this.$('models-drop'));
  }

  async open() {
    this.dialog.showModal();
    await this.refresh();
  }

  async refresh() {
    this.data = await bridge.catalog();
    Object.assign(this.progress, this.data.downloads);
    this.render();
  }

  say(text) {
    this.$('models-message').textContent = text;
  }

  /** Models came or went, maybe from another process (event "models"). */
  async onStoreChanged() {
    await this.onChange();
    if (this.dialog.open) await this.refresh();
  }

  /** A download's progress, pushed by Python (event "download"). */
  async onProgress(progress) {
    this.progress[progress.model_id] = progress;
    if (progress.state === 'done') {
      this.say(`${this.nameOf(progress.model_id)} is ready to use.`);
      await this.onChange();
      if (this.dialog.open) await this.refresh();
      return;
    }
    if (progress.state === 'failed') this.say(progress.error);
    if (progress.state === 'cancelled') this.say(`The download of ${this.nameOf(progress.model_id)} was cancelled.`);
    if (progress.state === 'stopped') this.say(`The download of ${this.nameOf(progress.model_id)} stopped; it resumes where it left off.`);
    if (!this.dialog.open || !this.data) return;
    if (progress.state === 'downloading' || progress.state === 'verifying') {
      const row = this.dialog.querySelector(`li[data-id="${CSS.escape(progress.model_id)}"]`);
      if (row) this.updateTransfer(row, progress);
      else this.render();
    } else {
      await this.refresh();
    }
  }

  nameOf(id) {
    return this.data?.available.find((e) => e.id === id)?.name || id;
  }

  render() {
    const { disk, available, memory_total: memoryTotal } = this.data;
    const { gpu, info, models, settings } = this.getContext();
    this.$('models-disk').textContent =
      `Models use ${formatBytes(disk.total)} in ${disk.folder} · ${formatBytes(disk.free)} free on that disk.`;
    this.$('models-installed').replaceChildren(
      ...models.map((model) => this.installedRow(model, disk, runsOn(model, info, settings))));
    // What runs here first, then what runs slowly, then what cannot run here.
    const rank = (fit) => (!fit.ok ? 2 : fit.slow ? 1 : 0);
    const rows = available.filter((e) => !e.installed)
      .map((entry) => ({ entry, fit: modelFit(entry, available, gpu, info, memoryTotal) }))
      .sort((a, b) => rank(a.fit) - rank(b.fit));
    this.$('models-available').replaceChildren(...rows.map(({ entry, fit }) => this.availableRow(entry, fit)));
  }

  installedRow(model, disk, engine) {
    const row = element('li', 'model-row');
    row.dataset.id = model.id;
    const title = element('strong', '', model.name);
    title.append(element('span', 'badge', model.engine === 'webllm' ? 'GPU' : 'CPU'));
    if (model.embedded) title.append(element('span', 'badge', 'built in'));
    const actions = element('span', 'actions');
    actions.append(
      button('Use', () => { this.dialog.close(); this.onUse(model.id); }),
      button('Verify', async () => {
        this.say(`Checking ${model.name}…`);
        const { problems } = await bridge.verifyModel(model.id);
        this.say(problems.length ? `${model.name}: ${problems.join('; ')}. Delete it and download it again.`
          : `${model.name}: every file matches its hash.`);
      }),
    );
    if (!model.embedded) {
      actions.append(button('Delete', async () => {
        if (!await confirmAction(`Delete ${model.name} (${formatBytes(disk.models[model.id] || model.size)})?`)) return;
        try {
          const { freed, kept_linked: keptLinked } = await bridge.deleteModel(model.id);
          this.say(`Deleted ${model.name}: ${formatBytes(freed)} freed.`
            + (keptLinked ? ` ${formatBytes(keptLinked)} stay on the disk as the original files it was imported from.` : ''));
          await this.onChange();
          await this.refresh();
        } catch (error) {
          this.say(error.message);
        }
      }, 'danger'));
    }
    row.append(title, actions, element('span', 'facts', `${formatBytes(disk.models[model.id] || model.size)} on disk`
      + ` · context ${model.context_window.toLocaleString()} tokens${model.license ? ` · ${model.license}` : ''}`
      + ` · runs on ${engine}`));
    return row;
  }

  availableRow(entry, fit) {
    const row = element('li', 'model-row');
    row.dataset.id = entry.id;
    row.dataset.fit = !fit.ok ? 'no' : fit.slow ? 'slow' : 'yes';
    const title = element('strong', '', entry.name);
    title.append(element('span', 'badge', entry.engine === 'webllm' ? 'GPU' : 'CPU'));
    const actions = element('span', 'actions');
    const progress = this.progress[entry.id];
    const active = progress && (progress.state === 'downloading' || progress.state === 'verifying');
    if (active) {
      actions.append(button('Cancel', () => bridge.cancelDownload(entry.id)));
    } else {
      actions.append(button(entry.partial ? 'Resume download' : 'Download', async () => {
        try {
          await bridge.downloadModel(entry.id);
          this.say(`Downloading ${entry.name}…`);
        } catch (error) {
          this.say(error.message);
        }
      }, 'primary'));
      if (entry.partial) {
        actions.append(button('Discard', async () => {
          try {
            const { freed } = await bridge.cancelDownload(entry.id);
            this.say(`Discarded the unfinished download of ${entry.name}: ${formatBytes(freed)} freed.`);
          } catch (error) {
            this.say(error.message);
          }
        }));
      }
    }
    row.append(title, actions, element('span', 'facts',
      `about ${formatBytes(entry.download_size)} download · needs about ${formatBytes(entry.memory_mb * 2 ** 20)} of memory`
      + ` · context ${entry.context_window.toLocaleString()} tokens · ${entry.license}`));
    const fitLine = element('span', `fit ${row.dataset.fit}`, !fit.ok ? `Cannot run here: ${fit.reason} ${fit.fix}`
      : fit.slow ? `Runs here, but slowly: ${fit.reason} ${fit.fix}` : 'Runs on this computer.');
    if (!fit.ok && fit.suggest) {
      const target = this.data.available.find((e) => e.id === fit.suggest);
      if (target) {
        fitLine.append(' ', button(`Show ${target.name}`, () => {
          const other = this.dialog.querySelector(`li[data-id="${CSS.escape(target.id)}"]`);
          other?.scrollIntoView({ block: 'center' });
          other?.classList.add('highlight');
        }, 'link'));
      }
    }
    row.append(fitLine);
    if (active) this.updateTransfer(row, progress);
    return row;
  }

  updateTransfer(row, progress) {
    let bar = row.querySelector('progress');
    let text = row.querySelector('.transfer');
    if (!bar) {
      bar = element('progress');
      text = element('span', 'transfer');
      row.append(bar, text);
      const actions = row.querySelector('.actions');
      actions.replaceChildren(button('Cancel', () => bridge.cancelDownload(progress.model_id)));
    }
    bar.max = progress.total || 1;
    bar.value = progress.done;
    text.textContent = progress.state === 'verifying' ? 'Checking the files…' : describeTransfer(progress);
  }

  async importChosen(kind) {
    try {
      const { imported } = await bridge.importModel(kind);
      if (imported.length) await this.imported(imported);
    } catch (error) {
      this.say(error.message);
    }
  }

  async imported(models) {
    this.say(`Added ${models.map((m) => m.name).join(', ')}.`);
    await this.onChange();
    await this.refresh();
  }

  acceptDrops(zone) {
    zone.addEventListener('dragover', (event) => { event.preventDefault(); zone.classList.add('over'); });
    zone.addEventListener('dragleave', () => zone.classList.remove('over'));
    zone.addEventListener('drop', async (event) => {
      event.preventDefault();
      zone.classList.remove('over');
      const names = [...(event.dataTransfer?.files || [])].map((f) => f.name);
      if (!names.length) return;
      try {
        const { imported } = await bridge.importDroppedModel(names);
        await this.imported(imported);
      } catch (error) {
        this.say(error.message);
      }
    });
  }
}
