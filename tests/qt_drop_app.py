"""The real app with one test-only addition: the test can drop a file on the real Qt window, through
pywebview's own drop handling, by sending its path to a loopback port (TEST_DROP_PORT). The drop
is synthesized as Qt drag-enter, drag-move and drop events on the web view, on the GUI thread,
as the window system would deliver them. The shipped app has no such hook. The message is the
file's path, or "X Y" (a point in the page, in pixels) on a first line and the path on the next;
without a point the drop lands in the middle of the window.

    python tests/qt_drop_app.py --host webview
"""

from __future__ import annotations

import os
import socket
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from desktop_llm import cli
from desktop_llm.hosts.webview import WebviewHost

_app_run = WebviewHost.run


def _run_and_serve(self: WebviewHost, url: str) -> None:
    threading.Thread(target=_serve_drops, args=(self,), daemon=True).start()
    _app_run(self, url)


def _serve_drops(host: WebviewHost) -> None:
    server = socket.create_server(("127.0.0.1", int(os.environ["TEST_DROP_PORT"])))
    while True:
        conn, _ = server.accept()
        with conn:
            message = conn.recv(65536).decode()
            point, _, path = message.rpartition("\n")
            at = tuple(int(float(v)) for v in point.split()) if point else None
            window = host._window
            _on_gui_thread(window, lambda p=path, w=window, a=at: _drop(w, p, a))
            conn.sendall(b"ok")


def _on_gui_thread(window, function) -> None:
    from qtpy.QtCore import QTimer

    QTimer.singleShot(0, window.native, function)


def _drop(window, path: str, at: tuple[int, int] | None) -> None:
    from qtpy.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
    from qtpy.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent
    from qtpy.QtWidgets import QApplication

    view = window.native.webview
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(path)])
    center = QPoint(*at) if at else QPoint(view.width() // 2, view.height() // 2)
    action = Qt.DropAction.CopyAction
    button = Qt.MouseButton.LeftButton
    none = Qt.KeyboardModifier.NoModifier
    for event in (
        QDragEnterEvent(center, action, mime, button, none),
        QDragMoveEvent(center, action, mime, button, none),
        QDropEvent(QPointF(center), action, mime, button, none),
    ):
        QApplication.sendEvent(view, event)


WebviewHost.run = _run_and_serve

if __name__ == "__main__":
    raise SystemExit(cli.main(sys.argv[1:]))
