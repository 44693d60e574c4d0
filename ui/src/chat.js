// The conversation: what was said, shown as bubbles, with the answer streamed into the last one.
import { StreamingMarkdown, renderMarkdown } from './markdown.js';
import { isAbort } from './engines/errors.js';
import { untilStopped } from './stopping.js';
import { copyText } from './clipboard.js';
import { announce } from './announce.js';

export class Chat {
  constructor(list, emptyState, onMessage = () => {}) {
    this.list = list;
    this.emptyState = emptyState;
    this.messages = [];
    this.controller = null;
    this.onMessage = onMessage; // (role, content) when a message is final, to keep it in history
  }

  /** Show a stored conversation. */
  load(messages) {
    this.clear();
    if (messages.length) this.emptyState.remove();
    for (const { role, content } of messages) {
      if (role === 'system') continue;
      this.messages.push({ role, content });
      const bubble = this.addBubble(role);
      if (role === 'user') {
        bubble.textContent = content;
      } else {
        const body = document.createElement('div');
        body.className = 'answer';
        body.innerHTML = renderMarkdown(content);
        bubble.append(body);
        bubble.dataset.state = 'done';
        this.addCopyButton(bubble, content);
      }
    }
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
   * Stop what is being written and wait until it has been kept in the conversation it was asked
   * in; then it is safe to show another conversation.
   */
  async settle() {
    const running = this.running;
    this.stop();
    await running?.catch(() => {});
  }

  ask(...args) {
    this.running = this.askNow(...args);
    return this.running;
  }

  summarize(...args) {
    this.running = this.summarizeNow(...args);
    return this.running;
  }

  /**
   * Ask the engine; stream the answer into a new bubble. Returns stats of the generation.
   * Stop keeps the partial answer, in the view and in the conversation.
   */
  async askNow(text, engine, options) {
    this.emptyState.remove();
    this.messages.push({ role: 'user', content: text });
    this.onMessage('user', text);
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
      for await (const piece of untilStopped(engine.stream(history, options, controller.signal), controller.signal)) {
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
    if (answer) {
      this.messages.push({ role: 'assistant', content: answer });
      this.onMessage('assistant', answer);
    } else {
      this.messages.pop(); // nothing came back: the question is not part of the conversation
    }
    if (failure) this.addNote(bubble, `The engine failed: ${String(failure.message || failure)}`);
    else if (stopped) this.addNote(bubble, 'Stopped.');
    announce(failure ? `The engine failed: ${String(failure.message || failure)}` : `${stopped ? 'Stopped. ' : ''}${answer}`);
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

  /**
   * Run a document summary and show it as a request and a streamed answer.
   * run(signal, onFinalPiece, onProgress) -> {summary, parts, done, stopped}
   */
  async summarizeNow(doc, describeRequest, run, onSave) {
    this.emptyState.remove();
    const request = this.addBubble('user');
    request.textContent = describeRequest;
    const bubble = this.addBubble('assistant');
    bubble.dataset.kind = 'summary';
    bubble.setAttribute('aria-busy', 'true');
    const progress = document.createElement('p');
    progress.className = 'note progress';
    progress.setAttribute('role', 'status'); // the steps are announced; the counts below are not
    const detail = document.createElement('p');
    detail.className = 'note progress-detail';
    const body = document.createElement('div');
    body.className = 'answer';
    bubble.append(progress, detail, body);
    const follow = this.isAtBottom();
    const view = new StreamingMarkdown(body, () => {
      if (follow) this.list.scrollTop = this.list.scrollHeight;
    });
    const controller = new AbortController();
    this.controller = controller;
    controller.signal.addEventListener('abort', () => { progress.textContent = 'Stopping…'; });
    let result = null;
    let failure = null;
    try {
      result = await run(controller.signal, (piece) => view.append(piece), (p) => {
        const text = describeProgress(p);
        if (progress.textContent !== text) progress.textContent = text;
        detail.textContent = describeProgressDetail(p);
        bubble.dataset.part = p.part ?? '';
        bubble.dataset.parts = p.parts ?? '';
      });
    } catch (error) {
      if (!isAbort(error)) failure = error;
    } finally {
      this.controller = null;
    }
    view.finish();
    detail.remove();
    bubble.removeAttribute('aria-busy');
    const stopped = controller.signal.aborted || result?.stopped;
    if (stopped) {
      // What is kept is only what was finished (the parts done), never a cut-off sentence.
      body.replaceChildren();
      const kept = new StreamingMarkdown(body, () => {});
      kept.append(result?.summary || '');
      kept.finish();
    }
    if (result) {
      bubble.dataset.wallSeconds = result.wallSeconds.toFixed(2);
      bubble.dataset.engineSeconds = result.engineSeconds.toFixed(2);
    }
    bubble.dataset.state = failure ? 'failed' : stopped ? 'stopped' : 'done';
    progress.textContent = failure
      ? `The summary failed: ${String(failure.message || failure)}`
      : stopped
        ? `Stopped after ${result?.done ?? 0} of ${result?.parts ?? '?'} parts.`
        : result.parts > 1 ? `Summarized in ${result.parts} parts.` : '';
    const summary = result?.summary || '';
    announce([progress.textContent, summary].filter(Boolean).join(' '));
    if (summary) {
      this.messages.push({ role: 'user', content: describeRequest });
      this.messages.push({ role: 'assistant', content: summary });
      this.onMessage('user', describeRequest);
      this.onMessage('assistant', summary);
      this.addCopyButton(bubble, summary);
      const save = document.createElement('button');
      save.type = 'button';
      save.className = 'copy save';
      save.textContent = 'Save as Markdown';
      save.addEventListener('click', () => onSave(summary, save));
      bubble.append(save);
    }
    return bubble.dataset.state; // done, stopped or failed
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
    button.addEventListener('click', () => copyText(text, button));
    bubble.append(button);
  }
}

function describeProgress(p) {
  if (p.stage === 'splitting') return 'Reading the document…';
  if (p.stage === 'part') return `Summarizing part ${p.part} of ${p.parts}…`;
  if (p.stage === 'parts') return `Summarizing ${p.parts} parts at once: ${p.done} of ${p.parts} done…`;
  if (p.stage === 'combining') return `Combining ${p.parts} part summaries…`;
  return p.parts > 1 ? `Writing the summary of all ${p.parts} parts…` : 'Writing the summary…';
}

/** Within a part: what the engine reads, then what it has written, and the time left. */
function describeProgressDetail(p) {
  const parts = [];
  if (p.reading) parts.push(`reading ${p.reading.toLocaleString()} tokens`);
  else if (p.written) parts.push(`${p.written.toLocaleString()} tokens written`);
  if (p.secondsLeft != null) parts.push(describeTimeLeft(p.secondsLeft));
  return parts.join(' · ');
}

function describeTimeLeft(seconds) {
  if (seconds < 60) return 'under a minute left';
  if (seconds < 3600) return `about ${Math.round(seconds / 60)} min left`;
  return `about ${(seconds / 3600).toFixed(1)} h left`;
}
