"""The OpenAI-compatible servers the user added in Settings → Engines, and their keys.

    config/servers.json   {"servers": [{"id", "name", "base_url", "api_key", "context_window"}]}

The file is written whole to a temporary file that replaces it (mode 0600: it holds API keys),
under a file lock, like settings.json. The page never sees a key, only whether one is set
(`RemoteServer.public`).
"""

from __future__ import annotations

import json
import secrets
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from filelock import FileLock

from desktop_llm.settings import write_json_atomically

MAX_SERVERS = 32


class ServerError(ValueError):
    """A server entry the app refuses; `field` names the field."""

    def __init__(self, field_name: str, message: str):
        super().__init__(message)
        self.field = field_name


@dataclass(frozen=True)
class RemoteServer:
    id: str
    name: str
    base_url: str  # up to and including /v1, as OpenAI's clients take it
    api_key: str = ""
    context_window: int = 0  # 0: as the server says, else 4096

    def public(self) -> dict[str, Any]:
        """What the page may see."""
        return {
            "id": self.id,
            "name": self.name,
            "base_url": self.base_url,
            "has_key": bool(self.api_key),
            "context_window": self.context_window,
        }


def normalize_base_url(value: Any) -> str:
    """http(s)://host[:port][/path]; with no path, OpenAI's /v1 is added."""
    if not isinstance(value, str) or not value.strip():
        raise ServerError("base_url", "Enter the server's address, like http://localhost:8080/v1.")
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ServerError("base_url", "The address must start with http:// or https://.")
    if parts.username or parts.password:
        raise ServerError("base_url", "Put the key in the API key field, not in the address.")
    if parts.query or parts.fragment:
        raise ServerError("base_url", "The address cannot have a query (?…) or fragment (#…).")
    try:
        parts.port  # noqa: B018  # raises on a port out of range
    except ValueError:
        raise ServerError("base_url", "The port in the address is not valid.") from None
    path = parts.path.rstrip("/") or "/v1"
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def _checked(name: Any, base_url: Any, api_key: Any, context_window: Any) -> dict[str, Any]:
    if not isinstance(name, str) or not name.strip() or len(name) > 80:
        raise ServerError("name", "Give the server a name of 1 to 80 characters.")
    if not isinstance(api_key, str) or len(api_key) > 4096 or not api_key.isprintable():
        raise ServerError("api_key", "The API key must be plain text (or empty).")
    if (
        isinstance(context_window, bool)
        or not isinstance(context_window, int)
        or not (context_window == 0 or 256 <= context_window <= 1_048_576)
    ):
        raise ServerError(
            "context_window", "The context window must be 0 (ask the server) or 256 to 1048576."
        )
    return {
        "name": name.strip(),
        "base_url": normalize_base_url(base_url),
        "api_key": api_key.strip(),
        "context_window": context_window,
    }


class ServerList:
    """The servers in servers.json; this class is the file's only writer."""

    def __init__(self, path: Path):
        self.path = path
        self._lock = FileLock(str(path) + ".lock")

    def all(self) -> list[RemoteServer]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            entries = data["servers"]
            return [RemoteServer(**entry) for entry in entries]
        except FileNotFoundError:
            return []
        except (ValueError, KeyError, TypeError) as exc:
            raise ServerError("file", f"{self.path} cannot be read ({exc}).") from exc

    def get(self, server_id: str) -> RemoteServer | None:
        return next((s for s in self.all() if s.id == server_id), None)

    def add(
        self, name: str, base_url: str, api_key: str = "", context_window: int = 0
    ) -> RemoteServer:
        fields = _checked(name, base_url, api_key, context_window)
        with self._locked():
            servers = self.all()
            if len(servers) >= MAX_SERVERS:
                raise ServerError("name", f"At most {MAX_SERVERS} servers can be added.")
            server = RemoteServer(id=secrets.token_hex(4), **fields)
            self._write([*servers, server])
        return server

    def update(self, server_id: str, **changes: Any) -> RemoteServer:
        """Change some fields; api_key=None keeps the key."""
        with self._locked():
            servers = self.all()
            old = next((s for s in servers if s.id == server_id), None)
            if old is None:
                raise ServerError("id", "That server is no longer in the list.")
            if changes.get("api_key") is None:
                changes.pop("api_key", None)
            merged = {**asdict(old), **changes}
            fields = _checked(
                merged["name"], merged["base_url"], merged["api_key"], merged["context_window"]
            )
            server = replace(old, **fields)
            self._write([server if s.id == server_id else s for s in servers])
        return server

    def remove(self, server_id: str) -> bool:
        with self._locked():
            servers = self.all()
            kept = [s for s in servers if s.id != server_id]
            self._write(kept)
        return len(kept) < len(servers)

    def _locked(self) -> FileLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        return self._lock

    def _write(self, servers: list[RemoteServer]) -> None:
        write_json_atomically(self.path, {"servers": [asdict(s) for s in servers]}, ".servers-")
