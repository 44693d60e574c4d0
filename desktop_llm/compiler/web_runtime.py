"""The TVM web runtime every model library is linked with, built once per machine by emscripten
from the runtime sources inside the apache-tvm wheel, and cached:

    <build cache>/tvm-web-runtime/<key>/       (see paths.build_cache)
    ├── wasm_runtime.o       the VM, tensors, the paged KV cache, tvm-ffi
    ├── tvmjs_support.o      what tvmjs (inside WebLLM) calls
    └── webgpu_runtime.o     the WebGPU device API

<key> is a hash of the apache-tvm and apache-tvm-ffi versions, emcc's version, the compiler
flags and the headers in runtime_headers/. The wheel ships the runtime's .cc files but not nine
small headers they include; runtime_headers/ holds this project's own versions of them.
They are compiled to wasm object files, not LLVM bitcode, so that linking a model is fast.
"""

from __future__ import annotations

import functools
import hashlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from importlib import metadata
from pathlib import Path

from filelock import FileLock

from desktop_llm import paths

SOURCES = ("wasm_runtime", "tvmjs_support", "webgpu_runtime")
HEADERS = Path(__file__).parent / "runtime_headers"
FLAGS = ("-O3", "-std=c++17", "-Wno-ignored-attributes")


class RuntimeBuildError(RuntimeError):
    """emscripten is missing or failed; the message says which and how to fix it."""


def emcc() -> str:
    found = shutil.which("emcc")
    if found is None:
        raise RuntimeBuildError(
            "emcc (emscripten) is not installed; on Debian or Ubuntu: sudo apt install emscripten"
        )
    return found


def _packages() -> tuple[Path, Path]:
    import tvm
    import tvm_ffi

    return Path(tvm.__file__).parent, Path(tvm_ffi.__file__).parent


def _include_flags(tvm_root: Path, ffi_root: Path, shim: Path) -> list[str]:
    # The runtime includes its support headers by relative paths ("../support/x.h",
    # "../../../../../3rdparty/compiler-rt/x.h"); these -I folders make such paths land in
    # HEADERS before the wheel's tree is searched.
    return [
        f"-I{HEADERS / 'src/runtime/extra/contrib/sort'}",
        f"-I{HEADERS / 'src/runtime/vm'}",
        f"-I{HEADERS / 'src/runtime'}",
        f"-I{HEADERS}",
        f"-I{HEADERS / '3rdparty/compiler-rt'}",
        f"-I{shim}",
        f"-I{tvm_root}",
        f"-I{tvm_root / 'include'}",
        f"-I{ffi_root / 'include'}",
        f"-I{ffi_root / '3rdparty/dlpack/include'}",
    ]


@functools.cache  # emcc --version starts a Python program: ask once per process
def cache_key() -> str:
    digest = hashlib.sha256()
    for package in ("apache-tvm", "apache-tvm-ffi"):
        digest.update(f"{package}={metadata.version(package)}\n".encode())
    version = subprocess.run([emcc(), "--version"], capture_output=True, text=True, check=False)
    digest.update(version.stdout.splitlines()[0].encode() if version.stdout else b"?")
    digest.update(" ".join(FLAGS).encode())
    for header in sorted(HEADERS.rglob("*.h")):
        digest.update(header.relative_to(HEADERS).as_posix().encode())
        digest.update(header.read_bytes())
    return digest.hexdigest()[:16]


def ensure(log: Callable[[str], None] = lambda _: None) -> list[Path]:
    """The runtime's object files, built first if this machine has none for the current key.
    Two processes building at once wait for each other; a build that dies leaves nothing
    half-written in the cache."""
    folder = paths.build_cache() / "tvm-web-runtime" / cache_key()
    objects = [folder / f"{name}.o" for name in SOURCES]
    if all(p.is_file() for p in objects):
        return objects
    folder.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(folder) + ".lock"):
        if all(p.is_file() for p in objects):
            return objects
        log("building the TVM web runtime (once per machine, about a minute)")
        scratch = Path(tempfile.mkdtemp(prefix=folder.name + "-", dir=folder.parent))
        try:
            _build(scratch)
            shutil.rmtree(folder, ignore_errors=True)  # a build of the same key left half-done
            os.replace(scratch, folder)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    return objects


def _build(out: Path) -> None:
    tvm_root, ffi_root = _packages()
    shim = out / "tree"
    # wasm_runtime.cc includes tvm-ffi's sources as "3rdparty/tvm-ffi/src/ffi/*.cc", as they
    # lie in a TVM checkout; the apache-tvm-ffi wheel holds them.
    (shim / "3rdparty").mkdir(parents=True)
    (shim / "3rdparty" / "tvm-ffi").symlink_to(ffi_root, target_is_directory=True)
    flags = [*FLAGS, *_include_flags(tvm_root, ffi_root, shim)]

    def compile_one(name: str) -> subprocess.CompletedProcess[str]:
        source = tvm_root / "web" / "emcc" / f"{name}.cc"
        command = [emcc(), *flags, "-c", "-o", str(out / f"{name}.o"), str(source)]
        return subprocess.run(command, capture_output=True, text=True, check=False)

    with ThreadPoolExecutor(max_workers=len(SOURCES)) as pool:
        results = list(pool.map(compile_one, SOURCES))
    shutil.rmtree(shim)
    for name, done in zip(SOURCES, results, strict=False):
        if done.returncode != 0:
            raise RuntimeBuildError(f"building {name}.cc failed:\n{done.stderr[-4000:]}")
