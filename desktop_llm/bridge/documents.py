"""Documents in and out. The bridge never takes a path from the page: it reads only what the user
chose in a native dialog or dropped on the window (the host knows those paths, not the page)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from desktop_llm.bridge.base import BridgeError, BridgeRoute, BridgeState
from desktop_llm.documents import DocumentError, extract_bytes, extract_file


class DocumentsBridge(BridgeState):
    """Reading documents the user chose, and saving text where the user says."""

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

    def copy_text(self, text: str) -> dict[str, Any]:
        """The page's Copy buttons, where the window gives the page no clipboard (Qt's)."""
        if not isinstance(text, str):
            raise BridgeError("text must be text", field_name="text")
        copied = self.hosts.copy_text(text)
        if copied is None:
            raise BridgeError("This window's page copies by itself.", 501)
        if not copied:
            raise BridgeError("The clipboard did not take the text.", 500)
        return {"copied": len(text)}


ROUTES = (
    BridgeRoute("documents/open", "open_documents", body_as=None),
    BridgeRoute("documents/dropped", "dropped_documents", body_as=None),
    BridgeRoute("save-text", "save_text", body_as=None),
    BridgeRoute("clipboard", "copy_text", body_as=None),
)
