"""What the page may ask of Python: plain functions, grouped by domain, each module declaring its
routes beside its functions (ROUTES). The server mounts `bridge_routes()` (server/app.py) and turns
`BridgeError` into a 4xx answer; ui/src/bridge.js is the page's side, and a test keeps the two
naming the same routes.

    settings.py   read, change, reset settings
    models.py     the model list: catalog, downloads, delete, verify, import
    documents.py  documents the user chose or dropped; saving text
    history.py    conversations and summaries
    engines.py    OpenAI-compatible servers and the native CPU engine; answers streamed from them
    window.py     this run's facts, windows, links, folders, doctor, probes, self-test, local API
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from desktop_llm.bridge import documents, engines, history, models, settings, window
from desktop_llm.bridge.base import BridgeError, BridgeRoute, HostControl
from desktop_llm.engines.native import NativeEngine
from desktop_llm.engines.servers import ServerList
from desktop_llm.events import EventBus
from desktop_llm.history import HistoryStore
from desktop_llm.local_api.relay import EngineRelay
from desktop_llm.models.store import ModelStore
from desktop_llm.paths import AppPaths
from desktop_llm.settings import Settings, SettingsFile


@dataclass
class Bridge(
    settings.SettingsBridge,
    models.ModelsBridge,
    documents.DocumentsBridge,
    history.HistoryBridge,
    engines.EnginesBridge,
    window.WindowBridge,
):
    settings_file: SettingsFile
    store: ModelStore
    hosts: HostControl
    history: HistoryStore
    paths: AppPaths
    events: EventBus = field(default_factory=EventBus)
    probes: dict[str, dict[str, Any]] = field(default_factory=dict)  # WebGPU, by window kind
    # Each is told of new settings and returns what it changed in turn (the local API's port
    # and key when it starts); the bridge writes that once, and the reply and the event carry
    # the settings as they finally are.
    settings_listeners: list[Callable[[Settings], dict[str, Any]]] = field(default_factory=list)
    start_model: str | None = None  # `desktop-llm --model ID`: this launch's model
    history_warning: str | None = None  # the history was damaged and repaired at start
    self_test_report: dict[str, Any] | None = None  # what the page said in `--self-test`

    def __post_init__(self) -> None:
        self.relay = EngineRelay(self.events)
        self.servers = ServerList(self.paths.servers_file)
        self.native = NativeEngine()


def bridge_routes() -> tuple[BridgeRoute, ...]:
    return (
        settings.ROUTES
        + models.ROUTES
        + documents.ROUTES
        + history.ROUTES
        + engines.ROUTES
        + window.ROUTES
    )


__all__ = ["Bridge", "BridgeError", "BridgeRoute", "HostControl", "bridge_routes"]
