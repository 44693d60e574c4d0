// The sidebar: conversations kept by Python (SQLite), with search, rename, delete and export.
import { bridge } from './bridge.js';
import { confirmAction } from './confirm.js';
import { icon } from './icons.js';

export class HistorySidebar {
  constructor({ list, search, onOpen, onExport, onError = console.error, beforeSwitch = async () => {} }) {
    this.onError = onError; // a message that could not be kept is said, never dropped silently
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
    list.addEventListener('keydown', (event) => this.onKey(event));
    this.empty = document.createElement('p'); // what an empty list or a search that found nothing says
    this.empty.className = 'note history-empty';
    this.empty.setAttribute('role', 'status');
    this.empty.hidden = true;
    list.before(this.empty);
  }

  /** The list is one stop for Tab: arrows move between conversations and along a row's
   *  buttons, F2 renames, Delete deletes. */
  onKey(event) {
    const button = event.target.closest('button');
    const row = button?.closest('li');
    if (!row) return;
    const rows = [...this.list.querySelectorAll('li')];
    const buttons = [...row.querySelectorAll('button')];
    const moves = {
      ArrowDown: () => rows[rows.indexOf(row) + 1]?.querySelector('.open'),
      ArrowUp: () => rows[rows.indexOf(row) - 1]?.querySelector('.open'),
      ArrowRight: () => buttons[buttons.indexOf(button) + 1],
      ArrowLeft: () => buttons[buttons.indexOf(button) - 1],
      Home: () => rows[0]?.querySelector('.open'),
      End: () => rows.at(-1)?.querySelector('.open'),
    };
    if (moves[event.key]) {
      event.preventDefault();
      this.focusOn(moves[event.key]());
    } else if (event.key === 'F2') {
      event.preventDefault();
      row.querySelector('.act.rename').click();
    } else if (event.key === 'Delete') {
      event.preventDefault();
      row.querySelector('.act.delete').click();
    }
  }

  focusOn(button) {
    if (!button) return;
    for (const other of this.list.querySelectorAll('button')) other.tabIndex = -1;
    button.tabIndex = 0;
    button.focus();
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
    }).catch((error) => this.onError(`This conversation could not be kept in history: ${error.message}`));
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
    if (this.renaming) return; // redrawn when the rename ends; a redraw now would lose the typing
    const query = this.search.value;
    const conversations = await bridge.history.list(query);
    if (this.renaming) return; // a rename began while the list was asked for
    // A redraw keeps the keyboard where it was: the same button of the same conversation.
    const focused = this.list.contains(document.activeElement) ? document.activeElement : null;
    const focusedRow = focused?.closest('li')?.dataset.id;
    const focusedButton = focused?.className.split(' ').at(-1);
    this.list.replaceChildren(...conversations.map((c) => this.item(c)));
    this.empty.hidden = conversations.length > 0;
    this.empty.textContent = query.trim() ? `No conversation mentions “${query.trim()}”.` : 'No conversations yet.';
    // One tab stop for the list: the conversation on screen, else the newest.
    const stop = this.list.querySelector('li[aria-current] .open') || this.list.querySelector('.open');
    const again = focused && this.list.querySelector(`li[data-id="${focusedRow}"] .${focusedButton}`);
    if (again) this.focusOn(again);
    else if (stop) {
      stop.tabIndex = 0;
      if (focused) stop.focus();
    }
  }

  item(conversation) {
    const li = document.createElement('li');
    li.dataset.id = conversation.id;
    if (conversation.id === this.current) li.setAttribute('aria-current', 'true');
    const open = document.createElement('button');
    open.type = 'button';
    open.className = 'open';
    open.tabIndex = -1;
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
      this.action('rename', 'Rename (F2)', () => this.rename(li, conversation)),
      this.action('export', 'Export as Markdown', () => this.onExport(conversation)),
      this.action('delete', 'Delete (Del)', () => this.remove(conversation)));
    return li;
  }

  action(name, label, run) {
    const button = document.createElement('button');
    button.type = 'button';
    button.className = `act ${name}`;
    button.tabIndex = -1;
    button.title = label;
    button.setAttribute('aria-label', label.replace(/ \(.*\)$/, ''));
    button.append(icon(name));
    button.addEventListener('click', run);
    return button;
  }

  rename(li, conversation) {
    const input = document.createElement('input');
    input.value = conversation.title;
    input.setAttribute('aria-label', 'New title');
    li.replaceChildren(input);
    this.renaming = true;
    input.focus();
    input.select();
    let finished = false;
    const finish = async (save) => {
      if (finished) return;
      finished = true;
      try {
        if (save && input.value.trim()) await bridge.history.rename(conversation.id, input.value);
      } finally {
        this.renaming = false;
        this.refresh();
      }
    };
    input.addEventListener('keydown', (event) => {
      if (event.key === 'Enter') finish(true);
      if (event.key === 'Escape') finish(false);
    });
    input.addEventListener('blur', () => finish(true), { once: true });
  }

  async remove(conversation) {
    if (!await confirmAction(`Delete “${conversation.title}”? This cannot be undone.`)) return;
    await bridge.history.remove(conversation.id);
    if (this.current === conversation.id) {
      this.current = null;
      this.onOpen(null);
    }
    this.refresh();
  }
}
