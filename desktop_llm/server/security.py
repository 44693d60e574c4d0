"""The local server's security contract with the page.

- Only requests whose Host is our own loopback origin are answered (DNS-rebinding defence).
- A per-launch secret lives in an HttpOnly, SameSite=Strict cookie. The window gets it by opening
  `/?launch=<code>` with a one-time code that expires within seconds; the server swaps the code
  for the cookie and redirects to `/`, so the secret itself is never in a URL or in history.
- Every /api and /models request must carry the cookie (compared in constant time); every /api
  request that changes something must also carry the `X-Desktop-LLM` header, which no other
  origin can add without a CORS preflight that this server never answers.
- Every answer carries a strict Content-Security-Policy and COOP/COEP (wasm threads need
  crossOriginIsolated).
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections.abc import MutableMapping
from typing import Any

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from desktop_llm.constants import CSRF_HEADER, SESSION_COOKIE

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self' 'wasm-unsafe-eval'",
        "worker-src 'self' blob:",
        "connect-src 'self'",
        "img-src 'self' data: blob:",
        "style-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "frame-src 'none'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ]
)

SECURITY_HEADERS = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-embedder-policy", b"require-corp"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
]

LAUNCH_CODE_TTL = 120.0  # seconds a window has to open its launch URL


class Session:
    """The per-launch secret and the one-time codes that hand it to a window."""

    def __init__(self) -> None:
        self.secret = secrets.token_urlsafe(32)
        self._codes: dict[str, float] = {}
        self._lock = threading.Lock()

    def new_launch_code(self) -> str:
        code = secrets.token_urlsafe(24)
        with self._lock:
            self._codes[code] = time.monotonic() + LAUNCH_CODE_TTL
        return code

    def redeem(self, code: str) -> bool:
        now = time.monotonic()
        with self._lock:
            self._codes = {c: t for c, t in self._codes.items() if t > now}
            for known in list(self._codes):
                if hmac.compare_digest(known.encode(), code.encode("utf-8", "replace")):
                    del self._codes[known]
                    return True
        return False

    def is_valid(self, cookie_value: str | None) -> bool:
        # As bytes: compare_digest refuses non-ASCII text, which a cookie can carry.
        return cookie_value is not None and hmac.compare_digest(
            cookie_value.encode("utf-8", "replace"), self.secret.encode()
        )

    def cookie_header(self) -> str:
        return f"{SESSION_COOKIE}={self.secret}; Path=/; HttpOnly; SameSite=Strict"


class GuardMiddleware:
    """Refuses foreign Hosts, enforces the session on /api and /models, adds security headers."""

    def __init__(self, app: ASGIApp, session: Session, allowed_hosts: set[str]):
        self.app = app
        self.session = session
        self.allowed_hosts = allowed_hosts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        refusal = self._refusal(scope, headers)
        if refusal is not None:
            status, message = refusal
            await _plain(send, status, message)
            return

        async def send_with_headers(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = list(message.get("headers", [])) + SECURITY_HEADERS
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _refusal(self, scope: Scope, headers: Headers) -> tuple[int, str] | None:
        if headers.get("host", "").lower() not in self.allowed_hosts:
            return 421, "This server answers only its own address."
        path: str = scope["path"]
        if path.startswith("/api/") or path.startswith("/models/"):
            if not self.session.is_valid(_cookie(headers, SESSION_COOKIE)):
                return 403, "Missing or wrong session. Open Desktop LLM from its launcher."
            changes = path.startswith("/api/") and scope["method"] not in ("GET", "HEAD")
            if changes and CSRF_HEADER.lower() not in headers:
                return 403, f"Requests that change something need the {CSRF_HEADER} header."
        return None


def _cookie(headers: Headers, name: str) -> str | None:
    for part in headers.get("cookie", "").split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            return value
    return None


async def _plain(send: Send, status: int, message: str) -> None:
    body = message.encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                *SECURITY_HEADERS,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def read_limited(request: Request, limit: int) -> bytes | None:
    """The request body, or None once it is over `limit` bytes: refused by its Content-Length
    before anything is read, else while reading, so a huge body is never held in memory."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return None
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            return None
    return bytes(body)
