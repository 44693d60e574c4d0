"""History: conversations and summaries, kept in SQLite in the data folder."""

from desktop_llm.history.store import SCHEMA_VERSION, HistoryError, HistoryStore, open_history

__all__ = ["SCHEMA_VERSION", "HistoryError", "HistoryStore", "open_history"]
