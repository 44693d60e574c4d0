"""Conversations and summaries kept in history (history/store.py)."""

from __future__ import annotations

import logging
from contextlib import contextmanager
from typing import Any

from desktop_llm.bridge.base import BridgeError, BridgeRoute, BridgeState
from desktop_llm.history import HistoryError

log = logging.getLogger(__name__)
SAMPLING = ("temperature", "top_p", "max_tokens", "frequency_penalty", "presence_penalty")


class HistoryBridge(BridgeState):
    """The sidebar's conversations: list, open, create, add to, rename, delete, export."""

    def history_list(self, query: str = "") -> list[dict[str, Any]]:
        return self.history.list(query)

    def history_get(self, id: int) -> dict[str, Any]:
        with _history_errors():
            return self.history.get(int(id), with_messages=True)

    def history_create(
        self,
        title: str,
        kind: str = "chat",
        model: str | None = None,
        document_name: str | None = None,
        sampling: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """`sampling`: the options the page's answers use (a summary's are its own); without
        it, the settings' (SAMPLING)."""
        settings = self.settings_file.load()
        used = {k: getattr(settings, k) for k in SAMPLING}
        if sampling is not None:
            if not isinstance(sampling, dict) or not all(
                k in SAMPLING and isinstance(v, int | float) and not isinstance(v, bool)
                for k, v in sampling.items()
            ):
                raise BridgeError(
                    f"sampling must map some of {', '.join(SAMPLING)} to numbers",
                    field_name="sampling",
                )
            used.update(sampling)
        with _history_errors():
            return self.history.create(title, kind, model, used, document_name)

    def history_add(self, conversation_id: int, role: str, content: str) -> dict[str, Any]:
        with _history_errors():
            message = self.history.add_message(int(conversation_id), role, content)
        log.info(
            "history: %s message of %d characters in conversation %s",
            role,
            len(content),
            conversation_id,
        )
        if self.settings_file.load().log_content:
            log.info("history: content: %s", content)
        return message

    def history_rename(self, id: int, title: str) -> dict[str, Any]:
        with _history_errors():
            return self.history.rename(int(id), title)

    def history_delete(self, id: int) -> dict[str, Any]:
        with _history_errors():
            self.history.delete(int(id))
        return {"deleted": id}

    def history_export(self, id: int) -> dict[str, Any]:
        with _history_errors():
            conversation = self.history.get(int(id))
            markdown = self.history.export_markdown(int(id))
        name = "".join(c if c.isalnum() or c in " -_" else " " for c in conversation["title"])
        return {"markdown": markdown, "filename": f"{' '.join(name.split()) or 'chat'}.md"}


ROUTES = (
    BridgeRoute("history", "history_list", query=True),
    BridgeRoute("history/get", "history_get", query=True),
    BridgeRoute("history/create", "history_create", body_as=None),
    BridgeRoute("history/add", "history_add", body_as=None),
    BridgeRoute("history/rename", "history_rename", body_as=None),
    BridgeRoute("history/delete", "history_delete", body_as=None),
    BridgeRoute("history/export", "history_export", query=True),
)


@contextmanager
def _history_errors():
    try:
        yield
    except HistoryError as exc:
        raise BridgeError(str(exc), 404 if "no conversation" in str(exc) else 400) from exc
    except (TypeError, ValueError) as exc:
        raise BridgeError(f"Wrong arguments: {exc}") from exc
