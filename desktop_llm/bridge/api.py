"""What the page can ask of Python. Plain methods, no HTTP in sight: the server maps each one to
a route (server/app.py) and turns `BridgeError` into a 4xx answer."""

from __future__ import annotations

import platform
import sys
import webbrowser
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

from desktop_llm import __version__
from desktop_llm.bridge.events import EventBus
from desktop_llm.constants import APP_NAME
from desktop_llm.documents import DocumentError, extract_bytes, extract_file
from desktop_llm.models.store import ModelStore
from desktop_llm.settings import Settings, SettingsError, SettingsFile


class BridgeError(Exception):
    def __init__(self, message: str, status: int = 400, field_name: str | None = None):
        super().__init__(message)
        self.status = status
        self.field = field_name


class HostControl(Protocol):
    """What the running window can do for the bridge; the launcher provides it."""

    @property
    def current(self) -> str: ...

    def browser_found(self) -> str | None: ...

    def switch_to(self, host: str) -> None: ...

    def open_file_dialog(self) -> list[str] | None:
        """Paths the user chose in a native dialog ([] if cancelled); None: no native dialog."""

    def save_file_dialog(self, suggested_name: str) -> str | None:
        """A path the user chose to save to ("" if cancelled); None: no native dialog."""

    def take_dropped_paths(self, names: list[str]) -> list[str] | None:
        """Full paths of files just dropped on the window; None: the window cannot tell."""


@dataclass
class Bridge:
    settings_file: SettingsFile
    store: ModelStore
    hosts: HostControl
    events: EventBus = field(default_factory=EventBus)

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
        }

    def get_settings(self) -> dict[str, Any]:
        return {"values": self.settings_file.load().to_dict(), "schema": Settings.describe()}

    def update_settings(self, changes: dict[str, Any]) -> dict[str, Any]:
        if not isinstance(changes, dict):
            raise BridgeError("settings changes must be a JSON object")
        try:
            updated = self.settings_file.update(changes)
        except SettingsError as exc:
            raise BridgeError(exc.message, field_name=exc.field) from exc
        self.events.publish("settings", updated.to_dict())
        return updated.to_dict()

    def list_models(self) -> list[dict[str, Any]]:
        return [entry.to_dict() for entry in self.store.list()]

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
        """Open a link from an answer in the system browser, never inside the app's window."""
        if not isinstance(url, str) or urlsplit(url).scheme not in ("http", "https"):
            raise BridgeError("Only http and https links can be opened.", field_name="url")
        webbrowser.open(url)
        return {"opened": url}

    # Documents. The bridge never takes a path from the page: it reads only what the user chose
    # in a native dialog or dropped on the window (the host knows those paths, not the page).

    def open_documents(self) -> dict[str, Any]:
        paths = self.hosts.open_file_dialog()
        if paths is None:
            raise BridgeError("This window has no file dialog; the page uses its own.", 501)
        return {"documents": [self.read_chosen_file(Path(p)) for p in paths]}

    def dropped_documents(self, names: list[str]) -> dict[str, Any]:
        """Files just dropped on the window, read by their full paths where the window knows
        them; names it does not know come back in `unresolved` for the page to upload."""
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise BridgeError("names must be a list of file names", field_name="names")
        paths = self.hosts.take_dropped_paths(names)
        if paths is None:
            raise BridgeError("This window does not know dropped files' paths.", 501)
        found = {Path(p).name: p for p in paths}
        return {
            "documents": [self.read_chosen_file(Path(found[n])) for n in names if n in found],
            "unresolved": [n for n in names if n not in found],
        }

    def read_chosen_file(self, path: Path) -> dict[str, Any]:
        """A file the user chose or dropped: its text, or the reason it has none."""
        try:
            return extract_file(path).to_dict()
        except DocumentError as exc:
            return {"name": path.name, "error": str(exc)}

    def upload_document(self, name: str, data: bytes) -> dict[str, Any]:
        """A file the page read itself (the browser host's file input and drops)."""
        try:
            return extract_bytes(Path(name).name, data).to_dict()
        except DocumentError as exc:
            raise BridgeError(str(exc), 422) from exc

    def save_text(self, suggested_name: str, text: str) -> dict[str, Any]:
        if not isinstance(text, str) or not isinstance(suggested_name, str):
            raise BridgeError("name and text must be text")
        path = self.hosts.save_file_dialog(Path(suggested_name).name or "summary.md")
        if path is None:
            raise BridgeError("This window has no save dialog; the page downloads instead.", 501)
        if not path:
            return {"saved": None}
        try:
            Path(path).write_text(text, encoding="utf-8")
        except OSError as exc:
            raise BridgeError(f"Could not save to {path}: {exc.strerror}.", 500) from exc
        return {"saved": path}
