"""Remote engines: OpenAI-compatible servers added in Settings → Engines, used from the real page
in Chromium. The server is llama-cpp-python's (llama.cpp) in its own process, serving the
built-in model; faults it cannot produce come from a loopback stub (tests/support/openai_servers).
"""

from __future__ import annotations

import json
import logging
import sqlite3
import stat
import threading

import httpx
import openai
import pytest

from desktop_llm.logs import setup_logging
from tests.support.openai_servers import SERVED_NAME, LlamaCppServer, StubServer
from tests.support.page import ask, wait_ready, wait_until

QUESTION = "Name three colours of the rainbow."


@pytest.fixture(scope="module")
def llama_server():
    server = LlamaCppServer().start()
    yield server
    server.stop()


@pytest.fixture
def stub():
    server = StubServer().start()
    yield server
    server.stop()


def add_server_in_page(page, name: str, base_url: str, key: str = "") -> None:
    """As a user does: Settings → Engines…, fill the form, test, save."""
    page.click("#open-settings")
    page.click("#open-engines")
    page.fill("#engine-form [name=name]", name)
    page.fill("#engine-form [name=base_url]", base_url)
    page.fill("#engine-form [name=api_key]", key)
    page.click("#engine-test")
    wait_until(
        page,
        "() => /Connected|answer|refused|reach/"
        ".test(document.querySelector('#engine-message').textContent)",
    )
    page.click("#engine-save")
    page.locator("#engines-list li[data-server]").filter(has_text=name).wait_for()


def pick(page, model_id: str) -> None:
    wait_until(
        page,
        "id => [...document.querySelectorAll('#model-select option')].some(o => o.value === id)",
        model_id,
    )
    page.select_option("#model-select", model_id)
    wait_until(page, "id => document.body.dataset.engineModel === id", model_id)
    wait_ready(page)


def bridge_call(launcher, path: str, body: dict | None = None) -> httpx.Response:
    """The page's bridge as the page calls it (session cookie and the bridge header)."""
    cookie = launcher.server.session.cookie_header().split(";")[0]
    headers = {"X-Desktop-LLM": "1", "Cookie": cookie}
    url = f"{launcher.server.origin}/api/{path}"
    if body is None:
        return httpx.get(url, headers=headers, timeout=60)
    return httpx.post(url, headers=headers, json=body, timeout=60)


# The bridge's answers about servers (the streams are not kept by the browser: the events are
# read by EventRecorder, and an answer carries only text the model wrote).
BRIDGE_ANSWERS = (
    "/api/engines",
    "/api/engines/add",
    "/api/engines/test",
    "/api/engines/open",
    "/api/settings",
    "/api/info",
    "/api/models",
)


class EventRecorder:
    """Everything the app pushes to pages (/api/events) while a test runs."""

    def __init__(self, launcher):
        cookie = launcher.server.session.cookie_header().split(";")[0]
        self.text = ""
        self._client = httpx.Client(headers={"X-Desktop-LLM": "1", "Cookie": cookie})
        self._thread = threading.Thread(target=self._read, args=(launcher.server.origin,))
        self._thread.start()

    def _read(self, origin: str) -> None:
        try:
            with self._client.stream("GET", f"{origin}/api/events", timeout=None) as stream:
                for text in stream.iter_text():
                    self.text += text
        except httpx.HTTPError:
            pass  # closed by stop()

    def stop(self) -> bool:
        self._client.close()
        self._thread.join(5)
        return True


def log_everything(launcher, request) -> None:
    """The app's log at DEBUG (httpx's and httpcore's requests included) for this test."""
    root = logging.getLogger()
    kept = (root.level, root.handlers[:])
    setup_logging(launcher.paths.log_file, logging.DEBUG)

    def restore():
        root.handlers[:] = kept[1]
        root.setLevel(kept[0])

    request.addfinalizer(restore)


def test_the_page_chats_with_a_server_and_answers_as_the_openai_client_gets_it(
    launcher, browser_page, llama_server, request
):
    page = browser_page
    log_everything(launcher, request)
    launcher.settings_file.update({"temperature": 0, "max_tokens": 24})
    seen = []  # every answer the page received, to look for the key in
    page.on("response", lambda r: seen.append(r))
    events = EventRecorder(launcher)
    wait_ready(page)
    add_server_in_page(page, "Lab server", llama_server.base_url, llama_server.key)
    row = page.locator("#engines-list li[data-server]").first
    assert SERVED_NAME in row.inner_text() and "key set" in row.inner_text()
    page.click("#engines-close")
    page.click("#settings-cancel")

    server_id = row.get_attribute("data-server")
    pick(page, f"remote:{server_id}:{SERVED_NAME}")
    assert "Lab server (server)" in page.text_content("#engine-status")
    group = page.evaluate(
        "() => document.querySelector('#model-select option:checked').parentElement.label"
    )
    assert group == "Lab server"
    settings = launcher.settings_file.load()
    direct = openai.OpenAI(base_url=llama_server.base_url, api_key=llama_server.key)

    def asked_directly() -> str:
        completion = direct.chat.completions.create(
            model=SERVED_NAME,
            messages=[
                {"role": "system", "content": settings.system_prompt},
                {"role": "user", "content": QUESTION},
            ],
            temperature=0,
            top_p=settings.top_p,
            max_tokens=24,
        )
        return completion.choices[0].message.content.strip()

    # llama.cpp's greedy answer to a prompt it has cached differs in the last digits from a cold
    # one (the prompt is read in other batches), so both requests come after a first one.
    asked_directly()
    answer = ask(page, QUESTION)
    expected = asked_directly()
    assert answer.strip() == expected

    # The key is in servers.json (0600) and nowhere the page, the logs or the history can see.
    servers_file = launcher.paths.servers_file
    assert stat.S_IMODE(servers_file.stat().st_mode) == 0o600
    assert llama_server.key in servers_file.read_text()
    bodies = [r.text() for r in seen if r.url.split("?")[0].endswith(BRIDGE_ANSWERS)]
    assert len(bodies) >= 5 and not any(llama_server.key in body for body in bodies)
    assert events.stop() and llama_server.key not in events.text
    assert llama_server.key not in page.content()
    assert llama_server.key not in json.dumps(bridge_call(launcher, "engines").json())
    assert llama_server.key not in launcher.paths.log_file.read_text()
    with sqlite3.connect(launcher.paths.history_file) as db:
        assert not any(llama_server.key in str(row) for row in db.execute("SELECT * FROM messages"))
