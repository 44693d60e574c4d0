"""Talking to an OpenAI-compatible server (llama.cpp's server, vLLM, Ollama, MLC-LLM serve, LM
Studio, Jan, the app's own native engine): its models, its context window, token counts and
streamed chat completions. Every failure becomes a `RemoteError` with one sentence for the user.

Only Python talks to these servers; the page reaches them through the local server
(bridge/engines.py), so its Content-Security-Policy never has to allow another host.
"""

from __future__ import annotations

import asyncio
import functools
import json
import math
import ssl
import time
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from desktop_llm.engines.servers import RemoteServer

CONNECT_TIMEOUT = 10.0
LIST_TIMEOUT = 10.0
DEFAULT_CONTEXT = 4096  # when neither the server nor the user says
BATCH_WAIT = 0.1  # seconds a streamed answer's connection is left unread (_batched)
CAME_AT_ONCE = 0.001  # seconds: pieces closer together than this came in one read
# Sampling options the page may pass on; anything else in a request is dropped.
SAMPLING = ("temperature", "top_p", "max_tokens", "frequency_penalty", "presence_penalty", "seed")


# Which of count_tokens' endpoints a server answered, by base URL (len(attempts): none).
_tokenize_route: dict[str, int] = {}


class RemoteError(Exception):
    """One sentence for the user; `status` for the bridge's answer."""

    def __init__(self, message: str, status: int = 502):
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class RemoteModel:
    id: str
    context_window: int  # 0: the server does not say


def _headers(server: RemoteServer) -> dict[str, str]:
    return {"Authorization": f"Bearer {server.api_key}"} if server.api_key else {}


def _root(server: RemoteServer) -> str:
    """The server's root: llama.cpp's /props and /tokenize live beside /v1, not under it."""
    parts = urlsplit(server.base_url)
    path = parts.path[: -len("/v1")] if parts.path.endswith("/v1") else parts.path
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def explain_failure(server: RemoteServer, exc: Exception, model: str = "") -> RemoteError:
    """A transport failure (httpx's exceptions) in one sentence."""
    where = f"{server.name} ({server.base_url})"
    if isinstance(exc, httpx.TimeoutException):
        if isinstance(exc, httpx.ConnectTimeout):
            return RemoteError(f"{where} did not accept a connection within {CONNECT_TIMEOUT:g} s.")
        return RemoteError(f"{where} stopped answering (no reply in time); try again later.", 504)
    text = str(exc)
    if isinstance(exc, httpx.ConnectError) and (
        "SSL" in text or "certificate" in text or isinstance(exc.__cause__, ssl.SSLError)
    ):
        return RemoteError(f"{where} has a TLS certificate this computer does not trust ({text}).")
    if isinstance(exc, httpx.ConnectError):
        return RemoteError(f"Cannot reach {where}: nothing answers there. Is the server running?")
    if isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError):
        return RemoteError(f"{where} closed the connection in the middle of the answer.")
    return RemoteError(f"{where} failed: {text or type(exc).__name__}.")


def explain_status(
    server: RemoteServer, status: int, body: bytes, headers: httpx.Headers, model: str = ""
) -> RemoteError:
    """An HTTP error answer in one sentence, with the server's own message where it gave one."""
    said = _server_message(body)
    if status in (401, 403):
        return RemoteError(
            f"{server.name} refused the API key ({status}). Check the key in Settings → Engines.",
            status,
        )
    if status == 429:
        wait = headers.get("retry-after", "")
        later = f"in {wait} s" if wait.isdigit() else "in a moment"
        return RemoteError(f"{server.name} is busy (429); try again {later}.", 429)
    if status == 404 and model:
        return RemoteError(f"The model {model} is no longer on {server.name}.", 404)
    if _is_context_overflow(said):
        return RemoteError(
            f"The text is longer than {model or 'the model'}'s context window on {server.name}: "
            f"{said}",
            413,
        )
    return RemoteError(f"{server.name} answered {status}: {said or 'no reason given'}.", 502)


def _server_message(body: bytes) -> str:
    try:
        data = json.loads(body)
    except ValueError:
        return body.decode("utf-8", "replace").strip()[:300]
    error = data.get("error") if isinstance(data, dict) else None
    if isinstance(error, dict):
        return str(error.get("message", ""))[:300]
    if isinstance(error, str):
        return error[:300]
    detail = data.get("detail") if isinstance(data, dict) else None
    return str(detail or data)[:300]


def _is_context_overflow(message: str) -> bool:
    lowered = message.lower()
    return "context" in lowered and any(
        word in lowered for word in ("exceed", "too long", "maximum context", "longer than")
    )


def _not_openai(server: RemoteServer, what: str) -> RemoteError:
    return RemoteError(
        f"{server.name} answered, but not as an OpenAI-compatible server would ({what}). "
        "Check the address: it usually ends in /v1."
    )


def list_models(server: RemoteServer) -> list[RemoteModel]:
    """GET /v1/models, with each model's context window where the server says it."""
    try:
        with httpx.Client(timeout=httpx.Timeout(LIST_TIMEOUT, connect=CONNECT_TIMEOUT)) as http:
            response = http.get(f"{server.base_url}/models", headers=_headers(server))
            if response.status_code != 200:
                raise explain_status(
                    server, response.status_code, response.content, response.headers
                )
            try:
                entries = response.json()["data"]
                models = [
                    RemoteModel(str(entry["id"]), _context_from_entry(entry)) for entry in entries
                ]
            except (ValueError, KeyError, TypeError):
                raise _not_openai(server, "GET /models gave no list of models") from None
            if models and not any(m.context_window for m in models):
                n_ctx = _llama_cpp_context(http, server)
                models = [RemoteModel(m.id, n_ctx) for m in models]
    except httpx.HTTPError as exc:
        raise explain_failure(server, exc) from exc
    return models


def _context_from_entry(entry: dict[str, Any]) -> int:
    # vLLM: max_model_len; llama.cpp's server: meta.n_ctx_train; LM Studio and others vary.
    for value in (
        entry.get("max_model_len"),
        entry.get("context_length"),
        entry.get("context_window"),
        (entry.get("meta") or {}).get("n_ctx") if isinstance(entry.get("meta"), dict) else None,
    ):
        if isinstance(value, int) and value > 0:
            return value
    return 0


def _llama_cpp_context(http: httpx.Client, server: RemoteServer) -> int:
    """llama.cpp's server says the window it was started with in /props."""
    try:
        response = http.get(f"{_root(server)}/props", headers=_headers(server))
        n_ctx = response.json()["default_generation_settings"]["n_ctx"]
        return n_ctx if isinstance(n_ctx, int) and n_ctx > 0 else 0
    except (httpx.HTTPError, ValueError, KeyError, TypeError):
        return 0


def context_window(server: RemoteServer, model: str) -> int:
    """The user's setting for this server, else what the server says, else DEFAULT_CONTEXT."""
    if server.context_window:
        return server.context_window
    found = next((m for m in list_models(server) if m.id == model), None)
    if found is None:
        raise RemoteError(f"The model {model} is no longer on {server.name}.", 404)
    return found.context_window or DEFAULT_CONTEXT


def count_tokens(server: RemoteServer, model: str, text: str) -> tuple[int, bool]:
    """(tokens, exact): the server's own tokenizer where it has an endpoint for it (llama.cpp's
    server and vLLM: /tokenize; llama-cpp-python: /extras/tokenize/count), else an estimate
    that errs long (a part too long for the window is refused; one too short is only slower)."""
    root = _root(server)
    attempts = (
        (f"{root}/extras/tokenize/count", {"input": text, "model": model}, "count"),
        (f"{root}/tokenize", {"content": text, "model": model, "prompt": text}, "tokens"),
    )
    # Splitting a document asks once per paragraph: the endpoint that answered is remembered
    # per server, so each later count is one request (or none, where the server has none).
    known = _tokenize_route.get(server.base_url)
    tried = attempts if known is None else attempts[known : known + 1]
    http = _counting_client()
    try:
        for url, body, key in tried:
            response = http.post(url, json=body, headers=_headers(server))
            if response.status_code != 200:
                continue
            try:
                value = response.json()
                if key == "tokens" and isinstance(value.get("count"), int):
                    count = value["count"]
                else:
                    found = value[key]
                    count = len(found) if isinstance(found, list) else int(found)
            except (ValueError, KeyError, TypeError):
                continue
            _tokenize_route[server.base_url] = attempts.index((url, body, key))
            return count, True
    except httpx.HTTPError as exc:
        raise explain_failure(server, exc) from exc
    if known is None:
        _tokenize_route[server.base_url] = len(attempts)  # none: estimate from now on
    return math.ceil(len(text.encode("utf-8")) / 3), False


@functools.cache
def _counting_client() -> httpx.Client:
    """One client, kept, for token counts: a document is counted a paragraph at a time, and a
    new client costs about 20 ms (its TLS context) where a count on this computer takes 1."""
    return httpx.Client(timeout=httpx.Timeout(LIST_TIMEOUT, connect=CONNECT_TIMEOUT))


def chat_request(model: str, messages: Any, options: Any) -> dict[str, Any]:
    """The body sent on: the messages as given, and only the sampling options we know."""
    if not isinstance(messages, list) or not all(
        isinstance(m, dict)
        and m.get("role") in ("system", "user", "assistant")
        and isinstance(m.get("content"), str)
        for m in messages
    ):
        raise RemoteError("The messages must be a list of {role, content}.", 400)
    options = options if isinstance(options, dict) else {}
    body: dict[str, Any] = {
        "model": model,
        "messages": [{"role": m["role"], "content": m["content"]} for m in messages],
        "stream": True,
    }
    for name in SAMPLING:
        value = options.get(name)
        if isinstance(value, int | float) and not isinstance(value, bool):
            body[name] = value
    return body


async def stream_chat(
    server: RemoteServer, body: dict[str, Any], read_timeout: float
) -> AsyncIterator[list[str]]:
    """The answer's text as the server streams it, in lists of pieces (a piece per streamed
    chunk: about a token); see `_batched`. Closing the iterator closes the connection, which is
    how servers hear Stop."""
    timeout = httpx.Timeout(read_timeout, connect=CONNECT_TIMEOUT)
    model = body["model"]
    try:
        async with (
            httpx.AsyncClient(timeout=timeout) as http,
            http.stream(
                "POST", f"{server.base_url}/chat/completions", json=body, headers=_headers(server)
            ) as response,
        ):
            if response.status_code != 200:
                raise explain_status(
                    server, response.status_code, await response.aread(), response.headers, model
                )
            if "text/event-stream" not in response.headers.get("content-type", ""):
                raise _not_openai(server, "the answer was not a stream of server-sent events")
            async with aclosing(_batched(_pieces(server, response))) as answer:
                async for pieces in answer:
                    yield pieces
    except httpx.HTTPError as exc:
        raise explain_failure(server, exc, model) from exc


async def _pieces(server: RemoteServer, response: httpx.Response) -> AsyncGenerator[str]:
    """The answer's pieces of text, until the server says [DONE]. An error in the stream, or a
    stream that ends before the answer does, raises RemoteError."""
    finished = False
    async for line in response.aiter_lines():
        if not line.startswith("data:"):
            continue
        data = line[5:].strip()
        if data == "[DONE]":
            return
        piece, finish_reason, error = _parse_chunk(server, data)
        if error:
            raise RemoteError(f"{server.name} stopped with an error: {error}")
        if piece:
            yield piece
        finished = finished or bool(finish_reason)
    if not finished:
        raise RemoteError(
            f"{server.name} ({server.base_url}) closed the connection in the middle of the answer."
        )


async def _batched(pieces: AsyncGenerator[str]) -> AsyncGenerator[list[str]]:
    """The first piece at once, then one list per read of the connection: after each list the
    connection is left unread for `BATCH_WAIT` so that the tokens gather in it, and what the
    next read brings (the pieces that come at once) goes out when a piece has to be waited for.
    Each read and each event wakes this process and the page, and where the engine runs on the
    same CPU (the native engine; a server on this computer) each wake-up is time taken from it.
    What was held when the stream fails is let out before the failure."""
    pending: list[str] = []
    previous = -math.inf  # when the previous piece came, or the connection was read again
    read_again = -math.inf
    try:
        async with aclosing(pieces):
            async for piece in pieces:
                now = time.monotonic()
                pending.append(piece)
                if now - previous > CAME_AT_ONCE or now - read_again >= BATCH_WAIT:
                    yield pending
                    pending = []
                    await asyncio.sleep(BATCH_WAIT)
                    now = read_again = time.monotonic()
                previous = now
    except (RemoteError, httpx.HTTPError):
        if pending:
            yield pending
        raise
    if pending:
        yield pending


def _parse_chunk(server: RemoteServer, data: str) -> tuple[str, str | None, str | None]:
    try:
        chunk = json.loads(data)
    except ValueError:
        raise _not_openai(server, "a streamed chunk was not JSON") from None
    if not isinstance(chunk, dict):
        raise _not_openai(server, "a streamed chunk was not an object")
    if "error" in chunk:
        error = chunk["error"]
        return "", None, str(error.get("message") if isinstance(error, dict) else error)
    choices = chunk.get("choices")
    if not isinstance(choices, list):
        raise _not_openai(server, "a streamed chunk had no choices")
    if not choices:
        return "", None, None  # usage-only chunk
    choice = choices[0]
    delta = choice.get("delta") or {}
    return str(delta.get("content") or ""), choice.get("finish_reason"), None
