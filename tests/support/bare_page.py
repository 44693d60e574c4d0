"""The bare engine page (bare_wllama/): wllama straight from node_modules and the built-in model
straight from disk, with nothing of the app around it, served on loopback with COOP/COEP so that
it gets wasm threads like the app. The anchor for benchmarks, and llama.cpp's own tokenizer for
tests."""

from __future__ import annotations

import http.server
import threading
from pathlib import Path

from desktop_llm.constants import EMBEDDED_DIR, EMBEDDED_MODEL_FILE

ROOT = Path(__file__).resolve().parents[2]
PAGE = Path(__file__).with_name("bare_wllama")


class _IsolatedHandler(http.server.SimpleHTTPRequestHandler):
    ROUTES: dict[str, Path] = {}

    def translate_path(self, path: str) -> str:
        path = path.split("?", 1)[0]
        for prefix, folder in self.ROUTES.items():
            if path.startswith(prefix):
                return str(folder / path[len(prefix) :])
        return str(PAGE / path.lstrip("/"))

    def end_headers(self) -> None:
        self.send_header("Cross-Origin-Opener-Policy", "same-origin")
        self.send_header("Cross-Origin-Embedder-Policy", "require-corp")
        super().end_headers()

    def log_message(self, *args: object) -> None:
        pass


def serve_bare() -> tuple[http.server.ThreadingHTTPServer, str]:
    """Start the page's server; returns it (call .shutdown()) and the page's URL."""
    _IsolatedHandler.ROUTES = {
        "/wllama/": ROOT / "ui/node_modules/@wllama/wllama/esm",
        "/model.gguf": EMBEDDED_DIR / EMBEDDED_MODEL_FILE,
    }
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _IsolatedHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/index.html"
