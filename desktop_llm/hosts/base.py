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

    def copy_text(self, text: str) -> bool | None:
        """Put text on the system clipboard; None: the page's own clipboard API works here."""


def missing_display() -> str | None:
    """Why no window can open here, or None. On Linux and the BSDs a window needs an X11 or
    Wayland display; Qt, asked without one, aborts with advice to reinstall."""
    import os
    import sys

    if sys.platform in ("win32", "darwin") or sys.platform.startswith("cygwin"):
        return None
    if os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        return None
    return (
        "No display found: the app opens a window, and neither DISPLAY nor WAYLAND_DISPLAY is "
        "set. Start it from a desktop session (or over ssh -X)."
    )


def running_as_root() -> bool:
    import os

    return hasattr(os, "geteuid") and os.geteuid() == 0
