"""llama.cpp's own server, `llama-server`, for benchmarks that need a server with parallel slots
(llama-cpp-python's server has one). It is the native engine's binary, which `./dev setup` builds
once per machine (scripts/build_llama_server.py)."""

from __future__ import annotations

from pathlib import Path

import httpx

from desktop_llm.engines.native import binary
from tests.support.openai_servers import BUILT_IN_GGUF, SERVED_NAME, LlamaCppServer


class LlamaServer(LlamaCppServer):
    """`llama-server` with `slots` parallel slots, each with a context of `n_ctx` tokens, and its
    Prometheus counters on (`decode_counters`)."""

    def __init__(
        self, n_ctx: int = 4096, slots: int = 4, threads: int = 2, program: Path | None = None
    ):
        super().__init__(n_ctx=n_ctx, threads=threads)
        found = program or binary()
        if found is None:
            raise SystemExit("llama-server is not built: run ./dev setup")
        self.command = [
            str(found), "--model", str(BUILT_IN_GGUF), "--alias", SERVED_NAME,
            "--host", "127.0.0.1", "--port", str(self.port),
            "--ctx-size", str(n_ctx * slots), "--parallel", str(slots),
            "--threads", str(threads), "--threads-batch", str(threads),
            "--api-key", self.key, "--log-disable", "--metrics",
        ]  # fmt: skip

    def decode_counters(self) -> tuple[float, float]:
        """Tokens the server has written so far, and the seconds it spent writing them."""
        text = httpx.get(
            f"http://127.0.0.1:{self.port}/metrics", headers={"Authorization": f"Bearer {self.key}"}
        ).text
        values = dict(
            line.split()[:2] for line in text.splitlines() if line and not line.startswith("#")
        )
        return (
            float(values["llamacpp:tokens_predicted_total"]),
            float(values["llamacpp:tokens_predicted_seconds_total"]),
        )
