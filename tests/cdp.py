"""A minimal Chrome DevTools Protocol client, to drive the real pywebview Qt window in tests
(QtWebEngine opens the protocol when QTWEBENGINE_REMOTE_DEBUGGING is set; the app never sets it)."""

from __future__ import annotations

import contextlib
import itertools
import json
import time
import urllib.request

from websockets.sync.client import connect as _connect


def connect(url: str, **kwargs):
    return _connect(url, **kwargs).__enter__()


class CDPPage:
    def __init__(self, debug_port: int, url_prefix: str, timeout: float = 60.0):
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{debug_port}/json", timeout=2) as r:
                    targets = json.load(r)
                page = next(
                    t for t in targets if t["type"] == "page" and t["url"].startswith(url_prefix)
                )
                break
            except (OSError, StopIteration, ValueError):
                if time.monotonic() > deadline:
                    raise TimeoutError("the webview's page never appeared") from None
                time.sleep(0.2)
        self.url = page["url"]
        self._ws = connect(page["webSocketDebuggerUrl"], max_size=None, open_timeout=10)
        self._ids = itertools.count(1)

    def send(self, method: str, params: dict | None = None) -> dict:
        message_id = next(self._ids)
        self._ws.send(json.dumps({"id": message_id, "method": method, "params": params or {}}))
        while True:
            reply = json.loads(self._ws.recv(timeout=30))
            if reply.get("id") == message_id:
                if "error" in reply:  # e.g. the page navigated while we asked
                    raise RuntimeError(reply["error"])
                return reply["result"]

    def evaluate(self, expression: str):
        result = self.send(
            "Runtime.evaluate",
            {"expression": expression, "awaitPromise": True, "returnByValue": True},
        )
        if "exceptionDetails" in result:
            raise RuntimeError(result["exceptionDetails"])
        return result["result"].get("value")

    def wait_until(self, expression: str, timeout: float = 60.0):
        deadline = time.monotonic() + timeout
        while True:
            try:
                value = self.evaluate(expression)
            except RuntimeError:  # the page is still loading
                value = None
            if value:
                return value
            if time.monotonic() > deadline:
                raise TimeoutError(f"still false after {timeout} s: {expression}")
            time.sleep(0.1)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._ws.close()
