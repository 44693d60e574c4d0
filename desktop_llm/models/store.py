"""The model store: the models on this machine, one folder each.

    <data>/models/
    ├── smollm2-135m-instruct-q4_1/
    │   ├── model.json                        what the model is (see `ModelEntry`)
    │   └── SmolLM2-135M-Instruct.Q4_1.gguf
    ├── <mlc-model-id>/
    │   ├── model.json                        with the WebLLM record under "webllm"
    │   ├── mlc-chat-config.json
    │   ├── tensor-cache.json
    │   ├── params_shard_0.bin ...
    │   └── <model library>.wasm
    └── .downloads/<model-id>/                unfinished downloads (see download.py)

`model.json` is written last, so a folder without one is not a usable model. The local server
serves a model's files at /models/<id>/resolve/main/<file>, the layout WebLLM expects of a hub.
Every file's sha256 is kept in model.json, for `verify`.
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
DOWNLOADS = ".downloads"
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
    source: str = ""  # where it came from: a hub URL, or the path it was imported from

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

    def partial_dir(self, model_id: str) -> Path:
        """Where an unfinished download of `model_id` lives."""
        return resolve_inside(self.root / DOWNLOADS, model_id)

    def partial_downloads(self) -> list[str]:
        """Models with an unfinished download (not the store's own `.`-named work folders)."""
        folder = self.root / DOWNLOADS
        if not folder.is_dir():
            return []
        return sorted(p.name for p in folder.iterdir() if p.is_dir() and p.name[0] != ".")

    def work_dir(self, name: str) -> Path:
        """A scratch folder on the store's disk that is never a model nor a download."""
        return resolve_inside(self.root / DOWNLOADS, f".{name}")

    def register_folder(self, entry: ModelEntry, folder: Path) -> ModelEntry:
        """Make a complete folder (on the same disk) the model `entry.id`: model.json is
        written into it, then it is renamed into place, so it appears whole or not at all."""
        target = resolve_inside(self.root, entry.id)
        if target.exists():
            raise FileExistsError(f"{entry.id} is already in the store")
        _write_json_atomically(folder / MANIFEST, entry.to_dict())
        os.replace(folder, target)
        return entry

    def delete(self, model_id: str) -> int:
        """Remove a model; returns the bytes freed."""
        entry = self.get(model_id)
        if entry is None:
            raise FileNotFoundError(model_id)
        if entry.embedded:
            raise PermissionError("The built-in model cannot be deleted.")
        folder = self.root / model_id
        freed = _folder_size(folder)
        # Renamed away first, so that a half-deleted folder is never listed as a model.
        trash = self.work_dir(f"deleting-{model_id}")
        trash.parent.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(trash, ignore_errors=True)
        os.replace(folder, trash)
        shutil.rmtree(trash)
        return freed

    def verify(self, model_id: str) -> list[str]:
        """Re-hash a model's files; returns what is wrong (empty: all good)."""
        entry = self.get(model_id)
        if entry is None:
            raise FileNotFoundError(model_id)
        problems = []
        for name in entry.files:
            path = self.root / model_id / name
            expected = entry.sha256.get(name)
            if not path.is_file():
                problems.append(f"{name} is missing")
            elif expected and sha256_of(path) != expected:
                problems.append(f"{name} is damaged (its sha256 has changed)")
        return problems

    def disk_usage(self) -> dict[str, Any]:
        self.root.mkdir(parents=True, exist_ok=True)
        models = {entry.id: _folder_size(self.root / entry.id) for entry in self.list()}
        partial = _folder_size(self.root / DOWNLOADS) if (self.root / DOWNLOADS).is_dir() else 0
        return {
            "models": models,
            "total": sum(models.values()) + partial,
            "partial": partial,
            "free": shutil.disk_usage(self.root).free,
            "folder": str(self.root),
        }

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
        digest = install_file(source, target)
        if digest != expected_sha256:
            target.unlink(missing_ok=True)
            raise ValueError(
                f"{source.name} is damaged: its sha256 is {digest}, expected {expected_sha256}"
            )
        entry.sha256 = {entry.files[0]: digest}
        self.write_manifest(entry)
        return entry

    def write_manifest(self, entry: ModelEntry) -> None:
        _write_json_atomically(self.root / entry.id / MANIFEST, entry.to_dict())

    def _read_manifest(self, folder: Path) -> ModelEntry | None:
        try:
            data = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
            entry = ModelEntry(**data)
        except (OSError, ValueError, TypeError):
            return None
        if entry.id != folder.name or entry.engine not in ENGINES:
            return None
        return entry


def _write_json_atomically(path: Path, data: dict[str, Any]) -> None:
    fd, tmp = tempfile.mkstemp(prefix=".model-", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump(data, out, indent=2)
    os.replace(tmp, path)


def _folder_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


def human_size(size: float) -> str:
    return f"{size / 1e9:,.2f} GB" if size >= 1e9 else f"{size / 1e6:,.1f} MB"


def sha256_of(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def install_file(source: Path, target: Path) -> str:
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
