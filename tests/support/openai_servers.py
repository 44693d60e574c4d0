"""OpenAI-compatible servers on loopback for the remote-engine tests and benchmarks.

- `LlamaCppServer`: the real thing, llama-cpp-python's server (llama.cpp) in its own process,
  serving the built-in GGUF the way a user's server on another machine would.
- `StubServer`: stands in for what that server cannot be made to do here: refuse a key (401),
  be rate limited (429), die mid-answer, never answer, answer as something that is not an
  OpenAI server, or serve several requests at once (vLLM's continuous batching, which needs a
  GPU). It counts what it saw so tests can assert on it.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from desktop_llm.constants import EMBEDDED_DIR, EMBEDDED_MODEL_FILE
from desktop_llm.server import ThreadedServer, bind_loopback

BUILT_IN_GGUF = EMBEDDED_DIR / EMBEDDED_MODEL_FILE
SERVED_NAME = "smollm2-on-server"


class LlamaCppServer:
    """`python -m llama_cpp.server` in a child process, behind an API key."""

    def __init__(self, model: Path = BUILT_IN_GGUF, n_ctx: int = 2048, threads: int = 2):
        self.key = "sk-test-" + secrets.token_hex(16)
        sock = bind_loopback(0)
        self.port = sock.getsockname()[1]
        sock.close()
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self.n_ctx = n_ctx
        self.command = [
            sys.executable, "-m", "llama_cpp.server",
            "--model", str(model), "--model_alias", SERVED_NAME,
            "--host", "127.0.0.1", "--port", str(self.port),
            "--n_ctx", str(n_ctx), "--n_threads", str(threads), "--n_threads_batch", str(threads),
            "--api_key", self.key, "--interrupt_requests", "False", "--verbose", "False",
        ]  # fmt: skip
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 60) -> LlamaCppServer:
        # Its log goes to a file: a pipe nobody reads would fill and stop the server.
        self.log = tempfile.TemporaryFile()  # noqa: SIM115  # open while the server runs
        self.process = subprocess.Popen(
            self.command, stdout=self.log, stderr=subprocess.STDOUT, env=os.environ.copy()
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.log.seek(0)
                raise RuntimeError(self.log.read().decode()[-2000:])
            try:
                answer = httpx.get(
                    f"{self.base_url}/models", headers={"Authorization": f"Bearer {self.key}"}
                )
                if answer.status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError("llama_cpp.server did not start")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()


@dataclass
class StubServer:
    """A loopback stand-in; `mode` picks its behaviour for chat completions:
    ok, unauthorized, rate-limited, dies, silent, not-openai, slow (a token every 0.2 s until
    the client goes away)."""

    mode: str = "ok"
    answer_delay: float = 0.5  # seconds before an "ok" answer: long enough to overlap requests
    models: list[str] = field(default_factory=lambda: ["stub-model"])
    active: int = 0
    most_at_once: int = 0
    requests: list[dict] = field(default_factory=list)
    disconnected_at: float | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> StubServer:
        app = Starlette(
            routes=[
                Route("/v1/models", self._models),
                Route("/v1/chat/completions", self._chat, methods=["POST"]),
            ]
        )
        self._server = ThreadedServer(app, bind_loopback(0), "stub-openai").start()
        self.base_url = f"{self._server.origin}/v1"
        return self

    def stop(self) -> None:
        self._server.stop()

    async def _models(self, request: Request) -> Response:
        if self.mode == "not-openai":
            return Response("<html><body>Welcome to nginx!</body></html>", media_type="text/html")
        if self.mode == "unauthorized":
            return JSONResponse({"error": {"message": "Invalid API key"}}, status_code=401)
        return JSONResponse(
            {
                "object": "list",
                "data": [{"id": m, "object": "model", "max_model_len": 1024} for m in self.models],
            }
        )

    async def _chat(self, request: Request) -> Response:
        body = await request.json()
        self.requests.append(body)
        if self.mode == "unauthorized":
            return JSONResponse({"error": {"message": "Invalid API key"}}, status_code=401)
        if self.mode == "rate-limited":
            return JSONResponse(
                {"error": {"message": "Too many requests"}},
                status_code=429,
                headers={"Retry-After": "17"},
            )
        if self.mode == "not-openai":
            return Response("<html>nginx</html>", media_type="text/html")
        if self.mode == "silent":
            await asyncio.sleep(3600)
        if self.mode == "context":
            message = (
                "This model's maximum context length is 1024 tokens. "
                "However, you requested 5000 tokens."
            )
            return JSONResponse({"error": {"message": message}}, status_code=400)
        return StreamingResponse(self._stream(request), media_type="text/event-stream")

    async def _stream(self, request: Request):
        with self._lock:
            self.active += 1
            self.most_at_once = max(self.most_at_once, self.active)
        try:
            if self.mode == "ok":
                await asyncio.sleep(self.answer_delay)
                for word in ["The ", "part ", "is ", "summarized."]:
                    yield _chunk(word)
                yield _chunk("", "stop")
                yield "data: [DONE]\n\n"
            elif self.mode == "dies":
                for word in ["Half ", "an ", "answer"]:
                    yield _chunk(word)
                    await asyncio.sleep(0.05)
                raise ConnectionResetError("the server died")  # the connection drops
            elif self.mode == "slow":
                try:
                    for n in range(100_000):
                        yield _chunk(f"w{n} ")
                        await asyncio.sleep(0.2)
                finally:
                    self.disconnected_at = time.monotonic()
        finally:
            with self._lock:
                self.active -= 1


def _chunk(text: str, finish: str | None = None) -> str:
    choice = {"index": 0, "delta": {"content": text} if text else {}, "finish_reason": finish}
    return f"data: {json.dumps({'object': 'chat.completion.chunk', 'choices': [choice]})}\n\n"
