"""What every host (a window that shows the app) provides."""

from __future__ import annotations

from typing import Protocol


class Host(Protocol):
    name: str

    def run(self, url: str) -> None:
        """Open a window on url and block until the user closes it."""

    def close(self) -> None:
        """Close the window from another thread; `run` then returns."""

    def open_file_dialog(self, kind: str = "documents") -> list[str] | None:
        """Paths chosen in a native open dialog ([] if cancelled); None: this host has none.
        kind: "documents", "model-file" (a GGUF) or "model-folder" (an MLC folder)."""

    def save_file_dialog(self, suggested_name: str) -> str | None:
        """A path chosen in a native save dialog ("" if cancelled); None: this host has none."""

    def take_dropped_paths(self, names: list[str]) -> list[str] | None:
        """Full paths of the files just dropped with these names; None: the host cannot tell."""


def running_as_root() -> bool:
    import os

    return hasattr(os, "geteuid") and os.geteuid() == 0
