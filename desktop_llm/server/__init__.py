"""The local server: loopback only, one port kept across launches, run by uvicorn in a thread."""

from __future__ import annotations

import errno
import socket
import threading
import time
from pathlib import Path
from typing import Any, Self

import uvicorn

from desktop_llm.bridge import Bridge
from desktop_llm.constants import LAUNCH_PARAM, LOOPBACK
from desktop_llm.server.app import create_app
from desktop_llm.server.security import Session


class PortInUse(RuntimeError):
    pass


def bind_loopback(port: int) -> socket.socket:
    """A listening socket on 127.0.0.1; port 0 lets the system choose."""
    # IPPROTO_TCP by name: asyncio turns Nagle's algorithm off (TCP_NODELAY) only on sockets
    # that say they are TCP. With it on, every answer whose body follows its headers in a
    # second write waited about 40 ms for the page's delayed acknowledgement.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    if hasattr(socket, "SO_EXCLUSIVEADDRUSE"):  # Windows: no port sharing with other programs
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_EXCLUSIVEADDRUSE, 1)
    else:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((LOOPBACK, port))
    except OSError as exc:
        sock.close()
        if exc.errno in (errno.EADDRINUSE, errno.EACCES) or getattr(exc, "winerror", 0) == 10048:
            raise PortInUse(port) from exc
        raise
    sock.listen(64)
    return sock


class ThreadedServer:
    """An ASGI app served by uvicorn on an already-bound loopback socket, in its own thread."""

    def __init__(self, app: Any, sock: socket.socket, name: str):
        self.app = app
        self.sock = sock
        self.port: int = sock.getsockname()[1]
        config = uvicorn.Config(
            app, log_level="warning", lifespan="off", timeout_graceful_shutdown=1
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    @property
    def origin(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def start(self) -> Self:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("The local server did not start.")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=5)

    def _run(self) -> None:
        self._server.run(sockets=[self.sock])


class LocalServer(ThreadedServer):
    """The app's own server: the UI, the models and the bridge."""

    def __init__(self, bridge: Bridge, ui_dir: Path, sock: socket.socket):
        self.session = Session()
        self.bridge = bridge
        port = sock.getsockname()[1]
        super().__init__(create_app(bridge, self.session, ui_dir, port), sock, "local-server")

    def stop(self) -> None:
        super().stop()
        self.bridge.native.stop()  # its process would outlive the window otherwise

    def launch_url(self, mode: str = "") -> str:
        """A URL that opens the app once; the code in it is useless after that. `mode` is one
        of server.app.PAGE_MODES (the page then runs a probe or the self-test)."""
        url = f"{self.origin}/?{LAUNCH_PARAM}={self.session.new_launch_code()}"
        return f"{url}&mode={mode}" if mode else url
