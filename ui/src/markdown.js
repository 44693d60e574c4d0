// Model answers are Markdown rendered through a sanitizer: nothing in an answer can run script,
// because script in this page could call the bridge.
import { marked } from 'marked';
import DOMPurify from 'dompurify';

const PURIFY = {
  FORBID_TAGS: ['style', 'form', 'input', 'button', 'textarea', 'select', 'iframe', 'frame',
    'object', 'embed', 'svg', 'math', 'img', 'video', 'audio', 'source', 'link', 'meta', 'base'],
  FORBID_ATTR: ['style', 'srcset', 'formaction'],
  ALLOWED_URI_REGEXP: /^(?:https?:|mailto:|#)/i,
};

DOMPurify.addHook('afterSanitizeAttributes', (node) => {
  if (node.tagName === 'A') node.setAttribute('rel', 'noopener noreferrer');
});

export function renderMarkdown(source) {
  return DOMPurify.sanitize(marked.parse(source, { async: false, gfm: true }), PURIFY);
}

const FENCE = /^ {0,3}(`{3,}|~{3,})/;
const RENDER_INTERVAL_MS = 50;

/**
 * Renders a streamed answer so that one more token costs the same at token 2,000 as at token 1:
 * finished blocks (ended by a blank line, or a closed code fence) are rendered once and left
 * alone; only the open block is rendered again, at most once per frame. Inside an open code
 * fence new text is appended to the code element as it comes.
 */
export class StreamingMarkdown {
  constructor(container, onRender = () => {}) {
    this.container = container;
    this.onRender = onRender;
    this.text = '';
    this.committed = 0; // text before this index is rendered for good
    this.scanned = 0; // start of the first line not yet looked at
    this.fence = null; // {marker, bodyStart, code: Text node, shown: number} while in a code fence
    this.tail = document.createElement('div');
    this.tail.className = 'md-tail';
    container.append(this.tail);
    this.pending = false;
  }

  append(piece) {
    this.text += piece;
    if (!this.pending) {
      this.pending = true;
      // The engine's token loop shares this thread: a few repaints a second read as smooth
      // streaming and leave the thread to the engine.
      setTimeout(() => requestAnimationFrame(() => this.flush()), RENDER_INTERVAL_MS);
    }
  }

  /** Render everything now, the last block included; call when the answer ends. */
  finish() {
    this.flush();
    if (this.fence) this.closeFence(this.text.length);
    this.commit(this.text.length);
    this.tail.remove();
  }

  flush() {
    this.pending = false;
    let newline;
    while ((newline = this.text.indexOf('\n', this.scanned)) !== -1) {
      const line = this.text.slice(this.scanned, newline);
      const fence = FENCE.exec(line);
      if (this.fence) {
        if (fence && fence[1][0] === this.fence.marker[0] && fence[1].length >= this.fence.marker.length
            && line.trim() === fence[1]) {
          this.closeFence(newline + 1);
        }
      } else if (fence) {
        this.commit(this.scanned);
        this.openFence(fence[1], newline + 1);
      } else if (line.trim() === '') {
        this.commit(newline + 1);
      }
      this.scanned = newline + 1;
    }
    if (this.fence) {
      const body = this.text.slice(this.fence.bodyStart + this.fence.shown);
      this.fence.code.appendData(body);
      this.fence.shown += body.length;
    } else {
      this.tail.innerHTML = renderMarkdown(this.text.slice(this.committed));
    }
    this.onRender();
  }

  commit(end) {
    if (end <= this.committed) return;
    const block = document.createElement('div');
    block.innerHTML = renderMarkdown(this.text.slice(this.committed, end));
    this.container.insertBefore(block, this.tail);
    this.committed = end;
    this.tail.textContent = '';
  }

  openFence(marker, bodyStart) {
    const pre = document.createElement('pre');
    const code = document.createElement('code');
    const text = document.createTextNode('');
    code.append(text);
    pre.append(code);
    this.container.insertBefore(pre, this.tail);
    this.fence = { marker, bodyStart, code: text, shown: 0, pre };
  }

  closeFence(end) {
    const { pre } = this.fence;
    this.fence = null;
    pre.remove();
    this.commit(end);
  }
}
