"""The local server's routes (Starlette):

/                                   the UI (after the launch-code handshake, security.py)
/assets/...                         the built UI's scripts, styles and wasm
/models/<id>/resolve/main/<file>    model files from the store: Range, ETag, never cached
/api/<name>                         one route per bridge function (bridge/*.py, ROUTES)
/api/events                         server-sent events
/api/engines/chat                   an answer from an OpenAI-compatible server, streamed (SSE)
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from sse_starlette import EventSourceResponse
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from desktop_llm.bridge import Bridge, BridgeError, bridge_routes
from desktop_llm.constants import LAUNCH_PARAM, SESSION_COOKIE
from desktop_llm.documents.extract import DocumentError, check_size
from desktop_llm.engines.client import RemoteError, chat_request
from desktop_llm.safe_path import UnsafePath
from desktop_llm.server.security import GuardMiddleware, Session, read_limited

# Special runs of the page, chosen by the launcher: the doctor's WebGPU probes and the self-test.
PAGE_MODES = ("self-test", "probe-browser", "probe-webview")
MAX_JSON_BODY = 8 << 20  # pasted documents and summaries travel as JSON

NOT_LAUNCHED_PAGE = """<!doctype html><meta charset="utf-8"><title>Desktop LLM</title>
<p>This window's session has ended. Close it and start Desktop LLM again from its launcher.</p>
"""


def create_app(bridge: Bridge, session: Session, ui_dir: Path, port: int) -> Starlette:
    async def index(request: Request) -> Response:
        code = request.query_params.get(LAUNCH_PARAM)
        if code is not None:
            if not session.redeem(code):
                return Response(NOT_LAUNCHED_PAGE, status_code=403, media_type="text/html")
            mode = request.query_params.get("mode", "")
            # A query, not a fragment: QtWebEngine drops the fragment of a redirect target.
            target = f"/?mode={mode}" if mode in PAGE_MODES else "/"
            # A page that moves on by itself rather than a redirect: a window that arrived from
            # another site (the browser's private launch file) does not send a SameSite=Strict
            # cookie along a redirect chain it started, but does on this same-site step.
            onward = Response(
                '<!doctype html><meta charset="utf-8">'
                f'<meta http-equiv="refresh" content="0;url={target}"><title>Desktop LLM</title>',
                media_type="text/html",
            )
            onward.headers["set-cookie"] = session.cookie_header()
            onward.headers["cache-control"] = "no-store"
            return onward
        if not session.is_valid(request.cookies.get(SESSION_COOKIE)):
            return Response(NOT_LAUNCHED_PAGE, status_code=403, media_type="text/html")
        return FileResponse(ui_dir / "index.html", headers={"cache-control": "no-cache"})

    def model_file(request: Request) -> Response:
        try:
            path = bridge.store.file_path(
                request.path_params["model_id"], request.path_params["path"]
            )
        except (UnsafePath, FileNotFoundError):
            return Response("Not found", status_code=404, media_type="text/plain")
        return _ModelFileResponse(path, headers={"cache-control": "no-store"})

    async def upload_document(request: Request) -> Response:
        name = unquote(request.headers.get("x-file-name", ""))
        if not name:
            return _error(400, "The upload needs an X-File-Name header.")
        body = bytearray()
        try:
            check_size(name, int(request.headers.get("content-length") or 0))
            async for chunk in request.stream():
                body += chunk
                check_size(name, len(body))
        except DocumentError as exc:
            return _error(413, str(exc))
        try:
            return JSONResponse(await run_in_threadpool(bridge.upload_document, name, bytes(body)))
        except BridgeError as exc:
            return _error(exc.status, str(exc))

    async def engine_chat(request: Request) -> Response:
        body = await read_limited(request, MAX_JSON_BODY)
        if body is None:
            return _error(413, "The request is too large.")
        try:
            payload = json.loads(body)
            if not isinstance(payload, dict):
                raise ValueError
        except (ValueError, RecursionError):
            return _error(400, "The request body must be a JSON object.")
        try:
            server = await run_in_threadpool(bridge.engine_server, payload.get("server"))
            chat = chat_request(
                str(payload.get("model")), payload.get("messages"), payload.get("options")
            )
        except BridgeError as exc:
            return _error(exc.status, str(exc))
        except RemoteError as exc:
            return _error(exc.status, str(exc))
        return StreamingResponse(
            bridge.chat_stream(server, chat),
            media_type="text/event-stream",
            headers={"cache-control": "no-store"},
        )

    async def events(request: Request) -> EventSourceResponse:
        async def stream():
            async for name, data in bridge.events.subscribe():
                yield {"event": name, "data": json.dumps(data)}

        return EventSourceResponse(stream(), ping=15)

    routes = [
        Route("/", index),
        Route("/models/{model_id}/resolve/main/{path:path}", model_file, methods=["GET", "HEAD"]),
        Route("/api/events", events),
        Route("/api/documents/upload", upload_document, methods=["POST"]),  # raw bytes
        Route("/api/engines/chat", engine_chat, methods=["POST"]),  # streamed
        *(
            _bridge_route(f"/api/{r.path}", getattr(bridge, r.function), r.body_as, r.query)
            for r in bridge_routes()
        ),
        Mount("/assets", StaticFiles(directory=ui_dir / "assets", check_dir=False)),
    ]
    app = Starlette(routes=routes)
    allowed = {f"127.0.0.1:{port}", f"localhost:{port}"}
    app.add_middleware(GuardMiddleware, session=session, allowed_hosts=allowed)
    return app


class _ModelFileResponse(FileResponse):
    # Starlette reads 64 KiB per event-loop round trip; weights are gigabytes, and at that size
    # the round trips, not the disk, set the speed (bench/bench_models.py).
    chunk_size = 4 << 20


def _bridge_route(
    path: str,
    function: Callable[..., Any],
    body_as: str | bool | None = False,
    query: bool = False,
) -> Route:
    """GET for functions that only read (arguments from the query string with query=True);
    POST with a JSON body for the rest.

    body_as=False: no body. body_as="name": the whole body is that argument.
    body_as=None: the body's keys are the arguments.
    """

    async def endpoint(request: Request) -> Response:
        kwargs: dict[str, Any] = dict(request.query_params) if query else {}
        if body_as is not False:
            body = await read_limited(request, MAX_JSON_BODY)
            if body is None:
                return _error(413, "The request is too large.")
            try:
                payload = json.loads(body or b"null")
            except (ValueError, RecursionError):
                return _error(400, "The request body is not valid JSON (or nests too deeply).")
            if body_as is None:
                if not isinstance(payload, dict):
                    return _error(400, "The request body must be a JSON object.")
                kwargs = payload
            else:
                kwargs = {str(body_as): payload}
        try:
            result = await run_in_threadpool(function, **kwargs)
        except BridgeError as exc:
            return _error(exc.status, str(exc), exc.field)
        except (TypeError, ValueError, sqlite3.InterfaceError, sqlite3.ProgrammingError) as exc:
            # A value of the wrong type or form that a bridge function did not check itself
            # (an id that is not a number, a path that leaves its folder, an object for text).
            return _error(400, f"Wrong arguments: {_one_line(exc)}")
        return JSONResponse(result, headers={"cache-control": "no-store"})

    method = "GET" if body_as is False else "POST"
    return Route(path, endpoint, methods=[method], name=function.__name__)


def _one_line(exc: Exception) -> str:
    return str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__


def _error(status: int, message: str, field_name: str | None = None) -> JSONResponse:
    body: dict[str, Any] = {"error": message}
    if field_name:
        body["field"] = field_name
    return JSONResponse(body, status_code=status, headers={"cache-control": "no-store"})
