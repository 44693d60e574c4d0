"""The model store: the models on this machine, one folder each.

    <data>/models/
    ├── smollm2-135m-instruct-q4_1/
    │   ├── model.json                        what the model is (see `ModelEntry`)
    │   └── SmolLM2-135M-Instruct.Q4_1.gguf
    └── <mlc-model-id>/
        ├── model.json                        with the WebLLM record under "webllm"
        ├── mlc-chat-config.json
        ├── tensor-cache.json
        ├── params_shard_0.bin ...
        └── <model library>.wasm

`model.json` is written last, so a folder without one is not a usable model. The local server
serves a model's files at /models/<id>/resolve/main/<file>, the layout WebLLM expects of a hub.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from desktop_llm.safe_path import UnsafePath, resolve_inside

MANIFEST = "model.json"
ENGINES = ("wllama", "webllm")


@dataclass
class ModelEntry:
    id: str
    name: str
    engine: str  # "wllama" (GGUF on the CPU) or "webllm" (MLC on WebGPU)
    files: list[str]
    size: int
    context_window: int = 2048
    license: str = ""
    embedded: bool = False
    sha256: dict[str, str] = field(default_factory=dict)  # file -> hex digest, where known
    webllm: dict[str, Any] | None = None  # the WebLLM ModelRecord, URLs left out

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class ModelStore:
    def __init__(self, root: Path):
        self.root = root

    def list(self) -> list[ModelEntry]:
        if not self.root.is_dir():
            return []
        entries = []
        for folder in sorted(self.root.iterdir()):
            entry = self._read_manifest(folder)
            if entry is not None:
                entries.append(entry)
        return entries

    def get(self, model_id: str) -> ModelEntry | None:
        try:
            folder = resolve_inside(self.root, model_id)
        except UnsafePath:
            return None
        return self._read_manifest(folder)

    def file_path(self, model_id: str, relative: str) -> Path:
        """The path of one of a model's files; raises UnsafePath or FileNotFoundError."""
        entry = self.get(model_id)
        if entry is None:
            raise FileNotFoundError(model_id)
        path = resolve_inside(self.root / model_id, relative)
        if not path.is_file():
            raise FileNotFoundError(relative)
        return path

    def add_file_model(self, entry: ModelEntry, source: Path, expected_sha256: str) -> ModelEntry:
        """Copy (or hard-link) one file into the store, checking its hash, then register it."""
        folder = self.root / entry.id
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / entry.files[0]
        digest = _install_file(source, target)
        if digest != expected_sha256:
            target.unlink(missing_ok=True)
            raise ValueError(
                f"{source.name} is damaged: its sha256 is {digest}, expected {expected_sha256}"
            )
        entry.sha256 = {entry.files[0]: digest}
        self.write_manifest(entry)
        return entry

    def write_manifest(self, entry: ModelEntry) -> None:
        folder = self.root / entry.id
        fd, tmp = tempfile.mkstemp(prefix=".model-", dir=folder)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(entry.to_dict(), out, indent=2)
        os.replace(tmp, folder / MANIFEST)

    def _read_manifest(self, folder: Path) -> ModelEntry | None:
        try:
            data = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
            entry = ModelEntry(**data)
        except (OSError, ValueError, TypeError):
            return None
        if entry.id != folder.name or entry.engine not in ENGINES:
            return None
        return entry


def sha256_of(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _install_file(source: Path, target: Path) -> str:
    """Put source at target (a hard link when possible, else a copy) and return its sha256."""
    tmp = target.with_name(target.name + ".partial")
    tmp.unlink(missing_ok=True)
    try:
        os.link(source, tmp)
    except OSError:
        shutil.copyfile(source, tmp)
    digest = sha256_of(tmp)
    os.replace(tmp, target)
    return digest
