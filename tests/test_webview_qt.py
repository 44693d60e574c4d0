"""The real app, as a user starts it, in the real pywebview Qt window under Xvfb."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cdp import CDPPage
from tests.support.xvfb import virtual_display


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def xvfb_display():
    with virtual_display() as display:
        yield display


def start_app(
    home: Path,
    display: str,
    debug_port: int,
    *args: str,
    script: str | None = None,
    extra_env: dict[str, str] | None = None,
) -> subprocess.Popen:
    env = {
        **os.environ,
        "DISPLAY": display,
        "DESKTOP_LLM_HOME": str(home),
        "QTWEBENGINE_REMOTE_DEBUGGING": f"127.0.0.1:{debug_port}",
        "LANG": "C.UTF-8",
        **(extra_env or {}),
    }
    env.pop("WAYLAND_DISPLAY", None)
    command = [sys.executable, script] if script else [sys.executable, "-m", "desktop_llm"]
    return subprocess.Popen(
        [*command, *args],
        cwd=Path(__file__).resolve().parent.parent,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def ask_capital(page: CDPPage) -> str:
    """Send "What is the capital of France?" as a user does and return the whole answer."""
    page.evaluate(
        "(() => { const p = document.getElementById('prompt');"
        " p.value = 'What is the capital of France?';"
        " document.getElementById('composer').requestSubmit(); })()"
    )
    page.wait_until("document.querySelector('article.assistant')?.dataset.state", timeout=120)
    return page.evaluate("document.querySelector('article.assistant .answer').innerText")


def write_settings(home: Path, **values) -> None:
    (home / "config").mkdir(parents=True, exist_ok=True)
    (home / "config" / "settings.json").write_text(json.dumps(values))


def stop(process: subprocess.Popen) -> str:
    """End the app (SIGTERM closes its window gracefully) and return what it printed."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
    output = process.stdout.read().decode(errors="replace") if process.stdout else ""
    print(f"--- app output (exit {process.returncode}) ---\n{output}")  # shown if a test fails
    return output


def test_qt_window_opens_and_the_embedded_model_answers(tmp_path, xvfb_display):
    home = tmp_path / "home"
    write_settings(home, temperature=0, max_tokens=24)
    debug_port = free_port()
    app = start_app(home, xvfb_display, debug_port, "--host", "webview")
    page = None
    try:
        page = CDPPage(debug_port, "http://127.0.0.1:")
        page.wait_until("document.body.dataset.engineState === 'ready'", timeout=90)
        assert page.evaluate("document.body.dataset.host") == "webview"
        assert page.evaluate("crossOriginIsolated") is True
        assert page.evaluate("document.body.dataset.webgpu") == "no"  # Qt has no WebGPU
        # The secret never shows in the page's URL.
        assert "launch=" not in page.evaluate("location.href")
        answer = ask_capital(page)
        assert "Paris" in answer
        # Copy works here too (Qt gives the page no clipboard; the app sets the system one):
        # the button says so, and pasting into the message box gives the answer back.
        page.evaluate("document.querySelector('article.assistant button.copy').click()")
        page.wait_until(
            "document.querySelector('article.assistant button.copy').dataset.copied === 'yes'",
            timeout=10,
        )
        page.evaluate("(() => { const p = document.getElementById('prompt');"
                      " p.value = ''; p.focus(); })()")  # fmt: skip
        for kind in ("rawKeyDown", "keyUp"):
            page.send(
                "Input.dispatchKeyEvent",
                {"type": kind, "modifiers": 2, "key": "v", "code": "KeyV",
                 "windowsVirtualKeyCode": 86, "commands": ["paste"] if kind != "keyUp" else []},
            )  # fmt: skip
        page.wait_until("document.getElementById('prompt').value.length > 0", timeout=10)
        pasted = page.evaluate("document.getElementById('prompt').value")
        assert pasted.strip() == answer.strip()
        # With llama-cpp-python installed (as in the tests), GGUF models run natively by default,
        # streamed through the app to the Qt page.
        status = page.evaluate("document.getElementById('engine-status').textContent")
        assert "llama.cpp native (CPU)" in status
        # The port is kept for the next launch, so the page's origin (and storage) stays.
        port = json.loads((home / "config" / "settings.json").read_text())["server_port"]
        assert page.evaluate("location.port") == str(port)
    finally:
        if page:
            page.close()
        output = stop(app)
    assert "Traceback" not in output, output


def test_origin_and_storage_survive_a_restart(tmp_path, xvfb_display):
    home = tmp_path / "home"
    write_settings(home, temperature=0, max_tokens=4)
    seen = []
    for launch in range(2):
        debug_port = free_port()
        app = start_app(home, xvfb_display, debug_port, "--host", "webview")
        try:
            page = CDPPage(debug_port, "http://127.0.0.1:")
            page.wait_until("document.body.dataset.engineState === 'ready'", timeout=90)
            if launch == 0:
                page.evaluate("localStorage.setItem('kept', 'yes'); 1")
            seen.append(
                (page.evaluate("location.port"), page.evaluate("localStorage.getItem('kept')"))
            )
            page.close()
        finally:
            stop(app)
    assert seen[0][0] == seen[1][0]
    assert seen[1][1] == "yes"


def test_reopen_in_browser_then_closing_it_ends_the_app(tmp_path, xvfb_display):
    """One click in the Qt window moves the app to a Chromium app window with its own profile;
    closing that window ends the app."""
    home = tmp_path / "home"
    browser_debug = free_port()
    write_settings(
        home,
        temperature=0,
        max_tokens=4,
        browser="/usr/bin/chromium",
        browser_flags=[f"--remote-debugging-port={browser_debug}", "--disable-quic"],
    )
    qt_debug = free_port()
    app = start_app(home, xvfb_display, qt_debug, "--host", "webview")
    try:
        page = CDPPage(qt_debug, "http://127.0.0.1:")
        page.wait_until("document.body.dataset.engineState === 'ready'", timeout=90)
        page.wait_until("!!document.querySelector('.banner[data-kind=browser-offer]')")
        page.evaluate(
            "document.querySelector('.banner[data-kind=browser-offer] button').click(); 1"
        )
        page.close()
        browser = CDPPage(browser_debug, "http://127.0.0.1:", timeout=60)
        browser.wait_until("document.body.dataset.engineState === 'ready'", timeout=90)
        assert browser.evaluate("document.body.dataset.host") == "browser"
        assert browser.evaluate("crossOriginIsolated") is True
        assert (home / "data" / "browser-profile").is_dir()  # its own profile, not the user's
        saved = json.loads((home / "config" / "settings.json").read_text())
        assert saved["host"] == "browser"  # the next launch goes straight to the browser
        browser.send("Page.close")
        browser.close()
        assert app.wait(30) == 0
    finally:
        output = stop(app)
    assert "Traceback" not in output, output


def start_drop_app(home: Path, display: str):
    """The real app in the Qt window plus the test-only drop hook (tests/qt_drop_app.py), once
    its model is ready; returns the process, its page, and drop(path, at=None)."""
    drop_port, debug_port = free_port(), free_port()
    app = start_app(
        home,
        display,
        debug_port,
        "--host",
        "webview",
        script="tests/qt_drop_app.py",
        extra_env={"TEST_DROP_PORT": str(drop_port)},
    )
    try:
        page = CDPPage(debug_port, "http://127.0.0.1:")
        page.wait_until("document.body.dataset.engineState === 'ready'", timeout=90)
    except BaseException:
        stop(app)
        raise

    def drop(path: Path, at: tuple[float, float] | None = None) -> None:
        message = f"{at[0]} {at[1]}\n{path}" if at else str(path)
        with socket.create_connection(("127.0.0.1", drop_port), timeout=30) as conn:
            conn.sendall(message.encode())
            assert conn.recv(16) == b"ok"

    return app, page, drop


def test_a_file_dropped_on_the_qt_window_is_read_by_path_and_summarized(tmp_path, xvfb_display):
    """A drop through pywebview's own Qt path (synthesized Qt drop events, tests/qt_drop_app.py)
    reaches extraction by the file's full path and ends in a summary from the real model."""
    from tests.support.documents import make_docx

    home = tmp_path / "home"
    write_settings(home, temperature=0)
    document = tmp_path / "keepers notes.docx"
    document.write_bytes(
        make_docx(
            [
                "The lighthouse on Gull Rock was built in 1848 to warn ships of the reef.",
                "Its keeper, Mary Ellis, kept the lamp burning for forty years.",
            ]
        )
    )
    env_app, page, drop = start_drop_app(home, xvfb_display)
    try:
        drop(document)
        page.wait_until("document.getElementById('document-panel').dataset.state === 'ready'")
        assert page.evaluate("document.getElementById('document-name').textContent") == (
            "keepers notes.docx"
        )
        page.evaluate(
            "(() => { document.querySelector('#document-form select[name=length]').value = 'short';"
            " document.getElementById('summarize').click(); })()"
        )
        page.wait_until(
            "document.querySelector('article[data-kind=summary]')?.dataset.state", timeout=300
        )
        state = page.evaluate("document.querySelector('article[data-kind=summary]').dataset.state")
        summary = page.evaluate(
            "document.querySelector('article[data-kind=summary] .answer').innerText"
        )
        assert state == "done"
        assert any(w in summary for w in ("lighthouse", "Lighthouse", "Mary", "1848", "keeper"))
        page.close()
    finally:
        stop(env_app)


def test_a_gguf_file_dropped_on_the_model_list_is_added_to_the_store(tmp_path, xvfb_display):
    """Adding a model the user has by dropping it on the model list, through pywebview's own Qt
    drop path (tests/qt_drop_app.py): the store gets it by its full path, no upload."""
    home = tmp_path / "home"
    model_file = tmp_path / "My Own Model.Q4_K_M.gguf"
    model_file.write_bytes(b"GGUF" + bytes(range(256)) * 64)
    app, page, drop = start_drop_app(home, xvfb_display)
    try:
        page.evaluate("document.getElementById('open-models').click()")
        page.wait_until("document.querySelectorAll('#models-installed li').length > 0")
        x, y = page.evaluate(
            "(() => { const r = document.getElementById('models-drop').getBoundingClientRect();"
            " return [r.x + r.width / 2, r.y + r.height / 2]; })()"
        )
        drop(model_file, at=(x, y))
        page.wait_until(
            "document.getElementById('models-message').textContent.startsWith('Added')", timeout=30
        )
        assert page.evaluate("document.getElementById('models-message').textContent") == (
            "Added My Own Model.Q4_K_M."
        )
        assert page.evaluate("document.getElementById('document-panel').hidden")  # not a summary
        page.close()
    finally:
        stop(app)
    from desktop_llm.models.store import ModelStore

    entry = ModelStore(home / "data" / "models").get("My-Own-Model.Q4_K_M")
    assert entry is not None and entry.source == str(model_file)


def test_self_test_answers_with_the_embedded_model_and_exits_0(tmp_path: Path, xvfb_display):
    """`--self-test` is how installers are smoke-tested: the real window, the real model."""
    app = start_app(tmp_path / "home", xvfb_display, free_port(), "--self-test")
    output = app.communicate(timeout=240)[0].decode()
    assert app.returncode == 0, output
    assert "self-test passed: SmolLM2 135M Instruct" in output
    answer = output.split("self-test passed:", 1)[1].split(":", 1)[1].splitlines()[0]
    assert answer.strip(), output


def test_self_test_fails_with_the_reason_when_the_model_is_damaged(tmp_path: Path, xvfb_display):
    damaged = tmp_path / "damaged.gguf"
    damaged.write_bytes(b"GGUF" + b"\0" * 1000)
    app = start_app(
        tmp_path / "home",
        xvfb_display,
        free_port(),
        "--self-test",
        extra_env={"DESKTOP_LLM_EMBEDDED": str(damaged)},
    )
    output = app.communicate(timeout=240)[0].decode()
    assert app.returncode == 2, output
    assert "desktop-llm: The built-in model at" in output and "is damaged" in output, output
    assert "Traceback" not in output


def test_the_qt_window_answers_from_a_server_added_in_engines(tmp_path, xvfb_display):
    """A model on an OpenAI-compatible server (the real llama.cpp server, in its own process),
    chosen as the start model, answers in the Qt window through the app, as the openai client
    gets it from the server."""
    import openai

    from desktop_llm.engines.servers import ServerList
    from desktop_llm.settings import Settings
    from tests.support.openai_servers import SERVED_NAME, LlamaCppServer

    server = LlamaCppServer().start()
    home = tmp_path / "home"
    (home / "config").mkdir(parents=True)
    added = ServerList(home / "config" / "servers.json").add(
        "Lab server", server.base_url, server.key
    )
    write_settings(home, temperature=0, max_tokens=24, model=f"remote:{added.id}:{SERVED_NAME}")
    direct = openai.OpenAI(base_url=server.base_url, api_key=server.key)
    messages = [
        {"role": "system", "content": Settings().system_prompt},
        {"role": "user", "content": "What is the capital of France?"},
    ]

    def asked_directly() -> str:
        completion = direct.chat.completions.create(
            model=SERVED_NAME,
            messages=messages,
            temperature=0,
            top_p=Settings().top_p,
            max_tokens=24,
        )
        return completion.choices[0].message.content.strip()

    asked_directly()  # the server's cold and warm greedy answers differ (see test_remote_engines)
    debug_port = free_port()
    app = start_app(home, xvfb_display, debug_port, "--host", "webview")
    page = None
    try:
        page = CDPPage(debug_port, "http://127.0.0.1:")
        page.wait_until("document.body.dataset.engineState === 'ready'", timeout=90)
        assert "Lab server (server)" in page.evaluate(
            "document.getElementById('engine-status').textContent"
        )
        answer = ask_capital(page)
        assert answer.strip() == asked_directly()
        assert server.key not in page.evaluate("document.documentElement.outerHTML")
    finally:
        if page:
            page.close()
        output = stop(app)
        server.stop()
    assert "Traceback" not in output, output
    assert server.key not in output
