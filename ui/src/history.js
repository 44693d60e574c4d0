// The sidebar: conversations kept by Python (SQLite), with search, rename, delete and export.
import { bridge } from './bridge.js';

export class HistorySidebar {
  constructor({ list, search, onOpen, onExport, beforeSwitch = async () => {} }) {
    this.beforeSwitch = beforeSwitch; // settles an answer still being written, in its own conversation
    this.list = list;
    this.search = search;
    this.onOpen = onOpen;
    this.onExport = onExport;
    this.current = null; // id of the conversation on screen
    this.switching = null; // a change of conversation under way
    this.pending = Promise.resolve(); // writes happen in order
    let timer = null;
    search.addEventListener('input', () => {
      clearTimeout(timer);
      timer = setTimeout(() => this.refresh(), 150);
    });
  }

  /** Keep a message of the conversation on screen, creating the conversation first if new. */
  record(role, content, { title, kind = 'chat', model, documentName, sampling } = {}) {
    this.pending = this.pending.then(async () => {
      if (this.current === null) {
        const created = await bridge.history.create({
          title: title || content.slice(0, 80), kind, model, document_name: documentName, sampling,
        });
        this.current = created.id;
      }
      await bridge.history.add(this.current, role, content);
      await this.refresh();
    }).catch((error) => console.error('history', error));
    return this.pending;
  }

  async startNew() {
    this.switching = (async () => {
      await this.beforeSwitch();
      await this.pending;
      this.current = null;
    })();
    await this.switching;
    this.refresh();
  }

  /** Resolves once a switch of conversation under way is done: send only after it. */
  ready() {
    return this.switching || Promise.resolve();
  }

  async refresh() {
    const conversations = await bridge.history.list(this.search.value);
    this.list.replaceChildren(...conversations.map((c) => this.item(c)));
  }

  item(conversation) {
    const li = document.createElement('li');
    li.dataset.id = conversation.id;
    if (conversation.id === this.current) li.setAttribute('aria-current', 'true');
    const open = document.createElement('button');
    open.type = 'button';
    open.className = 'open';
    open.textContent = conversation.title;
    const when = document.createElement('small');
    when.textContent = `${conversation.kind === 'summary' ? 'Summary · ' : ''}${new Date(conversation.updated_at * 1000).toLocaleString()}`;
    open.append(when);
    open.addEventListener('click', async () => {
      let full = null;
      this.switching = (async () => {
        await this.beforeSwitch();
        await this.pending;
        full = await bridge.history.get(conversation.id);
        this.current = conversation.id;
        await this.onOpen(full);
      })();
      await this.switching;
      this.refresh();
    });
    li.append(open,
      this.action('✎', 'Rename', () => this.rename(li, conversation)),
      this.action('⤓', 'Export as Markdown', () => this.onExport(conversation)),
      this.action('🗑', 'Delete', () => this.remove(conversation)));
    return li;
  }

  action(symbol, label, run) {
    const button = document.createElement('button');
    button.type = 'button';
    button.className = `act ${label.split(' ')[0].toLowerCase()}`;
    button.title = label;
    button.setAttribute('aria-label', label);
    button.textContent = symbol;
    button.addEventListener('click', run);
    return button;
  }

  rename(li, conversation) {
    const input = document.createElement('input');
    input.value = conversation.title;
    input.setAttribute('aria-label', 'New title');
    li.replaceChildren(input);
    input.focus();
    input.select();
    const finish = async (save) => {
      if (save && input.value.trim()) await bridge.history.rename(conversation.id, input.value);
      this.refresh();
    };
    input.addEventListener('keydown', (event) => {
      if (event.key === 'Enter') finish(true);
      if (event.key === 'Escape') finish(false);
    });
    input.addEventListener('blur', () => finish(true), { once: true });
  }

  async remove(conversation) {
    if (!confirm(`Delete “${conversation.title}”? This cannot be undone.`)) return;
    await bridge.history.remove(conversation.id);
    if (this.current === conversation.id) {
      this.current = null;
      this.onOpen(null);
    }
    this.refresh();
  }
}
