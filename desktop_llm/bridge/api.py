"""What the page can ask of Python. Plain methods, no HTTP in sight: the server maps each one to
a route (server/app.py) and turns `BridgeError` into a 4xx answer."""

from __future__ import annotations

import platform
import sys
import webbrowser
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit

from desktop_llm import __version__
from desktop_llm.bridge.events import EventBus
from desktop_llm.constants import APP_NAME
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
