"""The model list: installed models, the catalog, downloads, delete, verify and import."""

from __future__ import annotations

import os
import threading
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from desktop_llm.bridge.base import BridgeError, BridgeRoute, BridgeState
from desktop_llm.constants import EMBEDDED_MODEL_ID
from desktop_llm.models import catalog
from desktop_llm.models.importer import ModelImportError, import_path
from desktop_llm.models.store import DownloadBusy, storage_error

if TYPE_CHECKING:
    from desktop_llm.models.download import DownloadManager

_NO_IMPORT_HERE = (
    "This window cannot hand files to the app; use the app window, or run "
    "`desktop-llm models import PATH`."
)


_BUSY = (
    "{id} is being downloaded by another Desktop LLM window or process; "
    "cancel it there, or wait for it to finish."
)


class ModelsBridge(BridgeState):
    """What the model list may ask. Downloads run in this process, one per model across
    processes."""

    @cached_property
    def downloads(self) -> DownloadManager:
        # Imported on first use: huggingface_hub takes about 0.4 s to import, which every launch
        # would otherwise pay before the window opens.
        from desktop_llm.models.download import DownloadManager

        return DownloadManager(
            self.store, lambda progress: self.events.publish("download", progress.to_dict())
        )

    def list_models(self) -> list[dict[str, Any]]:
        return [entry.to_dict() for entry in self.store.list()]

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


ROUTES = (
    BridgeRoute("models", "list_models"),
    BridgeRoute("models/catalog", "model_catalog"),
    BridgeRoute("models/download", "download_model", body_as=None),
    BridgeRoute("models/cancel", "cancel_download", body_as=None),
    BridgeRoute("models/delete", "delete_model", body_as=None),
    BridgeRoute("models/verify", "verify_model", body_as=None),
    BridgeRoute("models/import", "import_model", body_as=None),
    BridgeRoute("models/import-dropped", "import_dropped_model", body_as=None),
)


def _memory_total() -> int | None:
    """Bytes of RAM, to tell which models fit; None where the system does not say."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None
