// Copy buttons. The browser window gives the page its clipboard; Qt's webview does not (it never
// answers the page's permission request), so there Python puts the text on the clipboard.
import { bridge } from './bridge.js';

async function writeClipboard(text) {
  if (document.body.dataset.host === 'webview') {
    try {
      await bridge.copyText(text);
      return;
    } catch (error) {
      if (error.status !== 501) throw error; // 501: this window's page can copy by itself
    }
  }
  await navigator.clipboard.writeText(text);
}

/** Copy text; the button says "Copied" (or why not) for a moment, for every window. */
export async function copyText(text, button) {
  const label = button.textContent;
  let said;
  try {
    await writeClipboard(text);
    said = 'Copied';
  } catch {
    said = 'Copy failed';
  }
  button.textContent = said;
  button.dataset.copied = said === 'Copied' ? 'yes' : 'no';
  setTimeout(() => {
    button.textContent = label;
    delete button.dataset.copied;
  }, 1500);
}
