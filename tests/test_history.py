"""History in SQLite: the operations, crash safety and schema migration."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from desktop_llm.history import SCHEMA_VERSION, HistoryError, HistoryStore
from desktop_llm.history.store import _SCHEMA_V1


def test_create_rename_search_delete_export(tmp_path: Path):
    store = HistoryStore(tmp_path / "history.sqlite3")
    chat = store.create("Trip to Lisbon", model="smollm2", settings={"temperature": 0.7})
    store.add_message(chat["id"], "user", "Where should I eat in Alfama?")
    store.add_message(chat["id"], "assistant", "Try a **tasca** near the cathedral.")
    summary = store.create("Summary of report.pdf", kind="summary", document_name="report.pdf")
    store.add_message(summary["id"], "assistant", "The report covers harbour lights.")

    assert [c["title"] for c in store.list()] == ["Summary of report.pdf", "Trip to Lisbon"]
    assert [c["id"] for c in store.list("alfama")] == [chat["id"]]  # by message text
    assert [c["id"] for c in store.list("report.pdf")] == [summary["id"]]  # by document name
    assert store.list("100%") == []  # LIKE wildcards are searched for literally

    store.rename(chat["id"], "  Lisbon   food  ")
    assert store.get(chat["id"])["title"] == "Lisbon food"

    markdown = store.export_markdown(chat["id"])
    assert markdown.startswith("# Lisbon food")
    assert "## You\n\nWhere should I eat in Alfama?" in markdown
    assert "## Assistant\n\nTry a **tasca** near the cathedral." in markdown
    assert "Model: smollm2" in markdown

    store.delete(chat["id"])
    assert [c["id"] for c in store.list()] == [summary["id"]]
    with pytest.raises(HistoryError):
        store.get(chat["id"])
    with pytest.raises(HistoryError):
        store.rename(summary["id"], "   ")


WRITER = """
import sys, time
from pathlib import Path
from desktop_llm.history import HistoryStore
store = HistoryStore(Path(sys.argv[1]))
chat = store.create("Long chat")
for i in range(10):
    store.add_message(chat["id"], "user", f"question {i}")
    store.add_message(chat["id"], "assistant", f"answer {i}")
store.add_message(chat["id"], "user", "one more question")
print("ready", flush=True)
answer = ""
while True:  # the answer still streaming in: not written until it is complete
    answer += "token "
    time.sleep(0.001)
"""


def test_kill_9_during_an_answer_keeps_every_earlier_message(tmp_path: Path):
    db = tmp_path / "history.sqlite3"
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(db)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parent.parent,
    )
    assert writer.stdout.readline().strip() == "ready"
    time.sleep(0.2)
    os.kill(writer.pid, signal.SIGKILL)
    writer.wait()
    store = HistoryStore(db)
    (chat,) = store.list()
    messages = store.get(chat["id"], with_messages=True)["messages"]
    assert len(messages) == 21
    assert messages[-1]["content"] == "one more question"
    assert store._db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_a_database_from_the_previous_schema_migrates(tmp_path: Path):
    path = tmp_path / "history.sqlite3"
    old = sqlite3.connect(path)
    old.executescript(_SCHEMA_V1)
    old.execute("INSERT INTO meta VALUES ('schema_version', '1')")
    old.execute("INSERT INTO conversations VALUES (1, 'Old chat', 'm', 1.0, 2.0)")
    old.execute("INSERT INTO messages VALUES (1, 1, 'user', 'hello from v1', 1.5)")
    old.commit()
    old.close()

    store = HistoryStore(path)
    assert store.version == SCHEMA_VERSION
    chat = store.get(1, with_messages=True)
    assert chat["title"] == "Old chat" and chat["kind"] == "chat"
    assert chat["messages"][0]["content"] == "hello from v1"
    store.add_message(1, "assistant", "hello from v2")  # and it keeps working


def test_a_database_from_a_newer_app_is_refused_clearly(tmp_path: Path):
    path = tmp_path / "history.sqlite3"
    HistoryStore(path).close()
    db = sqlite3.connect(path)
    db.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    db.commit()
    db.close()
    with pytest.raises(HistoryError, match="newer Desktop LLM"):
        HistoryStore(path)


def test_exported_markdown_cannot_render_raw_html(tmp_path: Path):
    """Opened in a viewer that renders HTML, an export shows what the model or a document wrote
    as text: no tag of theirs becomes an element; code keeps its characters."""
    store = HistoryStore(tmp_path / "history.sqlite3")
    chat = store.create("<img src=x onerror=alert(1)>", document_name="<b>doc</b>.pdf")
    store.add_message(
        chat["id"],
        "assistant",
        "Here: <script>alert(1)</script> and <a href='javascript:alert(2)'>link</a> & more\n"
        "`<span>code</span>` stays\n```html\n<iframe src=x></iframe>\n```\nafter <b>bold</b>",
    )
    exported = store.export_markdown(chat["id"])
    outside_code = exported.split("```html")[0].replace("`<span>code</span>`", "")
    outside_code += exported.split("```\n", 2)[-1]
    assert "<" not in outside_code and ">" not in outside_code, outside_code
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in exported
    assert "# &lt;img src=x onerror=alert(1)&gt;" in exported
    assert "`<span>code</span>` stays" in exported and "<iframe src=x></iframe>" in exported
    assert "after &lt;b&gt;bold&lt;/b&gt;" in exported


@pytest.mark.parametrize("damage", ["random", "text", "truncated", "overwritten tail"])
def test_a_damaged_history_is_kept_aside_and_what_can_be_read_is_recovered(tmp_path, damage):
    from desktop_llm.history import open_history

    path = tmp_path / "history.sqlite3"
    store = HistoryStore(path)
    for n in range(30):
        chat = store.create(f"Conversation {n}")
        store.add_message(chat["id"], "user", f"question {n} " + "x" * 2000)
    store.close()
    original = path.read_bytes()
    if damage == "random":
        path.write_bytes(os.urandom(len(original)))
    elif damage == "text":
        path.write_text("these are not the bytes of a database\n" * 100)
    elif damage == "truncated":
        path.write_bytes(original[: len(original) // 2])
    else:  # the last quarter's pages overwritten, as a failing disk might
        tail = len(original) * 3 // 4
        path.write_bytes(original[:tail] + os.urandom(len(original) - tail))
    damaged = path.read_bytes()

    reopened, warning = open_history(path)
    kept = [
        k for k in tmp_path.glob("history.sqlite3.damaged-*") if k.name[-4:] not in ("-wal", "-shm")
    ]
    assert len(kept) == 1 and kept[0].read_bytes() == damaged  # never deleted, never changed
    assert warning.startswith("Your conversation history could not be read. It was kept as ")
    recovered = len(reopened.list())
    assert f"{recovered} conversation" in warning
    if damage == "overwritten tail":
        assert recovered == 30  # every row SQLite can still read comes back
    chat = reopened.create("after the repair")  # and history works again
    assert reopened.get(chat["id"])["title"] == "after the repair"


def test_a_history_from_a_newer_version_is_refused_untouched(tmp_path, app_home):
    from desktop_llm.launcher import Launcher, LaunchError

    path = app_home.history_file
    store = HistoryStore(path)
    store.close()
    db = sqlite3.connect(path)
    db.execute("UPDATE meta SET value = '99' WHERE key='schema_version'")
    db.execute("PRAGMA journal_mode=DELETE")
    db.commit()
    db.close()
    before = path.read_bytes()
    with pytest.raises(LaunchError, match="written by a newer Desktop LLM"):
        Launcher(app_home, host_choice="browser").start_server()
    assert path.read_bytes() == before
    assert not list(path.parent.glob("history.sqlite3.damaged-*"))
