"""The webview host: pywebview with the platform's Chromium-family engine where there is one.

    Windows  WebView2 (Chromium; WebGPU on)       flags: WEBVIEW2_ADDITIONAL_BROWSER_ARGUMENTS
    macOS    WKWebView (WebGPU from macOS 26)     no flags
    Linux    QtWebEngine (Chromium; no WebGPU)    flags: QTWEBENGINE_CHROMIUM_FLAGS

The profile persists (`private_mode=False`) under the app's data folder; with the server's fixed
port the page's origin, and so its storage, stays the same across launches.
"""

from __future__ import annotations

import os
import platform
from pathlib import Path
from typing import Any, Literal, cast
from urllib.parse import unquote

from desktop_llm.constants import APP_ID, APP_NAME
from desktop_llm.hosts.base import running_as_root
from desktop_llm.hosts.chromium_flags import merge_flag_string

DOCUMENT_TYPES = ("Documents (*.txt;*.md;*.html;*.htm;*.pdf;*.docx)", "All files (*.*)")
MODEL_FILE_TYPES = ("GGUF models (*.gguf)", "All files (*.*)")
_GUI: dict[str, Literal["qt", "edgechromium", "cocoa"]] = {
    "Linux": "qt",
    "Windows": "edgechromium",
    "Darwin": "cocoa",
}
_FLAGS_ENV = {
    "Linux": "QTWEBENGINE_CHROMIUM_FLAGS",
    "Windows": "WEBVIEW2_ADDITIONAL_BROWSER_ARGUMENTS",
}


def webview_available() -> bool:
    try:
        import webview  # noqa: F401
    except ImportError:
        return False
    if platform.system() == "Linux":
        try:
            from qtpy import QtWebEngineWidgets  # noqa: F401
        except Exception:
            return False
    return True


class WebviewHost:
    name = "webview"

    def __init__(self, storage: Path, hidden: bool = False):
        self.storage = storage
        self.hidden = hidden
        self._window: Any = None
        self._clipboard: _QtClipboard | None = None

    def run(self, url: str) -> None:
        import webview

        system = platform.system()
        self._prepare_engine_flags(system)
        self.storage.mkdir(parents=True, exist_ok=True)
        # 700 px high: whole on a 1366x768 laptop screen, below its taskbar.
        self._window = webview.create_window(
            APP_NAME, url, width=1100, height=700, min_size=(520, 420), hidden=self.hidden
        )
        _record_dropped_paths()
        if system == "Linux":
            self._clipboard = _QtClipboard()
        webview.start(gui=_GUI.get(system), private_mode=False, storage_path=str(self.storage))
        self._window = None

    def close(self) -> None:
        if self._window is not None:
            self._window.destroy()

    def open_file_dialog(self, kind: str = "documents") -> list[str] | None:
        import webview

        if self._window is None:
            return None
        if kind == "model-folder":
            chosen = self._window.create_file_dialog(webview.FileDialog.FOLDER)
        else:
            chosen = self._window.create_file_dialog(
                webview.FileDialog.OPEN,
                allow_multiple=kind == "documents",
                file_types=MODEL_FILE_TYPES if kind == "model-file" else DOCUMENT_TYPES,
            )
        return list(chosen or [])

    def save_file_dialog(self, suggested_name: str) -> str | None:
        import webview

        if self._window is None:
            return None
        chosen = self._window.create_file_dialog(
            webview.FileDialog.SAVE, save_filename=suggested_name
        )
        if isinstance(chosen, (list, tuple)):
            chosen = chosen[0] if chosen else ""
        return chosen or ""

    def take_dropped_paths(self, names: list[str]) -> list[str]:
        """Full paths of files just dropped on the window, matched by the names the page saw.

        Every pywebview backend records the paths of dropped files (Qt, WebView2 and Cocoa drop
        events carry them; the page only sees names). Reading them here, instead of through
        pywebview's DOM events, works under the page's CSP, which forbids the eval they use.
        """
        from webview.dom import _dnd_state

        paths = cast(list[tuple[str, str]], _dnd_state["paths"])  # (name, full path)
        taken = []
        for name in names:
            for item in list(paths):
                if unquote(item[0]) == name:
                    paths.remove(item)
                    taken.append(unquote(item[1]))
                    break
        return taken

    def _prepare_engine_flags(self, system: str) -> None:
        env_name = _FLAGS_ENV.get(system)
        if env_name is None:
            return
        os.environ[env_name] = merge_flag_string(
            os.environ.get(env_name, ""), "--disable-background-networking"
        )
        if system == "Linux":
            if running_as_root():
                os.environ.setdefault("QTWEBENGINE_DISABLE_SANDBOX", "1")
            _merge_pywebview_flags(env_name)
            _keep_qt_files_under(self.storage)

    def copy_text(self, text: str) -> bool | None:
        # QtWebEngine gives the page no clipboard (its permission request goes unanswered);
        # WebView2 and WKWebView let the page copy on a click.
        return self._clipboard.copy(text) if self._clipboard is not None else None


class _QtClipboard:
    """Qt's clipboard, set on the GUI thread from the bridge's threads. Made before
    webview.start, on the thread that then runs Qt's event loop."""

    TIMEOUT = 5.0

    def __init__(self) -> None:
        import threading

        from qtpy.QtCore import QObject, Signal, Slot
        from qtpy.QtWidgets import QApplication

        class Relay(QObject):
            copy_requested = Signal(str)

            def __init__(self) -> None:
                super().__init__()
                self.done = threading.Event()
                self.copy_requested.connect(self.copy)  # queued: the emitter is another thread

            @Slot(str)
            def copy(self, text: str) -> None:
                clipboard = QApplication.clipboard()
                if clipboard is not None:
                    clipboard.setText(text)
                    self.done.set()

        self._relay = Relay()
        self._lock = threading.Lock()

    def copy(self, text: str) -> bool:
        with self._lock:
            self._relay.done.clear()
            self._relay.copy_requested.emit(text)
            return self._relay.done.wait(self.TIMEOUT)


def _record_dropped_paths() -> None:
    """pywebview's backends record dropped files' paths only while a drop listener exists."""
    from webview.dom import _dnd_state

    _dnd_state["num_listeners"] = max(1, cast(int, _dnd_state["num_listeners"]))


def _keep_qt_files_under(storage: Path) -> None:
    """Keep every file QtWebEngine writes inside the app's webview folder.

    pywebview's Qt backend reads `storage_path` when it is imported, which the flag merge below
    does before start() sets it: the profile would land in ~/.pywebview. And Qt puts the HTTP cache
    and its own data under the XDG folders, named after the program (~/.cache/__main__.py/...).
    """
    import webview.platforms.qt as qt_backend
    from qtpy.QtCore import QCoreApplication

    QCoreApplication.setApplicationName(APP_ID)  # also the WM_CLASS the menu entry names
    os.environ["XDG_CACHE_HOME"] = str(storage / "cache")
    os.environ["XDG_DATA_HOME"] = str(storage / "data")
    qt_backend._profile_storage_path = str(storage)


def _merge_pywebview_flags(env_name: str) -> None:
    """pywebview's Qt backend appends its own --enable-features to the flags, which would erase
    ours (Chromium keeps the last one). Make its append a merge instead."""
    import webview.platforms.qt as qt_backend

    original = qt_backend.environ_append

    def append_merging(key: str, *values: str, sep: str = " ") -> None:
        if key != env_name:
            original(key, *values, sep=sep)
            return
        os.environ[key] = merge_flag_string(os.environ.get(key, ""), " ".join(values))

    qt_backend.environ_append = append_merging
