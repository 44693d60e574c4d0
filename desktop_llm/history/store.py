"""Conversations in SQLite: `<data>/history.sqlite3`, in WAL mode, one transaction per write, so
killing the app loses at most the answer that was still being written.

    meta(key, value)                     schema_version
    conversations(id, title, kind, model, settings, document_name, created_at, updated_at)
    messages(id, conversation_id, role, content, created_at)

`kind` is "chat" or "summary". The schema carries its version and `_MIGRATIONS` moves an older
database forward when it is opened.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from desktop_llm.paths import make_private

SCHEMA_VERSION = 2

_SCHEMA_V1 = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE conversations (
    id INTEGER PRIMARY KEY,
    title TEXT NOT NULL,
    model TEXT,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE TABLE messages (
    id INTEGER PRIMARY KEY,
    conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    role TEXT NOT NULL CHECK (role IN ('system', 'user', 'assistant')),
    content TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE INDEX messages_by_conversation ON messages(conversation_id, id);
"""

# Each entry moves the schema from version N to N + 1.
_MIGRATIONS = {
    1: """
        ALTER TABLE conversations ADD COLUMN kind TEXT NOT NULL DEFAULT 'chat';
        ALTER TABLE conversations ADD COLUMN settings TEXT;
        ALTER TABLE conversations ADD COLUMN document_name TEXT;
    """,
}

MAX_TITLE = 200


class HistoryError(ValueError):
    pass


class HistoryStore:
    def __init__(self, path: Path):
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._lock = threading.Lock()
        make_private(path)  # every conversation is in it
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._migrate()

    def close(self) -> None:
        self._db.close()

    @property
    def version(self) -> int:
        row = self._db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        return int(row["value"])

    # Conversations

    def create(
        self,
        title: str,
        kind: str = "chat",
        model: str | None = None,
        settings: dict[str, Any] | None = None,
        document_name: str | None = None,
    ) -> dict[str, Any]:
        if kind not in ("chat", "summary"):
            raise HistoryError("kind must be chat or summary")
        now = time.time()
        with self._transaction() as db:
            cursor = db.execute(
                "INSERT INTO conversations (title, kind, model, settings, document_name,"
                " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (_title(title), kind, model, json.dumps(settings or {}), document_name, now, now),
            )
        assert cursor.lastrowid is not None  # an INSERT always sets it
        return self.get(cursor.lastrowid)

    def list(self, query: str = "", limit: int = 500) -> list[dict[str, Any]]:
        sql = "SELECT * FROM conversations"
        args: list[Any] = []
        if query.strip():
            pattern = (
                "%"
                + query.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
                + "%"
            )
            sql += (
                " WHERE title LIKE ? ESCAPE '\\' OR document_name LIKE ? ESCAPE '\\' OR id IN"
                " (SELECT conversation_id FROM messages WHERE content LIKE ? ESCAPE '\\')"
            )
            args = [pattern, pattern, pattern]
        sql += " ORDER BY updated_at DESC, id DESC LIMIT ?"
        rows = self._db.execute(sql, [*args, limit]).fetchall()
        return [_conversation(row) for row in rows]

    def get(self, conversation_id: int, with_messages: bool = False) -> dict[str, Any]:
        row = self._db.execute(
            "SELECT * FROM conversations WHERE id = ?", (conversation_id,)
        ).fetchone()
        if row is None:
            raise HistoryError(f"There is no conversation {conversation_id}.")
        conversation = _conversation(row)
        if with_messages:
            conversation["messages"] = [
                dict(m)
                for m in self._db.execute(
                    "SELECT id, role, content, created_at FROM messages"
                    " WHERE conversation_id = ? ORDER BY id",
                    (conversation_id,),
                )
            ]
        return conversation

    def rename(self, conversation_id: int, title: str) -> dict[str, Any]:
        with self._transaction() as db:
            changed = db.execute(
                "UPDATE conversations SET title = ? WHERE id = ?", (_title(title), conversation_id)
            ).rowcount
        if not changed:
            raise HistoryError(f"There is no conversation {conversation_id}.")
        return self.get(conversation_id)

    def delete(self, conversation_id: int) -> None:
        with self._transaction() as db:
            if not db.execute(
                "DELETE FROM conversations WHERE id = ?", (conversation_id,)
            ).rowcount:
                raise HistoryError(f"There is no conversation {conversation_id}.")

    def add_message(self, conversation_id: int, role: str, content: str) -> dict[str, Any]:
        if role not in ("system", "user", "assistant"):
            raise HistoryError("role must be system, user or assistant")
        if not isinstance(content, str):
            raise HistoryError("content must be text")
        now = time.time()
        with self._transaction() as db:
            if not db.execute(
                "UPDATE conversations SET updated_at = ? WHERE id = ?", (now, conversation_id)
            ).rowcount:
                raise HistoryError(f"There is no conversation {conversation_id}.")
            cursor = db.execute(
                "INSERT INTO messages (conversation_id, role, content, created_at)"
                " VALUES (?, ?, ?, ?)",
                (conversation_id, role, content, now),
            )
        return {"id": cursor.lastrowid, "role": role, "content": content, "created_at": now}

    def export_markdown(self, conversation_id: int) -> str:
        conversation = self.get(conversation_id, with_messages=True)
        lines = [f"# {_inert(conversation['title'])}", ""]
        details = [f"Model: {_inert(conversation['model'] or 'unknown')}"]
        if conversation["document_name"]:
            details.append(f"Document: {_inert(conversation['document_name'])}")
        details.append(
            time.strftime("Started: %Y-%m-%d %H:%M", time.localtime(conversation["created_at"]))
        )
        lines += [f"*{' · '.join(details)}*", ""]
        names = {"user": "You", "assistant": "Assistant", "system": "System"}
        for message in conversation["messages"]:
            content = _inert_markdown(message["content"].strip())
            lines += [f"## {names[message['role']]}", "", content, ""]
        return "\n".join(lines)

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _migrate(self) -> None:
        tables = {r["name"] for r in self._db.execute("SELECT name FROM sqlite_master")}
        with self._transaction() as db:
            if "meta" not in tables:
                _run_script(db, _SCHEMA_V1)
                db.execute("INSERT INTO meta VALUES ('schema_version', '1')")
            version = int(
                db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()["value"]
            )
            if version > SCHEMA_VERSION:
                raise HistoryError(
                    f"The history was written by a newer Desktop LLM (schema {version}); "
                    "update the app to open it."
                )
            while version < SCHEMA_VERSION:
                _run_script(db, _MIGRATIONS[version])
                version += 1
                db.execute("UPDATE meta SET value = ? WHERE key='schema_version'", (str(version),))


def open_history(path: Path) -> tuple[HistoryStore, str | None]:
    """The history at `path`, and a sentence for the user if it had to be repaired.

    A file SQLite cannot read (random bytes, text, a truncated copy) is moved aside as
    `history.sqlite3.damaged-<time>` (never deleted), a new history starts, and every
    conversation and message SQLite can still read from the damaged copy is copied in. A history
    written by a newer version raises HistoryError and is not touched."""
    if path.exists():
        try:
            version = _read_only_version(path)
        except sqlite3.DatabaseError:
            return _start_over_recovering(path)
        if version is not None and version > SCHEMA_VERSION:
            raise HistoryError(
                f"The history at {path} was written by a newer Desktop LLM (schema {version}); "
                "update the app to open it. It was left as it is."
            )
    try:
        return HistoryStore(path), None
    except sqlite3.DatabaseError:
        return _start_over_recovering(path)


def _read_only_version(path: Path) -> int | None:
    db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        db.execute("PRAGMA quick_check").fetchall()
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master")}
        if "meta" not in tables:
            return None
        row = db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        return int(row[0]) if row else None
    finally:
        db.close()


def _start_over_recovering(path: Path) -> tuple[HistoryStore, str]:
    kept = path.with_name(f"{path.name}.damaged-{time.strftime('%Y%m%d-%H%M%S')}")
    os.replace(path, kept)
    for suffix in ("-wal", "-shm"):
        side = path.with_name(path.name + suffix)
        if side.exists():
            os.replace(side, kept.with_name(kept.name + suffix))
    store = HistoryStore(path)
    recovered = _recover_into(store, kept)
    return store, (
        f"Your conversation history could not be read. It was kept as {kept.name}, and "
        f"{recovered} conversation{'s' if recovered != 1 else ''} could be recovered from it."
    )


def _recover_into(store: HistoryStore, damaged: Path) -> int:
    """Copy what SQLite can still read, row by row, up to the first unreadable page of each
    table; returns the conversations recovered."""
    try:
        db = sqlite3.connect(f"{damaged.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.DatabaseError:
        return 0
    db.row_factory = sqlite3.Row
    recovered = 0
    for row in _readable_rows(db, "SELECT * FROM conversations ORDER BY id", ()):
        data = dict(row)
        try:
            created = store.create(
                str(data.get("title") or "Recovered conversation"),
                kind=str(data["kind"]) if data.get("kind") in ("chat", "summary") else "chat",
                model=data.get("model"),
                document_name=data.get("document_name"),
            )
        except (sqlite3.Error, HistoryError):
            continue
        query = "SELECT role, content FROM messages WHERE conversation_id = ? ORDER BY id"
        for message in _readable_rows(db, query, (data.get("id"),)):
            try:
                store.add_message(created["id"], message["role"], message["content"])
            except (sqlite3.Error, HistoryError):
                continue
        recovered += 1
    db.close()
    return recovered


def _readable_rows(db: sqlite3.Connection, query: str, args: tuple) -> list[sqlite3.Row]:
    rows: list[sqlite3.Row] = []
    try:
        cursor = db.execute(query, args)
        while (row := cursor.fetchone()) is not None:
            rows.append(row)
    except sqlite3.DatabaseError:
        pass  # the rest of this table is past a damaged page
    return rows


def _run_script(db: sqlite3.Connection, script: str) -> None:
    # Not executescript(): it would commit the surrounding transaction first.
    for statement in filter(str.strip, script.split(";")):
        db.execute(statement)


def _title(title: str) -> str:
    if not isinstance(title, str) or not title.strip():
        raise HistoryError("A title cannot be empty.")
    return " ".join(title.split())[:MAX_TITLE]


def _conversation(row: sqlite3.Row) -> dict[str, Any]:
    data = dict(row)
    data["settings"] = json.loads(data.get("settings") or "{}")
    return data


_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_CODE_SPAN = re.compile(r"(`+)(.+?)\1", re.DOTALL)


def _inert(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _inert_markdown(text: str) -> str:
    """Markdown whose raw HTML cannot render in a viewer that renders HTML (the model or a
    document may have written any): `<`, `>` and `&` are escaped outside code, where Markdown
    shows them as written anyway; fenced blocks and code spans are left as they are."""
    out: list[str] = []
    fence = ""
    for line in text.split("\n"):
        opener = _FENCE.match(line)
        if fence:
            out.append(line)
            if opener and opener.group(1)[0] == fence[0] and len(opener.group(1)) >= len(fence):
                fence = ""
            continue
        if opener:
            fence = opener.group(1)
            out.append(line)
            continue
        pieces, last = [], 0
        for code in _CODE_SPAN.finditer(line):
            pieces += [_inert(line[last : code.start()]), code.group(0)]
            last = code.end()
        out.append("".join([*pieces, _inert(line[last:])]))
    return "\n".join(out)
