"""Build llama.cpp's server for the native CPU engine and put it where the app looks for it:

    desktop_llm/_engine/llama-server

The sources are the llama.cpp that llama-cpp-python's sdist vendors (PyPI is where this project
gets its packages). The build is made for this CPU (GGML_NATIVE) and kept in the build cache,
keyed by its inputs, so each machine compiles it once (about 4 minutes on 2 cores):

    <build cache>/llama-server/<key>/llama-server    key: the sdist and the cmake options

Used by `./dev setup`; the app itself never builds anything.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from filelock import FileLock

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from desktop_llm.constants import NATIVE_ENGINE_DIR  # noqa: E402
from desktop_llm.engines.native import BINARY_NAME  # noqa: E402
from desktop_llm.paths import build_cache  # noqa: E402

SDIST = "llama-cpp-python==0.3.36"
CMAKE_OPTIONS = [
    "-DCMAKE_BUILD_TYPE=Release",
    "-DBUILD_SHARED_LIBS=OFF",
    "-DLLAMA_CURL=OFF",
    "-DLLAMA_BUILD_TESTS=OFF",
    "-DLLAMA_BUILD_EXAMPLES=OFF",
    "-DLLAMA_BUILD_SERVER=ON",
    "-DGGML_NATIVE=ON",
]


def cached_build() -> Path:
    """The binary in the build cache, compiled first if this machine has none for these inputs."""
    key = hashlib.sha256(f"{SDIST}|{' '.join(CMAKE_OPTIONS)}".encode()).hexdigest()[:16]
    folder = build_cache() / "llama-server" / key
    built = folder / BINARY_NAME
    if built.is_file():
        return built
    folder.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(folder) + ".lock"):
        if not built.is_file():
            _compile(folder)
    return built


def _compile(folder: Path) -> None:
    with tempfile.TemporaryDirectory() as work:
        scratch = Path(work)
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
             "--no-binary", ":all:", SDIST, "-d", str(scratch)],
            check=True,
        )  # fmt: skip
        (sdist,) = scratch.glob("llama_cpp_python-*.tar.gz")
        with tarfile.open(sdist) as archive:
            archive.extractall(scratch, filter="data")
        source = next(scratch.glob("llama_cpp_python-*/vendor/llama.cpp"))
        build = scratch / "build"
        subprocess.run(["cmake", "-S", str(source), "-B", str(build), *CMAKE_OPTIONS], check=True)
        subprocess.run(
            ["cmake", "--build", str(build), "--target", "llama-server",
             "--parallel", str(os.cpu_count() or 2)],
            check=True,
        )  # fmt: skip
        folder.mkdir(exist_ok=True)
        staged = folder / f".{BINARY_NAME}"
        shutil.copy2(build / "bin" / BINARY_NAME, staged)
        staged.replace(folder / BINARY_NAME)


def install() -> Path:
    """Copy the cached build beside the package (replaced whole, never half-written)."""
    built = cached_build()
    target = NATIVE_ENGINE_DIR / BINARY_NAME
    # copy2 keeps the modification time: the same size and time is the same build, unread.
    if target.is_file() and _stamp(target) == _stamp(built):
        return target
    NATIVE_ENGINE_DIR.mkdir(exist_ok=True)
    staged = NATIVE_ENGINE_DIR / f".{BINARY_NAME}"
    shutil.copy2(built, staged)
    staged.replace(target)
    return target


def _stamp(path: Path) -> tuple[int, int]:
    found = path.stat()
    return found.st_size, found.st_mtime_ns


if __name__ == "__main__":
    print(f"native engine: {install()}")
