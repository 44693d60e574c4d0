// Settings → Engines: the OpenAI-compatible servers the app may use (llama.cpp's server, vLLM,
// Ollama, MLC-LLM serve, LM Studio, Jan…). Add, edit, test, remove. Python keeps the keys; this
// panel only learns whether a server has one.
import { bridge } from './bridge.js';

export class EnginesPanel {
  /** onChange(servers): the servers and their models, whenever they were listed anew. */
  constructor(dialog, onChange) {
    this.dialog = dialog;
    this.onChange = onChange;
    this.list = dialog.querySelector('#engines-list');
    this.form = dialog.querySelector('#engine-form');
    this.message = dialog.querySelector('#engine-message');
    this.editing = '';
    this.form.addEventListener('submit', (e) => { e.preventDefault(); this.save(); });
    dialog.querySelector('#engine-test').addEventListener('click', () => this.test());
    dialog.querySelector('#engine-clear').addEventListener('click', () => this.edit(null));
    dialog.querySelector('#engines-close').addEventListener('click', () => dialog.close());
  }

  async open() {
    this.edit(null);
    this.dialog.showModal();
    await this.refresh();
  }

  async refresh() {
    this.list.replaceChildren(Object.assign(document.createElement('li'), { textContent: 'Asking the servers…' }));
    const { servers } = await bridge.engines.list();
    this.servers = servers;
    this.onChange(servers); // the model picker shows what was just listed
    if (!servers.length) {
      this.list.replaceChildren(Object.assign(document.createElement('li'), {
        className: 'note', textContent: 'No servers yet. Add one below to use its models beside the ones on this computer.',
      }));
      return servers;
    }
    this.list.replaceChildren(...servers.map((server) => this.row(server)));
    return servers;
  }

  row(server) {
    const li = document.createElement('li');
    li.dataset.server = server.id;
    const name = document.createElement('strong');
    name.textContent = server.name;
    const detail = document.createElement('span');
    detail.className = 'note';
    detail.textContent = ` ${server.base_url}${server.has_key ? ' · key set' : ''}`;
    const state = document.createElement('div');
    state.className = server.error ? 'field-error' : 'note';
    state.dataset.role = 'state';
    state.textContent = server.error || `${server.models.length} model${server.models.length === 1 ? '' : 's'}: ${server.models.map((m) => m.id).join(', ')}`;
    const edit = button('Edit', () => this.edit(server));
    const remove = button('Remove', async () => {
      await bridge.engines.remove(server.id);
      await this.refresh();
    });
    li.append(name, detail, state, edit, remove);
    return li;
  }

  edit(server) {
    this.editing = server?.id || '';
    const f = this.form.elements;
    f.name.value = server?.name || '';
    f.base_url.value = server?.base_url || '';
    f.api_key.value = '';
    f.api_key.placeholder = server?.has_key ? 'A key is set; type to replace it' : 'Optional';
    f.context_window.value = server?.context_window || 0;
    this.dialog.querySelector('#engine-form-title').textContent = server ? `Edit ${server.name}` : 'Add a server';
    this.message.textContent = '';
    for (const error of this.form.querySelectorAll('.field-error')) error.textContent = '';
  }

  fields() {
    const f = this.form.elements;
    const fields = {
      name: f.name.value, base_url: f.base_url.value, context_window: Number(f.context_window.value) || 0,
    };
    // An empty key field while editing keeps the saved key.
    if (f.api_key.value || !this.editing) fields.api_key = f.api_key.value;
    return fields;
  }

  async test() {
    this.message.textContent = 'Connecting…';
    const { base_url: baseUrl, api_key: apiKey } = this.fields();
    try {
      const result = await bridge.engines.test({ id: this.editing, base_url: baseUrl, api_key: apiKey ?? null });
      this.message.textContent = result.ok
        ? `Connected: ${result.models.length} model${result.models.length === 1 ? '' : 's'} (${result.models.map((m) => m.id).join(', ')}).`
        : result.error;
    } catch (error) {
      this.showError(error);
    }
  }

  async save() {
    for (const error of this.form.querySelectorAll('.field-error')) error.textContent = '';
    try {
      const fields = this.fields();
      if (this.editing) await bridge.engines.update({ id: this.editing, ...fields });
      else await bridge.engines.add(fields);
      this.edit(null);
      this.message.textContent = 'Saved.';
      await this.refresh();
    } catch (error) {
      this.showError(error);
    }
  }

  showError(error) {
    const at = error.field && this.form.querySelector(`[data-error="${error.field}"]`);
    if (at) {
      at.textContent = error.message;
      this.message.textContent = '';
    } else {
      this.message.textContent = error.message;
    }
  }
}

function button(label, run) {
  const b = document.createElement('button');
  b.type = 'button';
  b.textContent = label;
  b.addEventListener('click', run);
  return b;
}

/** The page's model entries for every server's models ({engine: 'remote'}). */
export function remoteModels(servers) {
  return servers.flatMap((server) => server.models.map((m) => ({
    id: `remote:${server.id}:${m.id}`,
    name: m.id,
    engine: 'remote',
    server: server.id,
    server_name: server.name,
    remote_model: m.id,
    context_window: server.context_window || m.context_window,
  })));
}
