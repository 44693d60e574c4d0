"""What the page can ask of Python. Plain methods, no HTTP in sight: the server maps each one to
a route (server/app.py) and turns `BridgeError` into a 4xx answer."""

from __future__ import annotations

import logging
import os
import platform
import subprocess
import sys
import threading
import webbrowser
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit, urlunsplit

from desktop_llm import __version__
from desktop_llm.constants import APP_NAME, EMBEDDED_MODEL_ID
from desktop_llm.documents import DocumentError, extract_bytes, extract_file
from desktop_llm.events import EventBus
from desktop_llm.history import HistoryError, HistoryStore
from desktop_llm.local_api.relay import EngineRelay
from desktop_llm.models import catalog
from desktop_llm.models.importer import ModelImportError, import_path
from desktop_llm.models.store import DownloadBusy, ModelStore, storage_error
from desktop_llm.paths import AppPaths
from desktop_llm.settings import Settings, SettingsError, SettingsFile

if TYPE_CHECKING:
    from desktop_llm.models.download import DownloadManager

log = logging.getLogger(__name__)

_NO_IMPORT_HERE = (
    "This window cannot hand files to the app; use the app window, or run "
    "`desktop-llm models import PATH`."
)


_BUSY = (
    "{id} is being downloaded by another Desktop LLM window or process; "
    "cancel it there, or wait for it to finish."
)


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

    def open_file_dialog(self, kind: str = "documents") -> list[str] | None:
        """Paths the user chose in a native dialog ([] if cancelled); None: no native dialog."""

    def save_file_dialog(self, suggested_name: str) -> str | None:
        """A path the user chose to save to ("" if cancelled); None: no native dialog."""

    def take_dropped_paths(self, names: list[str]) -> list[str] | None:
        """Full paths of files just dropped on the window; None: the window cannot tell."""

    def self_test_finished(self) -> None:
        """The self-test page has reported; the window may close."""


@dataclass
class Bridge:
    settings_file: SettingsFile
    store: ModelStore
    hosts: HostControl
    history: HistoryStore
    paths: AppPaths
    events: EventBus = field(default_factory=EventBus)
    probes: dict[str, dict[str, Any]] = field(default_factory=dict)  # WebGPU, by window kind
    # Each is told of new settings and returns what it changed in turn (the local API's port
    # and key when it starts); the bridge writes that once, and the reply and the event carry
    # the settings as they finally are.
    settings_listeners: list[Callable[[Settings], dict[str, Any]]] = field(default_factory=list)
    start_model: str | None = None  # `desktop-llm --model ID`: this launch's model
    history_warning: str | None = None  # the history was damaged and repaired at start
    self_test_report: dict[str, Any] | None = None  # what the page said in `--self-test`

    def __post_init__(self) -> None:
        self.relay = EngineRelay(self.events)

    @cached_property
    def downloads(self) -> DownloadManager:
        # Imported on first use: huggingface_hub takes about 0.4 s to import, which every launch
        # would otherwise pay before the window opens.
        from desktop_llm.models.download import DownloadManager

        return DownloadManager(
            self.store, lambda progress: self.events.publish("download", progress.to_dict())
        )

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
            "folders": {
                "data": str(self.paths.data),
                "logs": str(self.paths.logs),
                "config": str(self.paths.config),
            },
        }

    def get_settings(self) -> dict[str, Any]:
        return {"values": self.settings_file.load().to_dict(), "schema": Settings.describe()}

    def update_settings(self, changes: dict[str, Any]) -> dict[str, Any]:
        if not isinstance(changes, dict):
            raise BridgeError("settings changes must be a JSON object")
        current = self.settings_file.load().to_dict()
        for name in sorted(Settings.file_only() & set(changes)):
            if changes[name] != current[name]:
                raise BridgeError(
                    f"{name} can only be changed in the settings file "
                    f"({self.paths.settings_file}), not from the window.",
                    403,
                    field_name=name,
                )
        try:
            updated = self.settings_file.update(changes)
        except SettingsError as exc:
            raise BridgeError(exc.message, field_name=exc.field) from exc
        return self._settings_changed(updated).to_dict()

    def _settings_changed(self, settings: Settings) -> Settings:
        follow_ups: dict[str, Any] = {}
        for listener in self.settings_listeners:
            follow_ups.update(listener(settings))
        if follow_ups:
            settings = self.settings_file.update(follow_ups)
        self.events.publish("settings", settings.to_dict())
        return settings

    def reset_settings(self) -> dict[str, Any]:
        """Every setting back to its default, except the port (it is the page's origin) and
        the settings only the file may change."""
        current = self.settings_file.load()
        kept = {name: getattr(current, name) for name in {"server_port", *Settings.file_only()}}
        defaults = Settings().with_changes(kept)
        self.settings_file.save(defaults)
        return self._settings_changed(defaults).to_dict()

    def open_folder(self, which: str) -> dict[str, Any]:
        """Show one of the app's own folders in the system's file manager."""
        folders = {"data": self.paths.data, "logs": self.paths.logs, "config": self.paths.config}
        if which not in folders:
            raise BridgeError("which must be data, logs or config", field_name="which")
        folder = folders[which]
        folder.mkdir(parents=True, exist_ok=True)
        _reveal(folder)
        return {"opened": str(folder)}

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

    def list_models(self) -> list[dict[str, Any]]:
        return [entry.to_dict() for entry in self.store.list()]

    # The model list: catalog, downloads, delete, verify, import

    def model_catalog(self) -> dict[str, Any]:
        installed = {entry.id for entry in self.store.list()}
        partial = set(self.store.partial_downloads())
        return {
            "available": [
                {
                    **entry.to_dict(),
                    "installed": entry.id in installed,
                    "partial": entry.id in partial,
                }
                for entry in catalog.catalog()
            ],
            "disk": self.store.disk_usage(),
            "downloads": self.downloads.states(),
            "memory_total": _memory_total(),
        }

    def download_model(self, id: str) -> dict[str, Any]:
        entry = catalog.find(id)
        if entry is None:
            raise BridgeError(f"{id} is not in the catalog.", 404)
        if self.store.get(id) is not None:
            raise BridgeError(f"{entry.name} is already installed.", 409)
        if not self.downloads.active(id) and self.store.download_busy(id):
            raise BridgeError(_BUSY.format(id=entry.name), 409)
        self.downloads.start(entry)
        return {"started": id}

    def cancel_download(self, id: str) -> dict[str, Any]:
        """Cancel a download, or discard one left unfinished: its files are deleted."""
        try:
            freed = self.downloads.cancel(id)
        except DownloadBusy:
            raise BridgeError(_BUSY.format(id=id), 409) from None
        except OSError as exc:
            raise BridgeError(storage_error(exc, self.store.root), 500) from None
        return {"cancelled": freed is not None, "freed": freed or 0}

    def stop_downloads(self) -> None:
        """The window closed: stop downloads, keeping their files for a resume."""
        if "downloads" in self.__dict__:  # only if one was ever started
            self.downloads.stop_all()

    def delete_model(self, id: str) -> dict[str, Any]:
        try:
            freed = self.store.delete(id)
        except FileNotFoundError:
            raise BridgeError(f"There is no model {id}.", 404) from None
        except PermissionError as exc:
            raise BridgeError(str(exc), 409) from None
        except OSError as exc:
            raise BridgeError(storage_error(exc, self.store.root), 500) from None
        if self.settings_file.load().model == id:
            self.settings_file.update({"model": EMBEDDED_MODEL_ID})
        return {"deleted": id, "freed": freed.freed, "kept_linked": freed.kept_linked}

    def watch_store(self, stop: threading.Event, interval: float = 1.0) -> None:
        """Tell the page when models come or go, by any process (`models pull` in a terminal,
        another window), so its lists are current without a reload. Runs until `stop`."""
        seen = self.store.changes()
        while not stop.wait(interval):
            now = self.store.changes()
            if now != seen:
                seen = now
                self.events.publish("models", {})

    def verify_model(self, id: str) -> dict[str, Any]:
        try:
            return {"id": id, "problems": self.store.verify(id)}
        except FileNotFoundError:
            raise BridgeError(f"There is no model {id}.", 404) from None

    def import_model(self, kind: str) -> dict[str, Any]:
        """Add a model the user chooses in a native dialog: a GGUF file or an MLC folder."""
        if kind not in ("model-file", "model-folder"):
            raise BridgeError("kind must be model-file or model-folder", field_name="kind")
        paths = self.hosts.open_file_dialog(kind)
        if paths is None:
            raise BridgeError(_NO_IMPORT_HERE, 501)
        return {"imported": [self._import(Path(p)) for p in paths[:1]]}

    def import_dropped_model(self, names: list[str]) -> dict[str, Any]:
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise BridgeError("names must be a list of file names", field_name="names")
        paths = self.hosts.take_dropped_paths(names)
        if paths is None:
            raise BridgeError(_NO_IMPORT_HERE, 501)
        return {"imported": [self._import(Path(p)) for p in paths]}

    def _import(self, path: Path) -> dict[str, Any]:
        try:
            return import_path(self.store, path).to_dict()
        except (ModelImportError, OSError) as exc:
            raise BridgeError(str(exc), 422) from None

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

    # History

    def history_list(self, query: str = "") -> list[dict[str, Any]]:
        return self.history.list(query)

    def history_get(self, id: int) -> dict[str, Any]:
        with _history_errors():
            return self.history.get(int(id), with_messages=True)

    def history_create(
        self,
        title: str,
        kind: str = "chat",
        model: str | None = None,
        document_name: str | None = None,
    ) -> dict[str, Any]:
        settings = self.settings_file.load()
        used = {k: getattr(settings, k) for k in ("temperature", "top_p", "max_tokens")}
        with _history_errors():
            return self.history.create(title, kind, model, used, document_name)

    def history_add(self, conversation_id: int, role: str, content: str) -> dict[str, Any]:
        with _history_errors():
            message = self.history.add_message(int(conversation_id), role, content)
        log.info(
            "history: %s message of %d characters in conversation %s",
            role,
            len(content),
            conversation_id,
        )
        if self.settings_file.load().log_content:
            log.info("history: content: %s", content)
        return message

    def history_rename(self, id: int, title: str) -> dict[str, Any]:
        with _history_errors():
            return self.history.rename(int(id), title)

    def history_delete(self, id: int) -> dict[str, Any]:
        with _history_errors():
            self.history.delete(int(id))
        return {"deleted": id}

    def history_export(self, id: int) -> dict[str, Any]:
        with _history_errors():
            conversation = self.history.get(int(id))
            markdown = self.history.export_markdown(int(id))
        name = "".join(c if c.isalnum() or c in " -_" else " " for c in conversation["title"])
        return {"markdown": markdown, "filename": f"{' '.join(name.split()) or 'chat'}.md"}


def _reveal(folder: Path) -> None:
    system = platform.system()
    if system == "Windows":
        os.startfile(folder)  # type: ignore[attr-defined]
    else:
        opener = "open" if system == "Darwin" else "xdg-open"
        subprocess.Popen(
            [opener, str(folder)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )


@contextmanager
def _history_errors():
    try:
        yield
    except HistoryError as exc:
        raise BridgeError(str(exc), 404 if "no conversation" in str(exc) else 400) from exc
    except (TypeError, ValueError) as exc:
        raise BridgeError(f"Wrong arguments: {exc}") from exc


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


def _memory_total() -> int | None:
    """Bytes of RAM, to tell which models fit; None where the system does not say."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None
