"""Resolving a path that came from a request, so that it can never leave its folder."""

from __future__ import annotations

import os
from pathlib import Path


class UnsafePath(ValueError):
    """The path would leave its folder, or is not a plain relative path."""


def resolve_inside(root: Path, relative: str) -> Path:
    """Join an already-decoded relative path onto root, refusing anything that escapes it.

    Refused: empty parts, `.` and `..`, backslashes, drive letters, absolute paths, NUL, and any
    path whose real location (symlinks followed) is outside root's real location.
    """
    if not relative or "\x00" in relative or "\\" in relative or ":" in relative:
        raise UnsafePath(relative)
    parts = relative.split("/")
    if relative.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise UnsafePath(relative)
    real_root = os.path.realpath(root)
    real = os.path.realpath(os.path.join(real_root, *parts))
    if os.path.commonpath([real_root, real]) != real_root:
        raise UnsafePath(relative)
    return Path(real)
