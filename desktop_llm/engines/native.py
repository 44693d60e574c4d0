"""The native CPU engine: llama.cpp's own server, `llama-server`, serving one GGUF model from the
store on a loopback port behind a key made for this launch. The page reaches it exactly as it
reaches a remote server (through the bridge, never directly).

    desktop_llm/_engine/                 built by scripts/build_llama_server.py (`./dev setup`)
    ├── avx512/llama-server(.exe)        x86: for CPUs with AVX-512 (VNNI, VBMI, BF16)
    ├── avx2/llama-server(.exe)          x86: for CPUs with AVX2, FMA and F16C
    └── default/llama-server(.exe)       other processors (ARM): the compiler's baseline

The fastest build this CPU can run is used. llama.cpp compiled with wide vector instructions
reads a prompt several times faster than the same code in WebAssembly, whose SIMD is 128 bits
wide (docs/benchmarks.md), so GGUF models run here when a build fits, and in the page (wllama)
otherwise.

It runs as a process of its own, not in the app's: its threads never wait for the app's Python
(the GIL) between tokens, and a model file that crashes llama.cpp cannot take the window down.
What it is started with is fixed here: the binary beside the package, a model file the store
resolved from its id, and whole numbers the bridge has checked. Nothing the page sends reaches
its command line as text.
"""

from __future__ import annotations

import ctypes
import functools
import http.client
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from desktop_llm.constants import LOOPBACK, NATIVE_ENGINE_DIR
from desktop_llm.engines.servers import RemoteServer

NATIVE_ID = "native"
BINARY_NAME = "llama-server.exe" if sys.platform == "win32" else "llama-server"
LOAD_TIMEOUT = 300.0  # seconds for the model to load (a large model from a slow disk)
STOP_TIMEOUT = 5.0


# The builds, fastest first, with the CPU features each needs (as Linux's /proc/cpuinfo names
# them; the compiler flags behind each are in scripts/build_llama_server.py).
BUILDS: dict[str, tuple[str, ...]] = {
    "avx512": ("avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl", "avx512_vnni",
               "avx512vbmi", "avx512_bf16", "avx2", "fma", "f16c", "bmi2"),
    "avx2": ("avx", "avx2", "fma", "f16c", "bmi2"),
    "default": (),
}  # fmt: skip


def binary() -> Path | None:
    return _choose()[0]


def available() -> bool:
    return binary() is not None


def describe() -> dict[str, str | bool]:
    """For Diagnostics: whether GGUF models can run natively here, on which build, or why not."""
    found, build_or_reason = _choose()
    if found is None:
        return {"available": False, "reason": build_or_reason}
    return {"available": True, "build": build_or_reason, "path": str(found)}


def _choose() -> tuple[Path | None, str]:
    """The fastest installed build this CPU runs, and its name; else None and the reason."""
    installed = {
        name: path
        for name in BUILDS
        if (path := NATIVE_ENGINE_DIR / name / BINARY_NAME).is_file() and os.access(path, os.X_OK)
    }
    if not installed:
        return None, "llama-server is not installed beside the app"
    features = _cpu_features()
    for name, path in installed.items():
        # Where the features cannot be read (not Linux), only the least demanding x86 build.
        if features is None and name == "avx512":
            continue
        if features is None or features.issuperset(BUILDS[name]):
            return path, name
    builds = " or ".join(installed)
    return None, f"this processor lacks instructions the {builds} build of llama-server needs"


@functools.cache
def _cpuinfo() -> str | None:
    """Linux's description of the processors (read once: it does not change while we run)."""
    try:
        return Path("/proc/cpuinfo").read_text()
    except OSError:
        return None


def _cpu_features() -> set[str] | None:
    found = re.search(r"^flags\s*:(.*)$", _cpuinfo() or "", re.MULTILINE)
    return set(found.group(1).split()) if found else None


def physical_cores() -> int:
    """Threads for llama.cpp: a second hyper-thread on a core only slows its matrix loops."""
    pairs = re.findall(
        r"^physical id\s*:\s*(\d+).*?^core id\s*:\s*(\d+)",
        _cpuinfo() or "",
        re.MULTILINE | re.DOTALL,
    )
    return len(set(pairs)) or os.cpu_count() or 1


@dataclass(frozen=True)
class _Loaded:
    model_id: str
    path: Path
    context: int
    threads: int


class NativeEngine:
    """At most one model at a time; loading another replaces it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._port = 0
        self._loaded: _Loaded | None = None
        self._key = secrets.token_urlsafe(24)
        # One long-lived thread starts the engine: on Linux the engine is told to end with the
        # thread that started it (see _ending_with_parent), and the bridge's worker threads come
        # and go.
        self._starter = ThreadPoolExecutor(max_workers=1, thread_name_prefix="native-engine")

    @property
    def loaded(self) -> _Loaded | None:
        return self._loaded

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def server(self) -> RemoteServer | None:
        if self._process is None or self._loaded is None:
            return None
        return RemoteServer(
            id=NATIVE_ID,
            name="Native CPU engine",
            base_url=f"http://{LOOPBACK}:{self._port}/v1",
            api_key=self._key,
            context_window=self._loaded.context,
        )

    def load(self, model_id: str, path: Path, context: int, threads: int) -> RemoteServer:
        """Serve this model (returns at once when it is already served so). Raises RuntimeError
        with llama.cpp's own last words when it cannot."""
        wanted = _Loaded(model_id, path, context, threads or physical_cores())
        with self._lock:
            running = self._process is not None and self._process.poll() is None
            if self._loaded != wanted or not running:
                self._stop()
                self._starter.submit(self._start, wanted).result()
            server = self.server()
        assert server is not None
        return server

    def stop(self) -> None:
        with self._lock:
            self._stop()

    def _start(self, wanted: _Loaded) -> None:
        found = binary()
        if found is None:
            raise RuntimeError(f"{BINARY_NAME} is not installed beside the app")
        self._port = _free_port()
        # llama.cpp's messages, for the error if it fails; closed by _stop.
        self._log = tempfile.TemporaryFile()  # noqa: SIM115
        command = [
            str(found),
            "--model", str(wanted.path),
            "--alias", wanted.model_id,
            "--host", LOOPBACK,
            "--port", str(self._port),
            "--ctx-size", str(wanted.context),
            "--parallel", "1",  # the page sends one request at a time (summaries too)
            "--threads", str(wanted.threads),
            "--threads-batch", str(wanted.threads),
            "--batch-size", "512",
            "--ubatch-size", "512",
            "--cache-ram", "0",  # no copies of earlier prompts' caches: memory stays the model's
            "--no-webui",
            "--flash-attn", "off",
            "--no-warmup",  # the first answer warms it instead of every load
            "--fit", "off",  # the sizes are given above; finding them anew doubles a small load
            "--log-verbosity", "1",  # errors only (for _last_words)
        ]  # fmt: skip
        prefix, preexec = _ending_with_parent()
        self._process = subprocess.Popen(
            [*prefix, *command],
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            # In the environment, not the command line, which every user of the computer can read.
            env={**os.environ, "LLAMA_API_KEY": self._key},
            preexec_fn=preexec,
        )
        self._loaded = wanted
        try:
            self._wait_ready(wanted)
        except BaseException:
            self._stop()
            raise

    def _wait_ready(self, wanted: _Loaded) -> None:
        """Until /health says the model is loaded (llama-server answers 503 while it loads)."""
        assert self._process is not None
        deadline = time.monotonic() + LOAD_TIMEOUT
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(self._last_words() or "llama.cpp ended while loading")
            # http.client, not httpx: a new httpx client costs more than a small model's load.
            health = http.client.HTTPConnection(LOOPBACK, self._port, timeout=2.0)
            try:
                health.request("GET", "/health")
                if health.getresponse().status == 200:
                    return
            except OSError:
                pass  # not listening yet
            finally:
                health.close()
            time.sleep(0.005)
        raise RuntimeError(f"llama.cpp did not load {wanted.path.name} in {LOAD_TIMEOUT:g} s")

    def _last_words(self) -> str:
        """The last error llama.cpp wrote, for the user (its log is otherwise not kept)."""
        if self._log is None:
            return ""
        self._log.seek(0)
        lines = self._log.read().decode("utf-8", "replace").splitlines()
        errors = [line for line in lines if "error" in line.lower()] or lines
        return errors[-1].strip()[:300] if errors else ""

    def _stop(self) -> None:
        process, self._process, self._loaded = self._process, None, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        return int(probe.getsockname()[1])


_libc_prctl = ctypes.CDLL(None).prctl if sys.platform.startswith("linux") else None
_PR_SET_PDEATHSIG = 1
# util-linux's setpriv, at its fixed places (never looked up on PATH).
_SETPRIV = next(
    (path for path in ("/usr/bin/setpriv", "/bin/setpriv") if os.access(path, os.X_OK)), None
)


def _ending_with_parent() -> tuple[list[str], Callable[[], None] | None]:
    """What makes the engine end with the app on Linux, even when the app is killed with
    SIGKILL: the kernel's parent-death signal, set between fork and exec. A command to put
    before llama-server's (setpriv sets it, then becomes llama-server), else a function for
    Popen to run there. setpriv first: with a preexec_fn Python must fork() the whole app
    instead of vfork(), which costs a load 10-30 ms in an app of a few hundred MB."""
    if not sys.platform.startswith("linux"):
        return [], None
    if _SETPRIV is not None:
        return [_SETPRIV, "--pdeathsig", "KILL", "--"], None
    return [], _end_with_parent


def _end_with_parent() -> None:
    """Runs in the engine's process before llama-server starts (where setpriv is missing)."""
    if _libc_prctl is not None:
        _libc_prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
