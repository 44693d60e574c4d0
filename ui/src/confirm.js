// The app's own confirmation, instead of the browser's confirm() box (which names the page,
// looks foreign in the app window and blocks the whole page while it is open).
const dialog = () => document.getElementById('confirm-dialog');

/** Ask before something that cannot be undone; resolves true when the user confirms. */
export function confirmAction(message, confirmLabel = 'Delete') {
  const box = dialog();
  box.querySelector('#confirm-message').textContent = message;
  const ok = box.querySelector('#confirm-ok');
  ok.textContent = confirmLabel;
  box.returnValue = '';
  box.showModal();
  box.querySelector('#confirm-cancel').focus(); // Enter on a destructive question means "no"
  return new Promise((resolve) => {
    box.addEventListener('close', () => resolve(box.returnValue === 'confirm'), { once: true });
  });
}
