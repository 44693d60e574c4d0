"""The OpenAI-compatible HTTP API, on its own loopback port, behind its own bearer key:

    GET  /v1/models             the models in the store; the loaded one is marked
    POST /v1/chat/completions   with or without "stream" (server-sent events as OpenAI sends)

Errors have OpenAI's shape: {"error": {"message", "type", "param", "code"}}.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import ASGIApp

from desktop_llm.local_api.relay import EngineRelay, Job, RelayBusy, WindowClosed
from desktop_llm.models.store import ModelStore
from desktop_llm.server.security import read_limited

MAX_BODY = 4 * 1024 * 1024
REFUSED = {
    "tools": "Tools (function calling) are not supported by the local engine.",
    "functions": "Function calling is not supported by the local engine.",
    "tool_choice": "Tools (function calling) are not supported by the local engine.",
    "logprobs": "Log probabilities are not supported by the local engine.",
    "top_logprobs": "Log probabilities are not supported by the local engine.",
    "response_format": "Structured output (response_format) is not supported by the local engine.",
    "audio": "Audio is not supported.",
    "modalities": "Only text is supported.",
    "prediction": "Predicted outputs are not supported.",
}


def error(
    status: int,
    message: str,
    kind: str = "invalid_request_error",
    param: str | None = None,
    code: str | None = None,
) -> JSONResponse:
    body = {"error": {"message": message, "type": kind, "param": param, "code": code}}
    return JSONResponse(body, status_code=status)


def create_api_app(
    relay: EngineRelay,
    store: ModelStore,
    key: Callable[[], str],
    loaded_model: Callable[[], str],
    port: Callable[[], int],
) -> ASGIApp:
    async def models(request: Request) -> Response:
        loaded = loaded_model()
        data = [
            {
                "id": m.id,
                "object": "model",
                "created": 0,
                "owned_by": "local",
                "engine": m.engine,
                "loaded": m.id == loaded,
            }
            for m in store.list()
        ]
        return JSONResponse({"object": "list", "data": data})

    async def chat_completions(request: Request) -> Response:
        body = await read_limited(request, MAX_BODY)
        if body is None:
            return error(413, f"The request is larger than {MAX_BODY // 2**20} MB.")
        try:
            payload = json.loads(body)
        except (ValueError, RecursionError):
            return error(400, "The request body is not valid JSON (or nests too deeply).")
        problem = _validate(payload)
        if problem:
            return problem
        params = _engine_params(payload)
        try:
            job = await run_in_threadpool(relay.submit, params)
        except RelayBusy:
            return error(
                429,
                "The local model is busy; try again in a moment.",
                "rate_limit_error",
                code="busy",
            )
        except WindowClosed:
            return _closed()
        completion_id = f"chatcmpl-{uuid.uuid4().hex[:24]}"
        model = loaded_model() or payload.get("model") or "local"
        if payload.get("stream"):
            include_usage = bool((payload.get("stream_options") or {}).get("include_usage"))
            return StreamingResponse(
                _stream(request, relay, job, completion_id, model, include_usage),
                media_type="text/event-stream",
                headers={"cache-control": "no-store"},
            )
        text = []
        done: dict[str, Any] = {"error": "The request was cancelled."}
        async for kind, value in _chunks(request, relay, job):
            if kind == "piece":
                text.append(value)
            else:
                done = value
        if done.get("error"):
            return (
                _closed()
                if done["error"] == "closed"
                else error(500, done["error"], "server_error")
            )
        return JSONResponse(
            {
                "id": completion_id,
                "object": "chat.completion",
                "created": int(time.time()),
                "model": model,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": "".join(text)},
                        "finish_reason": done.get("finish_reason", "stop"),
                    }
                ],
                "usage": _usage(done),
            }
        )

    app = Starlette(
        routes=[
            Route("/v1/models", models),
            Route("/v1/chat/completions", chat_completions, methods=["POST"]),
        ]
    )
    return _Guard(app, key, port)


class _Guard:
    """Loopback Host only; the bearer key on every request."""

    def __init__(self, app, key: Callable[[], str], port: Callable[[], int]):
        self.app = app
        self.key = key
        self.port = port

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http":
            headers = dict(scope["headers"])
            host = headers.get(b"host", b"").decode("latin-1").lower()
            if host not in (f"127.0.0.1:{self.port()}", f"localhost:{self.port()}"):
                await error(421, "This server answers only its own loopback address.")(
                    scope, receive, send
                )
                return
            auth = headers.get(b"authorization", b"")
            given = auth[7:] if auth.lower().startswith(b"bearer ") else b""
            if not given or not hmac.compare_digest(given, self.key().encode()):
                await error(
                    401,
                    "Missing or wrong API key; copy it from the app's settings.",
                    "authentication_error",
                    code="invalid_api_key",
                )(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _validate(payload: Any) -> JSONResponse | None:
    if not isinstance(payload, dict):
        return error(400, "The request body must be a JSON object.")
    for name, reason in REFUSED.items():
        if payload.get(name) not in (None, [], False):
            return error(400, reason, param=name, code="unsupported_parameter")
    if (payload.get("n") or 1) != 1:
        return error(400, "Only n=1 is supported.", param="n", code="unsupported_parameter")
    messages = payload.get("messages")
    if not isinstance(messages, list) or not messages:
        return error(400, "'messages' must be a non-empty list.", param="messages")
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or m.get("role") not in (
            "system",
            "developer",
            "user",
            "assistant",
        ):
            return error(
                400,
                f"messages[{i}] needs a role of system, user or assistant.",
                param=f"messages[{i}].role",
            )
        content = m.get("content")
        if isinstance(content, list):  # the parts form: only text parts
            if not all(isinstance(p, dict) and p.get("type") == "text" for p in content):
                return error(400, "Only text content is supported.", param=f"messages[{i}].content")
        elif not isinstance(content, str):
            return error(
                400, f"messages[{i}].content must be text.", param=f"messages[{i}].content"
            )
    for name, low, high in (
        ("temperature", 0, 2),
        ("top_p", 0, 1),
        ("frequency_penalty", -2, 2),
        ("presence_penalty", -2, 2),
    ):
        value = payload.get(name)
        if value is not None and (not isinstance(value, (int, float)) or not low <= value <= high):
            return error(400, f"'{name}' must be a number from {low} to {high}.", param=name)
    limit = payload.get("max_completion_tokens", payload.get("max_tokens"))
    if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 1):
        return error(400, "'max_tokens' must be a positive whole number.", param="max_tokens")
    stop = payload.get("stop")
    if stop is not None and not (
        isinstance(stop, str)
        or (isinstance(stop, list) and len(stop) <= 4 and all(isinstance(s, str) for s in stop))
    ):
        return error(400, "'stop' must be a string or up to 4 strings.", param="stop")
    # Everything a job reads is checked here, before it is queued: a request that failed after
    # queueing would leave the engine writing for no one.
    if not isinstance(payload.get("stream", False), bool):
        return error(400, "'stream' must be true or false.", param="stream")
    options = payload.get("stream_options")
    if options is not None and not (
        isinstance(options, dict) and isinstance(options.get("include_usage", False), bool)
    ):
        return error(
            400,
            "'stream_options' must be an object like {\"include_usage\": true}.",
            param="stream_options",
        )
    return None


def _engine_params(payload: dict[str, Any]) -> dict[str, Any]:
    def text(content: Any) -> str:
        if isinstance(content, list):
            return "".join(p.get("text", "") for p in content)
        return content

    stop = payload.get("stop")
    return {
        "messages": [
            {
                "role": "system" if m["role"] == "developer" else m["role"],
                "content": text(m["content"]),
            }
            for m in payload["messages"]
        ],
        "temperature": payload.get("temperature", 1.0),
        "top_p": payload.get("top_p", 1.0),
        "frequency_penalty": payload.get("frequency_penalty", 0),
        "presence_penalty": payload.get("presence_penalty", 0),
        "max_tokens": payload.get("max_completion_tokens", payload.get("max_tokens")),
        "stop": [stop] if isinstance(stop, str) else (stop or []),
        "seed": payload.get("seed"),
    }


async def _chunks(request: Request, relay: EngineRelay, job: Job) -> AsyncIterator[tuple[str, Any]]:
    """The job's pieces as they come; a client that goes away stops the generation."""
    loop = asyncio.get_running_loop()
    while True:
        try:
            kind, value = await loop.run_in_executor(None, job.chunks.get, True, 0.5)
        except Exception:  # queue.Empty: check the client is still there
            if await request.is_disconnected():
                relay.cancel(job)
                return
            continue
        yield kind, value
        if kind == "done":
            return


async def _stream(request, relay, job, completion_id, model, include_usage) -> AsyncIterator[bytes]:
    created = int(time.time())

    def event(delta: dict, finish: str | None = None, usage: dict | None = None) -> bytes:
        chunk: dict[str, Any] = {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [] if usage else [{"index": 0, "delta": delta, "finish_reason": finish}],
        }
        if usage:
            chunk["usage"] = usage
        return f"data: {json.dumps(chunk)}\n\n".encode()

    yield event({"role": "assistant", "content": ""})
    try:
        async for kind, value in _chunks(request, relay, job):
            if kind == "piece":
                yield event({"content": value})
                continue
            if value.get("error"):
                message = (
                    "The app's window is closed." if value["error"] == "closed" else value["error"]
                )
                err = {"error": {"message": message, "type": "server_error"}}
                yield f"data: {json.dumps(err)}\n\n".encode()
                return
            yield event({}, value.get("finish_reason", "stop"))
            if include_usage:
                yield event({}, usage=_usage(value))
            yield b"data: [DONE]\n\n"
    except asyncio.CancelledError:
        relay.cancel(job)
        raise


def _usage(done: dict[str, Any]) -> dict[str, int]:
    prompt, completion = int(done.get("prompt_tokens", 0)), int(done.get("completion_tokens", 0))
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def _closed() -> JSONResponse:
    return error(
        503,
        "The Desktop LLM window is closed; open the app to use the local API.",
        "server_error",
        code="window_closed",
    )
