"""The window and the app around the page: facts about this run, switching windows, links and
folders opened outside, the doctor, the WebGPU probes, the self-test, and the page's answers to
the local API."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import webbrowser
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from desktop_llm import __version__
from desktop_llm.bridge.base import BridgeError, BridgeRoute, BridgeState
from desktop_llm.constants import APP_NAME
from desktop_llm.engines.native import available as native_engine_available


class WindowBridge(BridgeState):
    """What the page may ask of the app around it."""

    def info(self) -> dict[str, Any]:
        return {
            "app": APP_NAME,
            "version": __version__,
            "os": platform.system(),
            "os_release": platform.release(),
            "python": sys.version.split()[0],
            "host": self.hosts.current,
            "browser": self.hosts.browser_found(),
            "settings_warning": self.settings_file.warning,
            "history_warning": self.history_warning,
            "start_model": self.start_model,
            "native_engine": native_engine_available(),
            "folders": {
                "data": str(self.paths.data),
                "logs": str(self.paths.logs),
                "config": str(self.paths.config),
            },
        }

    def switch_host(self, host: str) -> dict[str, Any]:
        if host not in ("webview", "browser"):
            raise BridgeError("host must be webview or browser", field_name="host")
        if host == "browser" and self.hosts.browser_found() is None:
            raise BridgeError(
                "No Chromium-family browser (Chromium, Chrome, Edge or Brave) was found. "
                "Install one, or name it in Settings > browser.",
                status=409,
            )
        self.settings_file.update({"host": host})
        self.hosts.switch_to(host)
        return {"switching_to": host}

    def open_external(self, url: str) -> dict[str, Any]:
        """Open a link from an answer in the system browser, never inside the app's window.
        Only a well-formed http(s) or mailto URL, passed on in its normalized form."""
        normalized = _external_url(url)
        if normalized is None:
            raise BridgeError("Only http, https and mailto links can be opened.", field_name="url")
        webbrowser.open(normalized)
        return {"opened": normalized}

    def open_folder(self, which: str) -> dict[str, Any]:
        """Show one of the app's own folders in the system's file manager."""
        folders = {"data": self.paths.data, "logs": self.paths.logs, "config": self.paths.config}
        if which not in folders:
            raise BridgeError("which must be data, logs or config", field_name="which")
        folder = folders[which]
        folder.mkdir(parents=True, exist_ok=True)
        _reveal(folder)
        return {"opened": str(folder)}

    def doctor(self) -> dict[str, Any]:
        from desktop_llm import doctor

        facts = doctor.collect(self.paths)
        return {"facts": facts, "problems": doctor.problems(facts)}

    def probe_result(self, host: str, report: dict[str, Any]) -> dict[str, Any]:
        """A window's WebGPU report, for `desktop-llm doctor`."""
        if host not in ("browser", "webview") or not isinstance(report, dict):
            raise BridgeError("host must be browser or webview, report an object")
        self.probes[host] = report
        return {"received": host}

    def self_test_result(self, ok: bool, detail: str = "") -> dict[str, Any]:
        """The page's report for `desktop-llm --self-test`."""
        self.self_test_report = {"ok": bool(ok), "detail": str(detail)[:2000]}
        self.hosts.self_test_finished()
        return {"received": True}

    def llm_feed(
        self, id: int, pieces: list[str], done: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """The page's answer to a local API request, a few pieces at a time."""
        if not isinstance(pieces, list) or not all(isinstance(p, str) for p in pieces):
            raise BridgeError("pieces must be a list of text", field_name="pieces")
        if not self.relay.feed(int(id), pieces, done):
            raise BridgeError(f"There is no API request {id}.", 404)
        return {"ok": True}


ROUTES = (
    BridgeRoute("info", "info"),
    BridgeRoute("host", "switch_host", body_as=None),
    BridgeRoute("open-external", "open_external", body_as=None),
    BridgeRoute("open-folder", "open_folder", body_as=None),
    BridgeRoute("doctor", "doctor"),
    BridgeRoute("probe", "probe_result", body_as=None),
    BridgeRoute("self-test", "self_test_result", body_as=None),
    BridgeRoute("llm/feed", "llm_feed", body_as=None),
)


def _reveal(folder: Path) -> None:
    system = platform.system()
    if system == "Windows":
        os.startfile(folder)  # type: ignore[attr-defined]
    else:
        opener = "open" if system == "Darwin" else "xdg-open"
        subprocess.Popen(
            [opener, str(folder)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )


def _external_url(url: Any) -> str | None:
    """`url` rebuilt from its parsed parts if it is a plain http(s) or mailto link; None for
    anything else (other schemes, control characters or spaces anywhere, no host)."""
    if not isinstance(url, str) or len(url) > 8192:
        return None
    if any(ord(c) < 0x21 or ord(c) == 0x7F for c in url):  # whitespace, newlines, NUL
        return None
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        return None
    if parts.scheme == "mailto" and parts.path:
        return urlunsplit(parts)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    return urlunsplit(parts)
