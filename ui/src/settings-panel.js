// The settings panel: one field per setting of the schema Python describes; each change is
// validated by Python, and a refused value shows its reason next to its field.
import { bridge } from './bridge.js';
import { confirmAction } from './confirm.js';
import { copyText } from './clipboard.js';

/** The models a user can start with, by name; one that is gone stays listed as such. */
function modelSelect(models, value) {
  const field = document.createElement('select');
  for (const model of models) field.append(new Option(model.name, model.id));
  if (value && !models.some((m) => m.id === value)) field.append(new Option(`${value} (not installed)`, value));
  field.value = value;
  return field;
}

/** Values the app chooses itself (ports): shown as text, never as a box to type in. */
function chosenValue(spec, value) {
  const field = document.createElement('output');
  field.textContent = value ? String(value) : 'not chosen yet (the app picks one when it needs it)';
  return field;
}

function input(spec, value, models) {
  let field;
  if (spec.readonly && !spec.file_only) {
    field = chosenValue(spec, value);
  } else if (spec.type === 'model') {
    field = modelSelect(models, value);
  } else if (spec.type === 'choice') {
    field = document.createElement('select');
    for (const choice of spec.choices) field.append(new Option(choice, choice));
    field.value = value;
  } else if (spec.type === 'longtext' || spec.type === 'flags') {
    field = document.createElement('textarea');
    field.rows = spec.type === 'flags' ? 2 : 4;
    field.value = spec.type === 'flags' ? value.join('\n') : value;
  } else if (spec.type === 'boolean') {
    field = document.createElement('input');
    field.type = 'checkbox';
    field.checked = value;
  } else if (spec.type === 'secret') {
    field = document.createElement('input');
    field.type = 'text';
    field.autocomplete = 'off';
    field.spellcheck = false;
    field.placeholder = 'made for you when it is first needed';
    field.value = value;
  } else {
    field = document.createElement('input');
    field.type = spec.type === 'integer' || spec.type === 'number' ? 'number' : 'text';
    if (spec.type === 'number') field.step = 'any';
    field.value = value;
  }
  field.name = spec.name;
  field.readOnly = Boolean(spec.readonly);
  return field;
}

/** Show `value` in a field made by input(). */
function show(spec, field, value) {
  if (field.tagName === 'OUTPUT') field.replaceWith(Object.assign(chosenValue(spec, value), { name: spec.name }));
  else if (spec.type === 'boolean') field.checked = value;
  else if (spec.type === 'flags') field.value = value.join('\n');
  else field.value = value;
}

function read(spec, field) {
  if (spec.type === 'boolean') return field.checked;
  if (spec.type === 'flags') return field.value.split('\n').map((f) => f.trim()).filter(Boolean);
  if (spec.type === 'integer' || spec.type === 'number') {
    return field.value.trim() === '' || Number.isNaN(Number(field.value)) ? field.value : Number(field.value);
  }
  return field.value;
}

export class SettingsPanel {
  constructor(dialog, onSaved) {
    this.dialog = dialog;
    this.onSaved = onSaved;
    this.fields = dialog.querySelector('#settings-fields');
    this.message = dialog.querySelector('#settings-message');
    dialog.querySelector('#settings-form').addEventListener('submit', (e) => { e.preventDefault(); this.save(); });
    dialog.querySelector('#settings-cancel').addEventListener('click', () => dialog.close());
    dialog.querySelector('#settings-reset').addEventListener('click', () => this.reset());
    dialog.querySelector('#open-data-folder').addEventListener('click', () => bridge.openFolder('data'));
    dialog.querySelector('#open-logs-folder').addEventListener('click', () => bridge.openFolder('logs'));
  }

  async open(info, models = []) {
    const { values, schema } = await bridge.settings();
    this.values = values;
    this.schema = schema;
    this.dialog.querySelector('#data-folder').textContent = info.folders.data;
    this.message.textContent = '';
    this.fields.replaceChildren(...schema.map((spec) => {
      const label = document.createElement('label');
      label.dataset.field = spec.name;
      const title = document.createElement('span');
      title.textContent = spec.label;
      const doc = document.createElement('span');
      doc.className = 'doc';
      doc.textContent = spec.file_only
        ? `${spec.doc} It names a program or its command line, so it can only be changed in the settings file (${info.folders.config}/settings.json) or on the command line.`
        : spec.doc;
      const error = document.createElement('span');
      error.className = 'field-error';
      error.setAttribute('role', 'alert');
      label.append(title, input(spec, values[spec.name], models), doc, error);
      return label;
    }));
    this.fields.append(this.apiLine(values));
    this.dialog.showModal();
  }

  /** Where other programs reach the local API, with the key to copy. */
  apiLine(values) {
    const line = document.createElement('p');
    line.id = 'api-details';
    line.className = 'note';
    if (!values.api_enabled || !values.api_port) {
      line.textContent = 'Local API is off. Turn it on above, save, and its address and key appear here.';
      return line;
    }
    const url = `http://127.0.0.1:${values.api_port}/v1`;
    line.textContent = `Local API: base URL ${url} · key ${values.api_key} `;
    const copy = document.createElement('button');
    copy.type = 'button';
    copy.textContent = 'Copy both';
    copy.addEventListener('click', () => copyText(
      `OPENAI_BASE_URL=${url}\nOPENAI_API_KEY=${values.api_key}\n`, copy));
    line.append(copy);
    return line;
  }

  /** Everything changed goes in one request; a value the app refuses is marked at its field
   *  and left out, and the rest is sent again, so valid changes are kept. */
  async save() {
    this.message.textContent = '';
    const changes = {};
    const marks = {};
    for (const spec of this.schema) {
      const label = this.fields.querySelector(`[data-field="${spec.name}"]`);
      const field = label.querySelector('[name]');
      const error = label.querySelector('.field-error');
      const value = read(spec, field);
      error.textContent = '';
      field.removeAttribute('aria-invalid');
      if (spec.readonly || JSON.stringify(value) === JSON.stringify(this.values[spec.name])) continue;
      changes[spec.name] = value;
      marks[spec.name] = { field, error };
    }
    const refusedNames = new Set();
    let saved = 0;
    while (Object.keys(changes).length) {
      try {
        this.values = await bridge.updateSettings(changes);
        saved = Object.keys(changes).length;
        break;
      } catch (problem) {
        const name = problem.field in changes ? problem.field : Object.keys(changes)[0];
        marks[name].error.textContent = `${this.schema.find((spec) => spec.name === name).label} ${problem.message}.`;
        marks[name].field.setAttribute('aria-invalid', 'true');
        delete changes[name];
        refusedNames.add(name);
      }
    }
    // The fields show what is saved now, including what the app chose itself (the local API's
    // port and key); refused ones keep what the user typed, next to the reason.
    for (const spec of this.schema) {
      if (refusedNames.has(spec.name)) continue;
      const field = this.fields.querySelector(`[data-field="${spec.name}"] [name]`);
      show(spec, field, this.values[spec.name]);
    }
    this.fields.querySelector('#api-details')?.replaceWith(this.apiLine(this.values));
    const refused = refusedNames.size;
    this.message.textContent = refused
      ? `${refused} setting${refused > 1 ? 's were' : ' was'} not saved; see the messages above.`
      : saved ? 'Saved. Window and port changes apply at the next start.' : 'Nothing changed.';
    this.onSaved(this.values);
  }

  async reset() {
    if (!await confirmAction('Put every setting back to its default?', 'Reset')) return;
    this.values = await bridge.resetSettings();
    this.onSaved(this.values);
    this.dialog.close();
  }
}
