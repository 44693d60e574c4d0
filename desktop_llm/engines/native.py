"""The native CPU engine: llama.cpp through llama-cpp-python (the `native` extra), serving one
GGUF model from the store as an OpenAI-compatible server on a loopback port, behind a key made
for this launch. It runs inside this process (a thread, not a program started on the page's
behalf), and the page reaches it exactly as it reaches a remote server.

llama.cpp compiled for this CPU (AVX2 and wider where there is one) reads a prompt several times
faster than the same code in WebAssembly (docs/benchmarks.md), so GGUF models run here when the
extra is installed, and in the page (wllama) otherwise.
"""

from __future__ import annotations

import importlib.util
import os
import re
import secrets
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from desktop_llm.engines.servers import RemoteServer

if TYPE_CHECKING:
    from desktop_llm.server import ThreadedServer

NATIVE_ID = "native"


def available() -> bool:
    return importlib.util.find_spec("llama_cpp") is not None


def physical_cores() -> int:
    """Threads for llama.cpp: a second hyper-thread on a core only slows its matrix loops."""
    try:
        pairs = re.findall(
            r"^physical id\s*:\s*(\d+).*?^core id\s*:\s*(\d+)",
            Path("/proc/cpuinfo").read_text(),
            re.MULTILINE | re.DOTALL,
        )
    except OSError:
        pairs = []
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
        self._server: ThreadedServer | None = None
        self._loaded: _Loaded | None = None
        self._key = secrets.token_urlsafe(24)

    @property
    def loaded(self) -> _Loaded | None:
        return self._loaded

    def server(self) -> RemoteServer | None:
        if self._server is None:
            return None
        port = self._server.port
        return RemoteServer(
            id=NATIVE_ID,
            name="Native CPU engine",
            base_url=f"http://127.0.0.1:{port}/v1",
            api_key=self._key,
            context_window=self._loaded.context if self._loaded else 0,
        )

    def load(self, model_id: str, path: Path, context: int, threads: int) -> RemoteServer:
        """Serve this model (returns at once when it is already served so)."""
        wanted = _Loaded(model_id, path, context, threads or physical_cores())
        with self._lock:
            if self._loaded != wanted:
                self._stop()
                self._start(wanted)
            server = self.server()
        assert server is not None
        return server

    def stop(self) -> None:
        with self._lock:
            self._stop()

    def _start(self, wanted: _Loaded) -> None:
        # Imported here: llama_cpp loads its shared library on import.
        from llama_cpp.server.app import create_app
        from llama_cpp.server.settings import ModelSettings, ServerSettings

        from desktop_llm.server import ThreadedServer, bind_loopback

        app = create_app(
            server_settings=ServerSettings(
                host="127.0.0.1",
                port=0,
                api_key=self._key,
                # Requests wait their turn (parallel summary parts) instead of cutting off the one
                # being answered.
                interrupt_requests=False,
                disable_ping_events=True,
            ),
            model_settings=[
                ModelSettings(
                    model=str(wanted.path),
                    model_alias=wanted.model_id,
                    n_ctx=wanted.context,
                    n_threads=wanted.threads,
                    n_threads_batch=wanted.threads,
                    n_batch=512,
                    n_ubatch=512,
                    verbose=False,
                )
            ],
        )
        self._server = ThreadedServer(app, bind_loopback(0), "native-engine").start()
        self._loaded = wanted

    def _stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None
        if self._loaded is not None:
            from llama_cpp.server import app as served

            proxy = served._llama_proxy
            if proxy is not None:
                proxy.free()  # the weights go now, not when the next model replaces them
                served._llama_proxy = None
            self._loaded = None
