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
    └── .downloads/
        ├── <model-id>/                       an unfinished download (see download.py)
        └── .locks/<model-id>.lock            held by the one process downloading <model-id>

`model.json` is written last, so a folder without one is not a usable model. The local server
serves a model's files at /models/<id>/resolve/main/<file>, the layout WebLLM expects of a hub.
Every file's sha256 is kept in model.json, for `verify`.
"""

from __future__ import annotations

import builtins
import errno
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from desktop_llm.safe_path import UnsafePath, resolve_inside

MANIFEST = "model.json"
DOWNLOADS = ".downloads"
# The store's engine keys, and what each means to the user: the format and where it runs.
ENGINES = {"wllama": "GGUF (CPU)", "webllm": "MLC (GPU)"}
LOCKS = ".locks"
TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model")  # WebLLM needs one of them


class DownloadBusy(Exception):
    """Another process (a window, or `models pull`) is downloading this model right now."""


@dataclass
class Freed:
    """What deleting a model gave back: bytes freed, and bytes of hard-linked files whose
    other links (the originals a user imported) keep them on the disk."""

    freed: int
    kept_linked: int = 0

    def describe(self) -> str:
        text = f"{human_size(self.freed)} freed"
        if self.kept_linked:
            text += (
                f"; {human_size(self.kept_linked)} stay on the disk as the original files "
                "it was imported from, which are kept"
            )
        return text


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
            if folder.is_symlink():
                continue  # see linked_folders
            entry = self._read_manifest(folder)
            if entry is not None:
                entries.append(entry)
        return entries

    def get(self, model_id: str) -> ModelEntry | None:
        try:
            folder = resolve_inside(self.root, model_id)
        except UnsafePath:  # a symlinked model folder that points elsewhere lands here too
            return None
        if (self.root / model_id).is_symlink():
            return None
        return self._read_manifest(folder)

    def linked_folders(self) -> builtins.list[str]:
        """Folders in the store that are symlinks: left out, since the server serves only what
        lies inside the store (`models import` hard-links a model in instead)."""
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_symlink() and p.is_dir())

    def partial_dir(self, model_id: str) -> Path:
        """Where an unfinished download of `model_id` lives."""
        return resolve_inside(self.root / DOWNLOADS, model_id)

    def partial_downloads(self) -> builtins.list[str]:
        """Models with an unfinished download (not the store's own `.`-named work folders)."""
        folder = self.root / DOWNLOADS
        if not folder.is_dir():
            return []
        return sorted(p.name for p in folder.iterdir() if p.is_dir() and p.name[0] != ".")

    @contextmanager
    def downloading(self, model_id: str) -> Iterator[None]:
        """Hold the cross-process lock of `model_id`'s download (the OS releases it if its
        holder dies): whoever holds it is the only one writing `.downloads/<model-id>/`.
        DownloadBusy at once if another process holds it."""
        locks = self.root / DOWNLOADS / LOCKS
        locks.mkdir(parents=True, exist_ok=True)
        lock = FileLock(resolve_inside(locks, f"{model_id}.lock"), mode=0o600)
        try:
            lock.acquire(timeout=0)
        except Timeout:
            raise DownloadBusy(model_id) from None
        try:
            yield
        finally:
            lock.release()

    def download_busy(self, model_id: str) -> bool:
        """Is a process downloading `model_id` right now?"""
        try:
            with self.downloading(model_id):
                return False
        except DownloadBusy:
            return True

    def discard_partial(self, model_id: str) -> Freed:
        """Delete an unfinished download; DownloadBusy if a process is downloading it now."""
        folder = self.partial_dir(model_id)
        if not folder.is_dir():
            raise FileNotFoundError(model_id)
        with self.downloading(model_id):
            freed = _freed_by_deleting(folder)
            shutil.rmtree(folder)
        return freed

    def work_dir(self, name: str) -> Path:
        """A scratch folder on the store's disk that is never a model nor a download."""
        return resolve_inside(self.root / DOWNLOADS, f".{name}")

    def register_folder(self, entry: ModelEntry, folder: Path) -> ModelEntry:
        """Make a complete folder (on the same disk) the model `entry.id`: model.json is
        written into it, then it is renamed into place, so it appears whole or not at all.
        Everything is flushed to the disk first: after a power cut the model is there, whole,
        or not listed."""
        target = resolve_inside(self.root, entry.id)
        if target.exists():
            raise FileExistsError(f"{entry.id} is already in the store")
        write_json_atomically(folder / MANIFEST, entry.to_dict())
        for name in entry.files:  # imports were copied or linked without a flush
            fsync(folder / name)
        fsync(folder)
        os.replace(folder, target)
        fsync(self.root)
        return entry

    def delete(self, model_id: str) -> Freed:
        """Remove a model; returns what that frees."""
        entry = self.get(model_id)
        if entry is None:
            raise FileNotFoundError(model_id)
        if entry.embedded:
            raise PermissionError("The built-in model cannot be deleted.")
        folder = self.root / model_id
        freed = _freed_by_deleting(folder)
        # Renamed away first, so that a half-deleted folder is never listed as a model.
        trash = self.work_dir(f"deleting-{model_id}")
        trash.parent.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(trash, ignore_errors=True)
        os.replace(folder, trash)
        shutil.rmtree(trash)
        return freed

    def verify(self, model_id: str) -> builtins.list[str]:
        """Re-hash a model's files; returns what is wrong (empty: all good)."""
        entry = self.get(model_id)
        if entry is None:
            raise FileNotFoundError(model_id)
        problems = []
        if entry.engine == "webllm":
            problems += mlc_problems(self.root / model_id, entry.files)
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

    def changes(self) -> tuple[int, int]:
        """Changes whenever a model is installed or deleted, or a download starts or ends,
        by this process or another (the folders' mtimes)."""
        return _mtime(self.root), _mtime(self.root / DOWNLOADS)

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
        write_json_atomically(self.root / entry.id / MANIFEST, entry.to_dict())

    def _read_manifest(self, folder: Path) -> ModelEntry | None:
        try:
            data = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
            entry = ModelEntry(**data)
        except (OSError, ValueError, TypeError):
            return None
        if entry.id != folder.name or entry.engine not in ENGINES:
            return None
        return entry


def mlc_problems(folder: Path, files: list[str] | None = None) -> list[str]:
    """What an MLC model folder lacks for WebLLM to run it (empty: complete): the config, the
    weight list and every shard it names, the tokenizer files the config names (or one of
    TOKENIZER_FILES), and a model library. `files`: only these count as present (a model's
    own file list); default, whatever is in the folder. The one rule for downloads, imports
    and `verify`."""
    present = (
        set(files)
        if files is not None
        else {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
    )
    if "mlc-chat-config.json" not in present:
        return ["mlc-chat-config.json is missing"]
    cache = next((n for n in ("tensor-cache.json", "ndarray-cache.json") if n in present), None)
    if cache is None:
        return ["tensor-cache.json is missing, so the weights are unknown"]
    try:
        config = json.loads((folder / "mlc-chat-config.json").read_text(encoding="utf-8"))
        records = json.loads((folder / cache).read_text(encoding="utf-8"))["records"]
        shards = {str(record["dataPath"]) for record in records}
        named = [str(name) for name in config.get("tokenizer_files") or []]
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return [f"mlc-chat-config.json or {cache} is damaged"]
    problems = []
    missing = sorted(shard for shard in shards if shard not in present)
    if missing:
        problems.append(f"weight files are missing: {', '.join(missing[:3])}")
    tokenizer_missing = [name for name in named if name not in present]
    if tokenizer_missing or not any(name in present for name in TOKENIZER_FILES):
        wanted = tokenizer_missing or [" or ".join(TOKENIZER_FILES)]
        problems.append(f"the tokenizer is missing: {', '.join(wanted)}")
    if not any(name.endswith(".wasm") for name in present):
        problems.append("it has no model library (.wasm)")
    return problems


def write_json_atomically(path: Path, data: dict[str, Any]) -> None:
    """Replace `path` with `data` in one step, flushed to the disk with its folder: after a
    power cut the file is the old one or the new one, whole."""
    fd, tmp = tempfile.mkstemp(prefix=".model-", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump(data, out, indent=2)
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)
    fsync(path.parent)


def fsync(path: Path) -> None:
    """Flush a file, or a folder's entries (so that a rename in it survives a power cut). On
    Windows only files: it has no folder handles to flush, and NTFS journals renames."""
    if path.is_dir() and os.name != "posix":
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _mtime(path: Path) -> int:
    try:
        return path.stat().st_mtime_ns
    except FileNotFoundError:
        return 0


def _freed_by_deleting(folder: Path) -> Freed:
    """A file with other hard links (an imported original) frees nothing when deleted here."""
    freed = Freed(0)
    for path in folder.rglob("*"):
        if path.is_file() and not path.is_symlink():
            info = path.stat()
            if info.st_nlink > 1:
                freed.kept_linked += info.st_size
            else:
                freed.freed += info.st_size
    return freed


def storage_error(exc: OSError, where: Path) -> str:
    """One sentence for a failed write into the app's folders."""
    if exc.errno == errno.ENOSPC:
        return f"The disk is full at {where}; free some space and try again."
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return f"Desktop LLM cannot write to {where}: permission denied."
    return f"Could not write to {where}: {exc.strerror or exc}."


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
