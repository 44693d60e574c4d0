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
import time

import httpx
import openai
import pytest

from desktop_llm.logs import setup_logging
from tests.support.documents import RECORD_PROGRESS, drop_file, long_document, wait_summary
from tests.support.openai_servers import SERVED_NAME, LlamaCppServer, StubServer
from tests.support.page import ask, pick_model, wait_ready, wait_until

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
    pick_model(page, f"remote:{server_id}:{SERVED_NAME}")
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


def add_server(launcher, name: str, base_url: str, key: str = "", context_window: int = 0) -> str:
    answer = bridge_call(
        launcher,
        "engines/add",
        {"name": name, "base_url": base_url, "api_key": key, "context_window": context_window},
    )
    assert answer.status_code == 200, answer.text
    return answer.json()["id"]


def chat_events(launcher, server_id: str, model: str, question: str = "Hi") -> list[dict]:
    """What the page gets from /api/engines/chat, event by event."""
    cookie = launcher.server.session.cookie_header().split(";")[0]
    body = {
        "server": server_id,
        "model": model,
        "messages": [{"role": "user", "content": question}],
        "options": {"temperature": 0, "max_tokens": 8},
    }
    with httpx.stream(
        "POST",
        f"{launcher.server.origin}/api/engines/chat",
        json=body,
        headers={"X-Desktop-LLM": "1", "Cookie": cookie},
        timeout=60,
    ) as response:
        assert response.status_code == 200, response.read()
        return [json.loads(line[6:]) for line in response.iter_lines() if line.startswith("data: ")]


@pytest.mark.parametrize(
    ("mode", "said"),
    [
        ("unauthorized", "refused the API key (401). Check the key in Settings → Engines."),
        ("rate-limited", "is busy (429); try again in 17 s."),
        ("dies", "closed the connection in the middle of the answer."),
        ("silent", "stopped answering (no reply in time)"),
        ("not-openai", "not as an OpenAI-compatible server would"),
        ("context", "longer than stub-model's context window"),
    ],
)
def test_each_server_fault_is_one_sentence_and_keeps_what_was_written(launcher, stub, mode, said):
    launcher.settings_file.update({"remote_timeout": 2})
    server_id = add_server(launcher, "Stub", stub.base_url, "sk-stub-key-0123456789")
    stub.mode = mode
    events = chat_events(launcher, server_id, "stub-model")
    *pieces, last = events
    assert said in last["error"], last
    assert last["error"].count(". ") <= 1  # one sentence (an address may hold dots)
    if mode == "dies":
        assert "".join("".join(p["pieces"]) for p in pieces) == "Half an answer"


def test_test_connection_says_why_not(launcher, stub):
    refused = bridge_call(launcher, "engines/test", {"base_url": "ftp://example.org"})
    assert refused.status_code == 400 and refused.json()["field"] == "base_url"
    stub.mode = "unauthorized"
    assert (
        "refused the API key (401)"
        in bridge_call(launcher, "engines/test", {"base_url": stub.base_url}).json()["error"]
    )
    stub.mode = "not-openai"
    assert (
        "not as an OpenAI-compatible server"
        in bridge_call(launcher, "engines/test", {"base_url": stub.base_url}).json()["error"]
    )
    nothing = bind_free_port()
    down = bridge_call(launcher, "engines/test", {"base_url": f"http://127.0.0.1:{nothing}"})
    assert "nothing answers there" in down.json()["error"]
    stub.mode = "ok"
    ok = bridge_call(launcher, "engines/test", {"base_url": stub.base_url}).json()
    assert ok["ok"] and ok["models"] == [{"id": "stub-model", "context_window": 1024}]


def bind_free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_stop_closes_the_servers_request_at_once(launcher, browser_page, stub):
    """The stub writes a word every 0.2 s until its client goes away."""
    page = browser_page
    wait_ready(page)
    stub.mode = "slow"
    server_id = add_server(launcher, "Slow server", stub.base_url)
    page.click("#open-settings")
    page.click("#open-engines")  # the page learns of the new server when Engines change
    page.click("#engines-close")
    page.click("#settings-cancel")
    pick_model(page, f"remote:{server_id}:stub-model")
    page.fill("#prompt", "Write forever.")
    page.press("#prompt", "Enter")
    answer = page.locator("article.message.assistant").last
    answer.locator(".answer").filter(has_text="w3").wait_for()
    stopped = time.monotonic()
    page.click("#stop")
    wait_until(page, "() => document.querySelector('article.message.assistant')?.dataset.state")
    wait_until(page, "() => true", timeout=1)
    deadline = time.monotonic() + 5
    while stub.disconnected_at is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert stub.disconnected_at is not None, "the server's request was never closed"
    assert stub.disconnected_at - stopped < 2
    assert answer.get_attribute("data-state") == "stopped"
    assert answer.locator(".answer").inner_text().startswith("w0 w1 w2 w3")


def test_a_long_document_is_summarized_parts_at_once_on_a_server(launcher, browser_page, stub):
    """The stub stands in for a server that answers several requests at once (vLLM, llama.cpp's
    server with --parallel); it says how many it had open at the same time."""
    page = browser_page
    wait_ready(page)
    launcher.settings_file.update({"remote_parallel": 3})
    server_id = add_server(launcher, "Batching server", stub.base_url, context_window=512)
    page.reload()
    wait_ready(page)
    pick_model(page, f"remote:{server_id}:stub-model")
    page.evaluate(RECORD_PROGRESS)
    drop_file(page, "ashford.txt", long_document(words=1400).encode(), "text/plain")
    page.locator("#document-panel[data-state=ready]").wait_for()
    page.click("#summarize")
    state, summary = wait_summary(page, timeout=120)
    assert state == "done" and summary.strip() == "The part is summarized."
    parts = len(stub.requests) - 1  # the last request combines the parts
    assert parts >= 4
    assert stub.most_at_once == 3
    progress = page.evaluate("[...window.__progress]")
    assert f"Summarizing {parts} parts at once: {parts} of {parts} done…" in progress


def test_the_local_api_relays_to_the_server(launcher, browser_page, llama_server):
    page = browser_page
    wait_ready(page)
    launcher.settings_file.update({"api_enabled": True})
    launcher.bridge.update_settings({})  # the local API starts as when saved in the panel
    server_id = add_server(launcher, "Lab server", llama_server.base_url, llama_server.key)
    page.reload()
    wait_ready(page)
    pick_model(page, f"remote:{server_id}:{SERVED_NAME}")
    settings = launcher.settings_file.load()
    messages = [{"role": "user", "content": "What is the capital of France?"}]
    local = openai.OpenAI(
        base_url=f"http://127.0.0.1:{settings.api_port}/v1", api_key=settings.api_key
    )
    direct = openai.OpenAI(base_url=llama_server.base_url, api_key=llama_server.key)
    direct.chat.completions.create(
        model=SERVED_NAME, messages=messages, temperature=0, max_tokens=16
    )
    relayed = local.chat.completions.create(
        model="any", messages=messages, temperature=0, max_tokens=16
    )
    expected = direct.chat.completions.create(
        model=SERVED_NAME, messages=messages, temperature=0, max_tokens=16
    )
    assert relayed.choices[0].message.content == expected.choices[0].message.content


def test_sampling_settings_and_api_penalties_reach_the_server(launcher, browser_page, stub):
    """The page's chat sends the settings' sampling, penalties included; the local API passes a
    client's penalties on (through the page, to the server), and refuses ones out of range."""
    page = browser_page
    wait_ready(page)
    launcher.settings_file.update(
        {
            "temperature": 0.3,
            "top_p": 0.8,
            "max_tokens": 40,
            "frequency_penalty": 0.5,
            "presence_penalty": 0.25,
            "api_enabled": True,
        }
    )
    launcher.bridge.update_settings({})
    server_id = add_server(launcher, "Stub", stub.base_url)
    page.reload()
    wait_ready(page)
    pick_model(page, f"remote:{server_id}:stub-model")
    assert ask(page, "Hello?").strip() == "The part is summarized."
    sent = stub.requests[-1]
    assert {k: sent[k] for k in ("temperature", "top_p", "max_tokens")} == {
        "temperature": 0.3, "top_p": 0.8, "max_tokens": 40}  # fmt: skip
    assert sent["frequency_penalty"] == 0.5 and sent["presence_penalty"] == 0.25

    settings = launcher.settings_file.load()
    local = openai.OpenAI(
        base_url=f"http://127.0.0.1:{settings.api_port}/v1",
        api_key=settings.api_key,
        max_retries=0,
    )
    messages = [{"role": "user", "content": "Hi"}]
    local.chat.completions.create(
        model="any", messages=messages, frequency_penalty=1.2, presence_penalty=-0.5
    )
    assert stub.requests[-1]["frequency_penalty"] == 1.2
    assert stub.requests[-1]["presence_penalty"] == -0.5
    with pytest.raises(openai.BadRequestError, match="frequency_penalty"):
        local.chat.completions.create(model="any", messages=messages, frequency_penalty=3)


def test_a_summary_uses_its_penalty_and_follow_ups_see_the_document(launcher, browser_page, stub):
    """The stub stands in for a server so that what the page sends can be read: the summary is
    greedy with the summary penalty, and a follow-up question in its conversation carries the
    passages of the document that relate to it (the summary alone does not have the answer)."""
    page = browser_page
    wait_ready(page)
    launcher.settings_file.update({"summary_frequency_penalty": 0.4, "max_tokens": 40})
    server_id = add_server(launcher, "Stub", stub.base_url)
    page.reload()
    wait_ready(page)
    pick_model(page, f"remote:{server_id}:stub-model")
    filler = " ".join(
        f"The harbour recorded ship number {n} arriving that week." for n in range(60)
    )
    fact = "The lighthouse keeper was named Agnes Pembroke and she served for 41 years."
    text = f"{filler}\n\n{fact}\n\n{filler}"
    drop_file(page, "harbour.txt", text.encode(), "text/plain")
    page.locator("#document-panel[data-state=ready]").wait_for()
    page.click("#summarize")
    state, _ = wait_summary(page)
    assert state == "done"
    summary_request = stub.requests[-1]
    assert summary_request["temperature"] == 0 and summary_request["frequency_penalty"] == 0.4

    ask(page, "Who was the lighthouse keeper?")
    follow_up = stub.requests[-1]["messages"]
    assert follow_up[0]["role"] == "system" and "Agnes Pembroke" in follow_up[0]["content"]
    assert follow_up[-1] == {"role": "user", "content": "Who was the lighthouse keeper?"}
    # Passages, not the whole document: the filler far from the question is left out.
    assert len(follow_up[0]["content"]) < len(text) / 2

    page.click("#new-chat")  # a conversation of its own has no document
    ask(page, "Who was the lighthouse keeper?")
    assert "Agnes" not in json.dumps(stub.requests[-1]["messages"])
