// What screen readers hear: one message when an answer is finished, never each streamed word.
export function announce(text) {
  const region = document.getElementById('announcer');
  if (!region || !text) return;
  region.textContent = '';
  // A change after a clear is announced even when the text is the same as last time.
  setTimeout(() => { region.textContent = text; }, 50);
}
