// Documents in: dropped or pasted text, dropped or chosen files. The webview's Python side reads
// dropped and chosen files by their full path; the browser host sends the file's bytes.
import { bridge } from './bridge.js';

const FILE_TYPES = ['.txt', '.md', '.markdown', '.html', '.htm', '.pdf', '.docx'];

export function textDocument(name, text) {
  const clean = text.replace(/\r\n?/g, '\n').trim();
  return {
    name, kind: 'text', text: clean, words: clean ? clean.split(/\s+/).length : 0,
    chars: clean.length, estimated_tokens: Math.max(1, Math.round(clean.length / 4)),
  };
}

async function uploadFile(file) {
  const response = await fetch('/api/documents/upload', {
    method: 'POST',
    headers: { 'X-Desktop-LLM': '1', 'X-File-Name': encodeURIComponent(file.name) },
    body: file,
  });
  const data = await response.json().catch(() => ({}));
  return response.ok ? data : { name: file.name, error: data.error || `The app answered ${response.status}.` };
}

/**
 * Wire every way a document can come in. onDocument(doc) gets {name, text, words, ...} or
 * {name, error}.
 */
export function acceptDocuments({ host, overlay, fileInput, openButton, onDocument }) {
  const isWebview = host === 'webview';
  let depth = 0;
  const show = (visible) => { overlay.hidden = !visible; };

  // Drops on an open dialog (the model list takes model files) are the dialog's own business.
  const inDialog = (event) => Boolean(event.target.closest?.('dialog[open]'));
  document.addEventListener('dragenter', (event) => {
    event.preventDefault();
    if (inDialog(event)) return;
    depth += 1;
    show(true);
  });
  document.addEventListener('dragleave', () => {
    depth = Math.max(0, depth - 1);
    if (!depth) show(false);
  });
  document.addEventListener('dragover', (event) => event.preventDefault());
  document.addEventListener('drop', async (event) => {
    event.preventDefault();
    if (inDialog(event)) return;
    depth = 0;
    show(false);
    const files = [...(event.dataTransfer?.files || [])];
    if (files.length) {
      let toUpload = files;
      if (isWebview) {
        // The app window knows the dropped files' full paths: Python reads them from disk.
        try {
          const { documents, unresolved } = await bridge.droppedDocuments(files.map((f) => f.name));
          documents.forEach(onDocument);
          toUpload = files.filter((f) => unresolved.includes(f.name));
        } catch {
          toUpload = files;
        }
      }
      for (const file of toUpload) onDocument(await uploadFile(file));
      return;
    }
    const text = event.dataTransfer?.getData('text/plain');
    if (text?.trim()) onDocument(textDocument('Dropped text', text));
  });

  document.addEventListener('paste', (event) => {
    if (event.target.closest?.('textarea, input')) return; // pasting into a field is just that
    const text = event.clipboardData?.getData('text/plain');
    if (text?.trim()) {
      event.preventDefault();
      onDocument(textDocument('Pasted text', text));
    }
  });

  fileInput.accept = FILE_TYPES.join(',');
  fileInput.addEventListener('change', async () => {
    for (const file of fileInput.files) onDocument(await uploadFile(file));
    fileInput.value = '';
  });
  openButton.addEventListener('click', async () => {
    if (!isWebview) {
      fileInput.click();
      return;
    }
    try {
      const { documents } = await bridge.openDocuments();
      documents.forEach(onDocument);
    } catch {
      fileInput.click();
    }
  });
}

/** Save a document's summary as Markdown. */
export async function saveMarkdown(name, text) {
  const base = name.replace(/\.[^.]+$/, '').replace(/[\\/:*?"<>|]+/g, ' ').trim() || 'summary';
  return saveMarkdownFile(`${base} - summary.md`, text);
}

/** Save text: the native save dialog where the window has one, else a download. */
export async function saveMarkdownFile(fileName, text) {
  try {
    const { saved } = await bridge.saveText(fileName, text);
    return saved;
  } catch (error) {
    if (error.status !== 501) throw error;
  }
  const url = URL.createObjectURL(new Blob([text], { type: 'text/markdown' }));
  const link = document.createElement('a');
  link.href = url;
  link.download = fileName;
  link.click();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
  return fileName;
}

// Han, kana, hangul: scripts written without spaces between words, so counting "words" by spaces
// says nothing about their length (a Chinese article is "1 word").
const SPACELESS_SCRIPT = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}]/gu;

/** The document's length as a reader would count it: words, or characters for CJK text. */
export function describeLength(doc) {
  const text = doc.text || '';
  let spaceless = 0;
  for (const _ of text.matchAll(SPACELESS_SCRIPT)) spaceless += 1;
  if (spaceless > text.length * 0.2) return `${text.length.toLocaleString()} characters`;
  return `${doc.words.toLocaleString()} ${doc.words === 1 ? 'word' : 'words'}`;
}
