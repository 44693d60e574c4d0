"""Engines outside the page: the OpenAI-compatible servers the user added (Settings → Engines)
and the native CPU engine. The page names a server by id and never sees its key; answers stream
back through `chat_stream` (mounted by server/app.py as /api/engines/chat)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

from desktop_llm.bridge.base import BridgeError, BridgeRoute, BridgeState
from desktop_llm.engines import client, native
from desktop_llm.engines.client import RemoteError
from desktop_llm.engines.servers import RemoteServer, ServerError, normalize_base_url

GGUF_ENGINE = "wllama"  # the store's name for models a CPU engine runs


class EnginesBridge(BridgeState):
    def list_engines(self) -> dict[str, Any]:
        """Every server with its models (asked of each server at once), or why they could not
        be listed; and whether the native CPU engine is here."""
        servers = self.servers.all()
        with ThreadPoolExecutor(max_workers=max(1, min(8, len(servers)))) as pool:
            listed = list(pool.map(_models_or_error, servers))
        return {
            "servers": [{**s.public(), **found} for s, found in zip(servers, listed, strict=True)],
            "native": {"available": native.available()},
        }

    def add_engine(
        self, name: str, base_url: str, api_key: str = "", context_window: int = 0
    ) -> dict[str, Any]:
        with _refused():
            return self.servers.add(name, base_url, api_key, context_window).public()

    def update_engine(
        self,
        id: str,
        name: str,
        base_url: str,
        api_key: str | None = None,
        context_window: int = 0,
    ) -> dict[str, Any]:
        """api_key None (or left out) keeps the key; "" removes it."""
        with _refused():
            return self.servers.update(
                id, name=name, base_url=base_url, api_key=api_key, context_window=context_window
            ).public()

    def remove_engine(self, id: str) -> dict[str, Any]:
        with _refused():
            return {"removed": self.servers.remove(id)}

    def test_engine(
        self, id: str = "", base_url: str = "", api_key: str | None = None
    ) -> dict[str, Any]:
        """Connect and list the models: a saved server (id), or the form's fields before they
        are saved (api_key None: the saved server's key)."""
        saved = self.engine_server(id) if id else None
        with _refused():
            url = normalize_base_url(base_url) if base_url or saved is None else saved.base_url
        key = api_key if api_key is not None else (saved.api_key if saved else "")
        name = saved.name if saved else "The server"
        found = _models_or_error(RemoteServer(id=id or "new", name=name, base_url=url, api_key=key))
        return {"ok": "error" not in found, **found}

    def open_remote(self, server: str, model: str) -> dict[str, Any]:
        """Before a remote model is used: it is there, and its context window."""
        found = self.engine_server(server)
        try:
            return {"context_window": client.context_window(found, str(model))}
        except RemoteError as exc:
            raise BridgeError(str(exc), exc.status) from exc

    def count_tokens(self, server: str, model: str, text: str) -> dict[str, Any]:
        if not isinstance(text, str):
            raise BridgeError("text must be text")
        try:
            tokens, exact = client.count_tokens(self.engine_server(server), str(model), text)
        except RemoteError as exc:
            raise BridgeError(str(exc), exc.status) from exc
        return {"tokens": tokens, "exact": exact}

    def load_native(self, id: str, context_size: int) -> dict[str, Any]:
        """Serve a GGUF model from the store with the native engine (when it is installed)."""
        if not native.available():
            raise BridgeError("The native CPU engine is not installed.", 409)
        entry = self.store.get(str(id))
        if entry is None or entry.engine != GGUF_ENGINE:
            raise BridgeError(f"{id} is not a CPU (GGUF) model on this computer.", 404)
        if not isinstance(context_size, int) or not 256 <= context_size <= 131072:
            raise BridgeError("context_size must be 256 to 131072", field_name="context_size")
        settings = self.settings_file.load()
        path = self.store.file_path(entry.id, entry.files[0])
        try:
            served = self.native.load(entry.id, path, context_size, settings.threads)
        except (ValueError, RuntimeError, OSError) as exc:
            raise BridgeError(f"The native engine could not load {entry.name}: {exc}", 500) from exc
        return {
            "server": served.id,
            "model": entry.id,
            "context_window": served.context_window,
            "threads": self.native.loaded.threads if self.native.loaded else 0,
        }

    def engine_server(self, server_id: Any) -> RemoteServer:
        if server_id == native.NATIVE_ID:
            found = self.native.server()
            if found is None:
                raise BridgeError("The native CPU engine has no model loaded.", 409)
            return found
        found = self.servers.get(str(server_id))
        if found is None:
            raise BridgeError("That server is no longer in Settings → Engines.", 404)
        return found

    async def chat_stream(self, server: RemoteServer, body: dict[str, Any]) -> AsyncIterator[str]:
        """Server-sent events for the page: {"pieces": [text, ...]} as the answer comes (a piece
        per streamed chunk, about a token each), then {"done": true} or {"error": sentence}. The
        page closing the request (Stop) closes the server's."""
        timeout = float(self.settings_file.load().remote_timeout)
        try:
            async for pieces in client.stream_chat(server, body, timeout):
                yield _event({"pieces": pieces})
            yield _event({"done": True})
        except RemoteError as exc:
            yield _event({"error": str(exc)})


def _models_or_error(server: RemoteServer) -> dict[str, Any]:
    try:
        models = client.list_models(server)
    except RemoteError as exc:
        return {"models": [], "error": str(exc)}
    return {"models": [{"id": m.id, "context_window": m.context_window} for m in models]}


def _event(data: dict[str, Any]) -> str:
    return f"data: {json.dumps(data)}\n\n"


@contextmanager
def _refused() -> Iterator[None]:
    """A server entry refused → a BridgeError naming its field."""
    try:
        yield
    except ServerError as exc:
        raise BridgeError(str(exc), field_name=exc.field) from exc


ROUTES = (
    BridgeRoute("engines", "list_engines"),
    BridgeRoute("engines/add", "add_engine", body_as=None),
    BridgeRoute("engines/update", "update_engine", body_as=None),
    BridgeRoute("engines/remove", "remove_engine", body_as=None),
    BridgeRoute("engines/test", "test_engine", body_as=None),
    BridgeRoute("engines/open", "open_remote", body_as=None),
    BridgeRoute("engines/tokens", "count_tokens", body_as=None),
    BridgeRoute("engines/native", "load_native", body_as=None),
)
