"""llama.cpp's own server, `llama-server`, for benchmarks that need a server with parallel slots
(llama-cpp-python's server has one). It is built from the llama.cpp sources that the installed
llama-cpp-python's sdist vendors (from PyPI), once per machine, and kept in the build cache:

    <build cache>/llama-server/<key>/llama-server    key: the sdist's version and the cmake options
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from importlib import metadata
from pathlib import Path

from filelock import FileLock

from desktop_llm.paths import build_cache
from tests.support.openai_servers import BUILT_IN_GGUF, SERVED_NAME, LlamaCppServer

CMAKE_OPTIONS = [
    "-DCMAKE_BUILD_TYPE=Release",
    "-DBUILD_SHARED_LIBS=OFF",
    "-DLLAMA_CURL=OFF",
    "-DLLAMA_BUILD_TESTS=OFF",
    "-DLLAMA_BUILD_EXAMPLES=OFF",
    "-DLLAMA_BUILD_SERVER=ON",
    "-DGGML_NATIVE=ON",  # as pip builds llama-cpp-python here, so the two compare fairly
]


def ensure() -> Path:
    """The llama-server binary, built first if this machine has none for these inputs."""
    version = metadata.version("llama_cpp_python")
    key = hashlib.sha256(f"{version}|{' '.join(CMAKE_OPTIONS)}".encode()).hexdigest()[:16]
    folder = build_cache() / "llama-server" / key
    binary = folder / "llama-server"
    if binary.is_file():
        return binary
    folder.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(folder) + ".lock"):
        if binary.is_file():
            return binary
        with tempfile.TemporaryDirectory() as work:
            scratch = Path(work)
            subprocess.run(
                [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                 "--no-binary", ":all:", f"llama-cpp-python=={version}", "-d", str(scratch)],
                check=True,
            )  # fmt: skip
            (sdist,) = scratch.glob("llama_cpp_python-*.tar.gz")
            with tarfile.open(sdist) as archive:
                archive.extractall(scratch, filter="data")
            source = next(scratch.glob("llama_cpp_python-*/vendor/llama.cpp"))
            build = scratch / "build"
            configure = ["cmake", "-S", str(source), "-B", str(build), *CMAKE_OPTIONS]
            subprocess.run(configure, check=True)
            subprocess.run(
                ["cmake", "--build", str(build), "--target", "llama-server",
                 "--parallel", str(os.cpu_count() or 2)],
                check=True,
            )  # fmt: skip
            folder.mkdir(exist_ok=True)
            staged = folder / ".llama-server"
            shutil.copy2(build / "bin" / "llama-server", staged)
            staged.replace(binary)
    return binary


class LlamaServer(LlamaCppServer):
    """`llama-server` with `slots` parallel slots, each with a context of `n_ctx` tokens."""

    def __init__(self, n_ctx: int = 4096, slots: int = 4, threads: int = 2):
        super().__init__(n_ctx=n_ctx, threads=threads)
        self.command = [
            str(ensure()), "--model", str(BUILT_IN_GGUF), "--alias", SERVED_NAME,
            "--host", "127.0.0.1", "--port", str(self.port),
            "--ctx-size", str(n_ctx * slots), "--parallel", str(slots),
            "--threads", str(threads), "--threads-batch", str(threads),
            "--api-key", self.key, "--log-disable",
        ]  # fmt: skip
