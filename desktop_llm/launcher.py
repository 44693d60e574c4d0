"""Starting the app: settings, model store, local server, then a window until the user closes it."""

from __future__ import annotations

import logging
import secrets
import signal
import socket
import threading
from collections.abc import Callable
from typing import Any

from desktop_llm.bridge import Bridge
from desktop_llm.constants import UI_DIST_DIR
from desktop_llm.history import HistoryError, open_history
from desktop_llm.hosts.base import Host, missing_display
from desktop_llm.hosts.browser import BrowserHost, find_browser
from desktop_llm.hosts.webview import WebviewHost, webview_available
from desktop_llm.local_api.server import create_api_app
from desktop_llm.models.embedded import provision_embedded
from desktop_llm.models.store import ModelStore
from desktop_llm.paths import AppPaths
from desktop_llm.server import LocalServer, PortInUse, ThreadedServer, bind_loopback
from desktop_llm.settings import Settings, SettingsFile

log = logging.getLogger(__name__)

SELF_TEST_TIMEOUT = 180.0  # seconds for the window to open, load the model and answer


class LaunchError(RuntimeError):
    pass


class Launcher:
    """Owns the server and the current window; the bridge asks it to switch windows."""

    def __init__(
        self,
        paths: AppPaths,
        host_choice: str | None = None,
        self_test: bool = False,
        start_model: str | None = None,
    ):
        self.self_test = self_test
        self.start_model = start_model
        self.paths = paths
        self.settings_file = SettingsFile(paths.settings_file)
        self.settings_file.remove_stale_temp_files()
        self.settings: Settings = self.settings_file.load()
        self.host_choice = host_choice or self.settings.host
        self.store = ModelStore(paths.models)
        self.bridge: Bridge | None = None
        self._stop_watching = threading.Event()
        self._api_key = ""  # what the local API accepts now (from the settings)
        self._api_port = 0
        self.host_name = "none"  # the window in use, once chosen
        self.server: LocalServer | None = None
        self.api_server: ThreadedServer | None = None
        self._host: Host | None = None
        self._next_host: str | None = None
        self._quitting = False
        self._timed_out = False
        self._lock = threading.Lock()
        self._api_lock = threading.Lock()

    # HostControl, for the bridge
    @property
    def current(self) -> str:
        return self.host_name

    def browser_found(self) -> str | None:
        return find_browser(self.settings_file.load().browser)

    def switch_to(self, host: str) -> None:
        with self._lock:
            self._next_host = host
            current = self._host
        if current is not None:
            threading.Timer(0.3, current.close).start()  # let the answer reach the page first

    def start_server(self, port: int | None = None) -> LocalServer:
        """Everything but the window: folders, the embedded model, the local server (on the
        kept port, or on `port` without keeping it: the doctor's probes use a passing one)."""
        if not (UI_DIST_DIR / "index.html").is_file():
            raise LaunchError(f"The UI is not built ({UI_DIST_DIR}). Run `npm run build` in ui/.")
        self.paths.create()
        provision_embedded(self.store)
        if self.start_model and self.store.get(self.start_model) is None:
            raise LaunchError(
                f"There is no model {self.start_model} in the store; "
                "`desktop-llm models list` shows the ones there are."
            )
        self.host_name = self._resolve_host(self.host_choice)
        try:
            history, history_warning = open_history(self.paths.history_file)
        except HistoryError as exc:
            raise LaunchError(str(exc)) from None
        self.bridge = Bridge(
            self.settings_file,
            self.store,
            self,
            history,
            self.paths,
            start_model=self.start_model,
            history_warning=history_warning,
        )
        sock = self._bind() if port is None else bind_loopback(port)
        self.server = LocalServer(self.bridge, UI_DIST_DIR, sock).start()
        if port is None:  # the app itself, not the doctor's probe
            self.bridge.settings_listeners.append(self._apply_api)
            chosen = self._apply_api(self.settings_file.load())
            if chosen:
                self.settings_file.update(chosen)
            threading.Thread(
                target=self.bridge.watch_store,
                args=(self._stop_watching,),
                name="store-watch",
                daemon=True,
            ).start()
        log.info("serving on %s", self.server.origin)
        return self.server

    def open_file_dialog(self, kind: str = "documents") -> list[str] | None:
        host = self._host
        return host.open_file_dialog(kind) if host is not None else None

    def save_file_dialog(self, suggested_name: str) -> str | None:
        host = self._host
        return host.save_file_dialog(suggested_name) if host is not None else None

    def take_dropped_paths(self, names: list[str]) -> list[str] | None:
        host = self._host
        return host.take_dropped_paths(names) if host is not None else None

    def copy_text(self, text: str) -> bool | None:
        host = self._host
        return host.copy_text(text) if host is not None else None

    def self_test_finished(self) -> None:
        if self.self_test:
            self._after(0.2, self.quit)

    def self_test_outcome(self) -> tuple[bool, str]:
        report = self.bridge.self_test_report if self.bridge else None
        if report is None:
            return False, (
                "the window closed before the model answered"
                + (f" (no answer within {SELF_TEST_TIMEOUT:.0f} s)" if self._timed_out else "")
            )
        return report["ok"], report["detail"]

    def quit(self) -> None:
        """Close the window gracefully (the webview then saves its storage) and end the app."""
        with self._lock:
            self._next_host = None
            self._quitting = True
            host = self._host
        if host is not None:
            host.close()

    def run(self) -> int:
        problem = missing_display()
        if problem:
            raise LaunchError(problem)
        server = self.start_server()
        self._quit_on_termination_signals()
        if self.self_test:
            self._after(SELF_TEST_TIMEOUT, self._self_test_timeout)
        bridge = self.bridge
        assert bridge is not None  # made by start_server
        try:
            while not self._quitting:
                host = self._make_host(self.host_name)
                with self._lock:
                    self._host, self._next_host = host, None
                host.run(server.launch_url("self-test" if self.self_test else ""))
                with self._lock:
                    next_host, self._host = self._next_host, None
                if next_host is None:
                    break
                self.host_name = next_host
        finally:
            self._stop_watching.set()
            bridge.stop_downloads()
            server.stop()
            if self.api_server is not None:
                self.api_server.stop()
        return 0

    def _self_test_timeout(self) -> None:
        self._timed_out = True
        self.quit()

    @staticmethod
    def _after(seconds: float, action: Callable[[], None]) -> None:
        timer = threading.Timer(seconds, action)
        timer.daemon = True
        timer.start()

    def _apply_api(self, settings: Settings) -> dict[str, Any]:
        """Start, stop or move the local OpenAI-compatible API as the settings say. A new key
        applies to the next request (the old one is refused at once); a new port restarts it.
        Returns the settings it chose (a free port, a first key) for the caller to save."""
        changes: dict[str, Any] = {}
        with self._api_lock:
            running = self.api_server is not None
            if running and (not settings.api_enabled or settings.api_port != self._api_port):
                assert self.api_server is not None
                self.api_server.stop()
                self.api_server = None
                log.info("local API stopped")
            self._api_key = settings.api_key
            if settings.api_enabled and self.api_server is None:
                try:
                    sock = bind_loopback(settings.api_port)
                except PortInUse:
                    sock = bind_loopback(0)
                if sock.getsockname()[1] != settings.api_port:
                    changes["api_port"] = sock.getsockname()[1]
                if not settings.api_key:
                    changes["api_key"] = "dllm-" + secrets.token_urlsafe(24)
                settings = settings.with_changes(changes)
                self._api_key = settings.api_key
                self._api_port = settings.api_port
                assert self.bridge is not None  # started with the server, before any listener
                app = create_api_app(
                    self.bridge.relay,
                    self.store,
                    key=lambda: self._api_key,
                    loaded_model=lambda: self.settings_file.load().model,
                    port=lambda: self._api_port,
                )
                self.api_server = ThreadedServer(app, sock, "local-api").start()
                log.info("local API on http://127.0.0.1:%s/v1", self._api_port)
        return changes

    def _quit_on_termination_signals(self) -> None:
        """SIGTERM (a logout, `kill`) closes the window like the user would. While the GUI's own
        loop runs no Python handler gets to run, so the signal wakes a thread through a socket."""
        if threading.current_thread() is not threading.main_thread():
            return
        reader, writer = socket.socketpair()
        writer.setblocking(False)
        signal.set_wakeup_fd(writer.fileno(), warn_on_full_buffer=False)
        for name in ("SIGTERM", "SIGHUP", "SIGINT"):
            if hasattr(signal, name):
                signal.signal(getattr(signal, name), lambda *_: None)

        def watch() -> None:
            while reader.recv(1):
                log.info("asked to quit by a signal")
                self.quit()

        self._signal_sockets = (reader, writer)  # kept alive as long as the launcher
        threading.Thread(target=watch, name="signal-watch", daemon=True).start()

    def _bind(self):
        port = self.settings.server_port
        try:
            sock = bind_loopback(port)
        except PortInUse:
            # Another program holds our port: a new origin means the page's browser storage
            # starts empty, but everything that matters lives in Python's files.
            log.warning("port %s is in use; choosing another", port)
            sock = bind_loopback(0)
        chosen = sock.getsockname()[1]
        if chosen != port:
            self.settings = self.settings_file.update({"server_port": chosen})
        return sock

    def _resolve_host(self, choice: str) -> str:
        if choice == "auto":
            return "webview" if webview_available() else "browser"
        return choice

    def _make_host(self, name: str) -> Host:
        settings = self.settings_file.load()
        if name == "browser":
            executable = find_browser(settings.browser)
            if executable is None:
                raise LaunchError(
                    "No Chromium-family browser was found (Chromium, Chrome, Edge or Brave). "
                    "Install one or name it with the `browser` setting."
                )
            return BrowserHost(executable, self.paths.browser_profile, settings.browser_flags)
        if not webview_available():
            raise LaunchError(
                "The webview is not available (pywebview or its Qt WebEngine is missing). "
                "Use --host browser."
            )
        return WebviewHost(self.paths.webview_storage)
