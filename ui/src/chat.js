// The conversation: what was said, shown as bubbles, with the answer streamed into the last one.
import { StreamingMarkdown } from './markdown.js';
import { isAbort } from './engines/errors.js';

export class Chat {
  constructor(list, emptyState) {
    this.list = list;
    this.emptyState = emptyState;
    this.messages = [];
    this.controller = null;
  }

  get busy() {
    return this.controller !== null;
  }

  clear() {
    this.stop();
    this.messages = [];
    this.list.replaceChildren(this.emptyState);
  }

  stop() {
    this.controller?.abort();
  }

  /**
   * Ask the engine; stream the answer into a new bubble. Returns stats of the generation.
   * Stop keeps the partial answer, in the view and in the conversation.
   */
  async ask(text, engine, options) {
    this.emptyState.remove();
    this.messages.push({ role: 'user', content: text });
    this.addBubble('user').textContent = text;
    const bubble = this.addBubble('assistant');
    bubble.setAttribute('aria-busy', 'true');
    const body = document.createElement('div');
    body.className = 'answer';
    bubble.append(body);
    const follow = this.isAtBottom();
    const view = new StreamingMarkdown(body, () => {
      if (follow) this.list.scrollTop = this.list.scrollHeight;
    });

    const controller = new AbortController();
    this.controller = controller;
    const history = options.system_prompt
      ? [{ role: 'system', content: options.system_prompt }, ...this.messages]
      : [...this.messages];
    let answer = '';
    let tokens = 0;
    const started = performance.now();
    let firstAt = 0;
    let stopped = false;
    let failure = null;
    try {
      for await (const piece of engine.stream(history, options, controller.signal)) {
        if (!firstAt) firstAt = performance.now();
        tokens += 1;
        if (!piece) continue;
        answer += piece;
        view.append(piece);
      }
    } catch (error) {
      if (isAbort(error)) stopped = true;
      else failure = error;
    } finally {
      this.controller = null;
    }
    stopped ||= controller.signal.aborted;
    const ended = performance.now();
    view.finish();
    bubble.removeAttribute('aria-busy');
    bubble.dataset.state = failure ? 'failed' : stopped ? 'stopped' : 'done';
    if (answer) this.messages.push({ role: 'assistant', content: answer });
    else this.messages.pop(); // nothing came back: the question is not part of the history
    if (failure) this.addNote(bubble, `The engine failed: ${String(failure.message || failure)}`);
    else if (stopped) this.addNote(bubble, 'Stopped.');
    this.addCopyButton(bubble, answer);
    const decodeSeconds = firstAt ? (ended - firstAt) / 1000 : 0;
    return {
      tokens,
      firstTokenSeconds: firstAt ? (firstAt - started) / 1000 : null,
      tokensPerSecond: tokens > 1 && decodeSeconds > 0 ? (tokens - 1) / decodeSeconds : null,
      stopped,
      failed: Boolean(failure),
    };
  }

  /** Is the user reading the end of the conversation (so new text should stay in view)? */
  isAtBottom() {
    const { scrollTop, scrollHeight, clientHeight } = this.list;
    return scrollHeight - scrollTop - clientHeight < 80;
  }

  addBubble(role) {
    const bubble = document.createElement('article');
    bubble.className = `message ${role}`;
    bubble.dataset.role = role;
    this.list.append(bubble);
    bubble.scrollIntoView({ block: 'end' });
    return bubble;
  }

  addNote(bubble, text) {
    const note = document.createElement('p');
    note.className = 'note';
    note.textContent = text;
    bubble.append(note);
  }

  addCopyButton(bubble, text) {
    if (!text) return;
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'copy';
    button.textContent = 'Copy';
    button.addEventListener('click', async () => {
      try {
        await navigator.clipboard.writeText(text);
        button.textContent = 'Copied';
      } catch {
        button.textContent = 'Copy failed';
      }
      setTimeout(() => { button.textContent = 'Copy'; }, 1500);
    });
    bubble.append(button);
  }
}
