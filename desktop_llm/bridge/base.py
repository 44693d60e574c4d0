"""What every part of the bridge shares: its error, the window it talks to, the state it works
on, and how a function is declared as a route."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from desktop_llm.engines.native import NativeEngine
    from desktop_llm.engines.servers import ServerList
    from desktop_llm.events import EventBus
    from desktop_llm.history import HistoryStore
    from desktop_llm.local_api.relay import EngineRelay
    from desktop_llm.models.store import ModelStore
    from desktop_llm.paths import AppPaths
    from desktop_llm.settings import Settings, SettingsFile


class BridgeError(Exception):
    def __init__(self, message: str, status: int = 400, field_name: str | None = None):
        super().__init__(message)
        self.status = status
        self.field = field_name


class HostControl(Protocol):
    """What the running window can do for the bridge; the launcher provides it."""

    @property
    def current(self) -> str: ...

    def browser_found(self) -> str | None: ...

    def switch_to(self, host: str) -> None: ...

    def open_file_dialog(self, kind: str = "documents") -> list[str] | None:
        """Paths the user chose in a native dialog ([] if cancelled); None: no native dialog."""

    def save_file_dialog(self, suggested_name: str) -> str | None:
        """A path the user chose to save to ("" if cancelled); None: no native dialog."""

    def take_dropped_paths(self, names: list[str]) -> list[str] | None:
        """Full paths of files just dropped on the window; None: the window cannot tell."""

    def copy_text(self, text: str) -> bool | None:
        """Put text on the system clipboard; None: the window's page can do it itself."""

    def self_test_finished(self) -> None:
        """The self-test page has reported; the window may close."""


@dataclass(frozen=True)
class BridgeRoute:
    """/api/<path> calls the bridge function named `function`. GET for functions that only read
    (arguments from the query string with query=True); POST with a JSON body for the rest:
    body_as="name" passes the whole body as that argument, body_as=None the body's keys."""

    path: str
    function: str
    body_as: str | bool | None = False
    query: bool = False

    @property
    def method(self) -> str:
        return "GET" if self.body_as is False else "POST"


class BridgeState:
    """The state the bridge's parts share; `Bridge` (bridge/__init__.py) owns it."""

    settings_file: SettingsFile
    store: ModelStore
    hosts: HostControl
    history: HistoryStore
    paths: AppPaths
    events: EventBus
    relay: EngineRelay
    servers: ServerList
    native: NativeEngine
    probes: dict[str, dict[str, Any]]
    settings_listeners: list[Callable[[Settings], dict[str, Any]]]
    start_model: str | None
    history_warning: str | None
    self_test_report: dict[str, Any] | None
