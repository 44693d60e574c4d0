"""Logging to the platformdirs log folder, rotated. Prompt and document text are never logged
unless the user turns on the `log_content` setting; only their sizes are."""

from __future__ import annotations

import logging
import logging.handlers
from pathlib import Path

from desktop_llm.paths import make_private

MAX_BYTES = 1_000_000
BACKUPS = 4


def setup_logging(log_file: Path, level: int = logging.INFO) -> None:
    log_file.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.handlers.RotatingFileHandler(
        log_file, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8"
    )
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    make_private(log_file)
    console = logging.StreamHandler()
    console.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.setLevel(level)
    root.handlers[:] = [handler, console]
