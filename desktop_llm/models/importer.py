"""Adding a model the user already has: a GGUF file (CPU) or an MLC model folder with its
WebGPU model library (GPU), as `mlc_llm` writes them.

    my-model-MLC/                   an MLC folder, as accepted
    ├── mlc-chat-config.json        context window, quantization
    ├── tensor-cache.json           (or ndarray-cache.json) lists the weight shards
    ├── params_shard_*.bin
    ├── tokenizer.json ...
    └── my-model-webgpu.wasm        the model library

Files are hard-linked into the store where the disk allows it (no second copy), else copied;
each is hashed for `verify`.
"""

from __future__ import annotations

import fnmatch
import json
import re
import shutil
from pathlib import Path

from desktop_llm.models.catalog import MLC_FILES
from desktop_llm.models.store import ModelEntry, ModelStore, install_file, mlc_problems

GGUF_MAGIC = b"GGUF"


class ModelImportError(ValueError):
    """The path is not a model this app can use; the message says why, in one sentence."""


def import_path(store: ModelStore, path: Path) -> ModelEntry:
    path = path.expanduser()
    if not path.exists():
        raise ModelImportError(f"{path} does not exist.")
    if path.is_dir():
        return import_mlc_folder(store, path)
    return import_gguf(store, path)


def import_gguf(store: ModelStore, path: Path) -> ModelEntry:
    with path.open("rb") as data:
        if data.read(4) != GGUF_MAGIC:
            raise ModelImportError(
                f"{path.name} is not a GGUF model file; CPU models must be .gguf files."
            )
    entry = ModelEntry(
        id=_model_id(path.stem),
        name=path.stem,
        engine="wllama",
        files=[path.name],
        size=path.stat().st_size,
        context_window=4096,
        source=str(path),
    )
    return _register(store, entry, {path.name: path})


def import_mlc_folder(store: ModelStore, folder: Path) -> ModelEntry:
    config_path = folder / "mlc-chat-config.json"
    if not config_path.is_file():
        raise ModelImportError(
            f"{folder.name} is not an MLC model folder: it has no mlc-chat-config.json."
        )
    problems = mlc_problems(folder)
    if problems:
        raise ModelImportError(f"{folder.name} cannot be used: {'; '.join(problems)}.")
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise ModelImportError(f"{folder.name}: {config_path.name} is damaged.") from exc
    libraries = sorted(folder.glob("*.wasm"))
    files = {
        p.name: p
        for p in folder.iterdir()
        if p.is_file() and any(fnmatch.fnmatchcase(p.name, pattern) for pattern in MLC_FILES)
    }
    files[libraries[0].name] = libraries[0]
    quantization = str(config.get("quantization", ""))
    context = int(config.get("context_window_size") or 4096)
    entry = ModelEntry(
        id=_model_id(folder.name),
        name=folder.name,
        engine="webllm",
        files=sorted(files),
        size=sum(p.stat().st_size for p in files.values()),
        context_window=context,
        source=str(folder),
        webllm={
            "model_lib_file": libraries[0].name,
            "overrides": {"context_window_size": context},
            "required_features": ["shader-f16"] if "f16" in quantization else [],
            "low_resource_required": False,
        },
    )
    return _register(store, entry, files)


def _register(store: ModelStore, entry: ModelEntry, files: dict[str, Path]) -> ModelEntry:
    if store.get(entry.id) is not None:
        raise ModelImportError(f"A model named {entry.id} is already in the store.")
    # Its own work folder: a download of the same id may be waiting there to be resumed.
    staging = store.work_dir(f"import-{entry.id}")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        for name, source in files.items():
            entry.sha256[name] = install_file(source, staging / name)
        return store.register_folder(entry, staging)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _model_id(name: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.")
    return slug[:100] or "model"
