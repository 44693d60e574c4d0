"""The built-in SmolLM2 compiled for WebGPU by `desktop_llm.compiler`, built once per machine and
cached outside the clone, keyed by everything that decides its bytes: the compiler's own files,
the apache-tvm and emscripten versions, and the GGUF.

    <build cache>/compiled-models/<key>/smollm2-135m-instruct-f32-webgpu/   a store folder

`./dev setup` builds it (python -m tests.support.compiled_model); tests hard-link it into their
own store with `install_into`.
"""

from __future__ import annotations

import functools
import hashlib
import os
import shutil
import sys
import time
from importlib import metadata
from pathlib import Path

from filelock import FileLock

from desktop_llm import compiler, paths
from desktop_llm.compiler import web_runtime
from desktop_llm.models.embedded import embedded_source
from desktop_llm.models.store import ModelEntry, ModelStore

MODEL_ID = "smollm2-135m-instruct-f32-webgpu"
KEEP_BUILDS = 3


@functools.cache
def cache_key() -> str:
    digest = hashlib.sha256(web_runtime.cache_key().encode())
    digest.update(metadata.version("gguf").encode())
    digest.update(metadata.version("tokenizers").encode())
    for source in sorted(Path(compiler.__file__).parent.glob("*.py")):
        digest.update(source.name.encode() + source.read_bytes())
    source = embedded_source()
    digest.update(f"{source.name}:{source.stat().st_size}".encode())
    return digest.hexdigest()[:16]


def cached_folder(log=print) -> Path:
    """The compiled model's folder in the build cache, compiled first if missing."""
    root = paths.build_cache() / "compiled-models" / cache_key()
    folder = root / MODEL_ID
    if (folder / "model.json").is_file():
        return folder
    root.mkdir(parents=True, exist_ok=True)
    with FileLock(str(root) + ".lock"):
        if (folder / "model.json").is_file():
            return folder
        started = time.monotonic()
        scratch = ModelStore(root / ".store")
        shutil.rmtree(scratch.root, ignore_errors=True)
        scratch.root.mkdir(parents=True)
        compiler.compile_gguf(scratch, embedded_source(), model_id=MODEL_ID, log=log)
        os.replace(scratch.root / MODEL_ID, folder)
        shutil.rmtree(scratch.root, ignore_errors=True)
        # Builds for older inputs: the newest few stay, for other clones on this machine.
        builds = sorted(
            (p for p in root.parent.iterdir() if p.is_dir()), key=lambda p: p.stat().st_mtime
        )
        for stale in builds[:-KEEP_BUILDS]:
            shutil.rmtree(stale, ignore_errors=True)
        log(f"compiled {MODEL_ID} in {time.monotonic() - started:.0f} s")
    return folder


def install_into(store: ModelStore) -> ModelEntry:
    """Put the compiled model into `store` (hard links: no second copy of 520 MB)."""
    folder = cached_folder()
    target = store.root / MODEL_ID
    target.mkdir(parents=True)
    for item in folder.iterdir():
        os.link(item, target / item.name)
    entry = store.get(MODEL_ID)
    assert entry is not None
    return entry


if __name__ == "__main__":
    print(cached_folder(log=lambda line: print(f"compiling the WebGPU test model: {line}")))
    sys.exit(0)
