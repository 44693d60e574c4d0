"""Build llama.cpp's server for the native CPU engine and put it where the app looks for it:

    desktop_llm/_engine/<build>/llama-server    x86: avx512 and avx2; other processors: default

The sources are the llama.cpp that llama-cpp-python's sdist vendors (PyPI is where this project
gets its packages). Each build is for a level of CPU, not for this one, so the installers can
carry them: the app runs the fastest one the user's CPU has the instructions for
(desktop_llm/engines/native.py). Builds are kept in the build cache, keyed by their inputs, so
each machine compiles them once (about 4 minutes each on 2 cores):

    <build cache>/llama-server/<key>/llama-server    key: the sdist and the cmake options

Used by `./dev setup`; the app itself never builds anything.
"""

from __future__ import annotations

import hashlib
import os
import platform
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
]
# Which vector instructions a build may use (native.BUILDS lists the CPU features each needs).
CPU_VARIANTS = {
    "native": ["-DGGML_NATIVE=ON"],  # everything this CPU has: for benchmarks, never shipped
    # 512-bit AVX-512 with VNNI, VBMI and BF16: Intel Xeon since Sapphire Rapids, AMD since Zen 4
    "avx512": [
        "-DGGML_NATIVE=OFF", "-DGGML_AVX512=ON", "-DGGML_AVX512_VBMI=ON",
        "-DGGML_AVX512_VNNI=ON", "-DGGML_AVX512_BF16=ON",
    ],
    # 256-bit AVX2 with FMA and F16C (x86-64-v3): every x86 CPU sold since about 2015
    "avx2": ["-DGGML_NATIVE=OFF", "-DGGML_AVX512=OFF"],
    # 128-bit SSE only, as wide as WebAssembly's SIMD: for measuring what the width costs
    "sse": [
        "-DGGML_NATIVE=OFF", "-DGGML_SSE42=ON", "-DGGML_AVX=OFF", "-DGGML_AVX2=OFF",
        "-DGGML_BMI2=OFF", "-DGGML_FMA=OFF", "-DGGML_F16C=OFF", "-DGGML_AVX512=OFF",
    ],
    "default": ["-DGGML_NATIVE=OFF"],  # the compiler's baseline for processors other than x86
}  # fmt: skip
SHIPPED = ("avx512", "avx2") if platform.machine().lower() in ("x86_64", "amd64") else ("default",)


def cached_build(variant: str) -> Path:
    """The binary in the build cache, compiled first if this machine has none for these inputs."""
    options = [*CMAKE_OPTIONS, *CPU_VARIANTS[variant]]
    key = hashlib.sha256(f"{SDIST}|{' '.join(options)}".encode()).hexdigest()[:16]
    folder = build_cache() / "llama-server" / key
    built = folder / BINARY_NAME
    if built.is_file():
        return built
    folder.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(folder) + ".lock"):
        if not built.is_file():
            _compile(folder, options)
    return built


def _compile(folder: Path, options: list[str]) -> None:
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
        subprocess.run(["cmake", "-S", str(source), "-B", str(build), *options], check=True)
        subprocess.run(
            ["cmake", "--build", str(build), "--target", "llama-server", "--config", "Release",
             "--parallel", str(os.cpu_count() or 2)],
            check=True,
        )  # fmt: skip
        folder.mkdir(exist_ok=True)
        staged = folder / f".{BINARY_NAME}"
        # bin/ with Make and Ninja; bin/Release/ with Visual Studio's generator
        shutil.copy2(next(build.glob(f"bin/**/{BINARY_NAME}")), staged)
        staged.replace(folder / BINARY_NAME)


def install() -> list[Path]:
    """Copy the cached builds beside the package (each replaced whole, never half-written)."""
    installed = []
    for variant in SHIPPED:
        built = cached_build(variant)
        target = NATIVE_ENGINE_DIR / variant / BINARY_NAME
        installed.append(target)
        # copy2 keeps the modification time: the same size and time is the same build, unread.
        if target.is_file() and _stamp(target) == _stamp(built):
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        staged = target.with_name(f".{BINARY_NAME}")
        shutil.copy2(built, staged)
        staged.replace(target)
    (NATIVE_ENGINE_DIR / BINARY_NAME).unlink(missing_ok=True)  # where one build used to go
    return installed


def _stamp(path: Path) -> tuple[int, int]:
    found = path.stat()
    return found.st_size, found.st_mtime_ns


if __name__ == "__main__":
    for path in install():
        print(f"native engine: {path}")
