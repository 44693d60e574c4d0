"""The local OpenAI-compatible API, answered by the real model in the real page (headless
Chromium), driven by the official `openai` client."""

from __future__ import annotations

import concurrent.futures
import json
import time

import httpx
import openai
import pytest

from desktop_llm.launcher import Launcher
from tests.support.page import ask, open_app_page, wait_ready, wait_until

QUESTION = "What is the capital of France?"


@pytest.fixture
def api_app(app_home, playwright_driver, tmp_path):
    app_home.config.mkdir(parents=True, exist_ok=True)
    app_home.settings_file.write_text(
        json.dumps(
            {
                "api_enabled": True,
                "temperature": 0,
                "max_tokens": 24,
                "system_prompt": "",
                "cpu_engine": "wllama",
            }
        )
    )
    app = Launcher(app_home, host_choice="browser")
    app.start_server()
    page, context = open_app_page(playwright_driver, app, tmp_path / "profile")
    wait_ready(page)
    settings = app.settings_file.load()
    app.page, app.context = page, context
    app.base_url = f"http://127.0.0.1:{settings.api_port}/v1"
    app.client = openai.OpenAI(
        base_url=app.base_url, api_key=settings.api_key, max_retries=0, timeout=120
    )
    yield app
    context.close()
    app.server.stop()
    app.api_server.stop()


def test_models_lists_the_store_and_marks_the_loaded_one(api_app):
    models = api_app.client.models.list().data
    assert [m.id for m in models] == ["smollm2-135m-instruct-q4_1"]
    assert models[0].model_extra["loaded"] is True


def test_completion_streamed_and_not_equal_the_ui_answer(api_app):
    ui_answer = ask(api_app.page, QUESTION)
    reply = api_app.client.chat.completions.create(
        model="smollm2-135m-instruct-q4_1",
        messages=[{"role": "user", "content": QUESTION}],
        temperature=0,
        max_tokens=24,
    )
    text = reply.choices[0].message.content
    assert "Paris" in text
    assert text.strip() == ui_answer.strip()  # greedy: the same answer as in the window
    assert reply.usage.prompt_tokens > 5 and 0 < reply.usage.completion_tokens <= 24
    assert reply.usage.total_tokens == reply.usage.prompt_tokens + reply.usage.completion_tokens

    stream = api_app.client.chat.completions.create(
        model="smollm2-135m-instruct-q4_1",
        messages=[{"role": "user", "content": QUESTION}],
        temperature=0,
        max_tokens=24,
        stream=True,
        stream_options={"include_usage": True},
    )
    pieces, usage, finish = [], None, None
    for chunk in stream:
        if chunk.usage:
            usage = chunk.usage
        for choice in chunk.choices:
            pieces.append(choice.delta.content or "")
            finish = choice.finish_reason or finish
    assert "".join(pieces) == text
    assert len([p for p in pieces if p]) > 1  # it really streamed
    assert usage.completion_tokens == reply.usage.completion_tokens
    assert finish in ("stop", "length")


def test_stop_strings_end_the_answer(api_app):
    plain = api_app.client.chat.completions.create(
        model="x", messages=[{"role": "user", "content": QUESTION}], temperature=0, max_tokens=24
    ).choices[0]
    assert "Paris" in plain.message.content
    stopped = api_app.client.chat.completions.create(
        model="x",
        messages=[{"role": "user", "content": QUESTION}],
        temperature=0,
        max_tokens=24,
        stop=["Paris"],
    ).choices[0]
    assert stopped.message.content == plain.message.content.split("Paris")[0]
    assert stopped.finish_reason == "stop"


def test_keys_and_hosts(api_app):
    bad = openai.OpenAI(base_url=api_app.base_url, api_key="wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        bad.models.list()
    assert httpx.get(f"{api_app.base_url}/models").status_code == 401
    key = api_app.settings_file.load().api_key
    assert key != api_app.server.session.secret  # its own key, not the page's secret
    foreign = httpx.get(
        f"{api_app.base_url}/models",
        headers={"Authorization": f"Bearer {key}", "Host": "evil.example"},
    )
    assert foreign.status_code == 421
    assert api_app.api_server.sock.getsockname()[0] == "127.0.0.1"


def test_bad_requests_get_openai_shaped_errors_and_the_app_keeps_serving(api_app):
    key = api_app.settings_file.load().api_key
    url = f"{api_app.base_url}/chat/completions"
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    cases = [
        (b"{not json", 400, None),
        (json.dumps({"model": "x"}).encode(), 400, "messages"),
        (json.dumps({"messages": []}).encode(), 400, "messages"),
        (
            json.dumps(
                {"messages": [{"role": "user", "content": "hi"}], "tools": [{"type": "function"}]}
            ).encode(),
            400,
            "tools",
        ),
        (json.dumps({"messages": [{"role": "user", "content": "hi"}], "n": 3}).encode(), 400, "n"),
        (
            json.dumps(
                {"messages": [{"role": "user", "content": "hi"}], "temperature": 9}
            ).encode(),
            400,
            "temperature",
        ),
        (b'{"messages": [{"role": "user", "content": "' + b"a" * (5 * 2**20) + b'"}]}', 413, None),
        (b"[" * 10_000 + b"]" * 10_000, 400, None),
    ]
    # A stream whose options are malformed is refused before it is queued: five of them used
    # to fill the queue with answers nobody read.
    for options in ("yes", True, ["include_usage"], {"include_usage": "yes"}):
        body = {"messages": [{"role": "user", "content": "hi"}], "stream": True}
        cases.append(
            (json.dumps({**body, "stream_options": options}).encode(), 400, "stream_options")
        )
    cases.append(
        (
            json.dumps({"messages": [{"role": "user", "content": "hi"}], "stream": "yes"}).encode(),
            400,
            "stream",
        )
    )
    for body, status, param in cases:
        answer = httpx.post(url, content=body, headers=headers, timeout=30)
        assert answer.status_code == status, body[:60]
        error = answer.json()["error"]
        assert error["message"] and error["type"]
        assert error["param"] == param
    assert not api_app.bridge.relay.busy, "a refused request was queued"
    reply = api_app.client.chat.completions.create(
        model="x", messages=[{"role": "user", "content": "Say hi."}], max_tokens=4
    )
    assert reply.choices[0].message.content is not None


def test_ten_clients_at_once_are_answered_or_told_to_wait(api_app):
    def one(n: int) -> str:
        try:
            api_app.client.chat.completions.create(
                model="x",
                messages=[{"role": "user", "content": f"Say the number {n}."}],
                max_tokens=6,
            )
            return "answered"
        except openai.RateLimitError:
            return "busy"

    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(10) as pool:
        results = list(pool.map(one, range(10), timeout=240))
    assert set(results) <= {"answered", "busy"}
    assert results.count("answered") >= 5  # one running plus four waiting
    assert results.count("busy") >= 1
    assert time.monotonic() - started < 240
    assert ask(api_app.page, "Say hi.").strip()  # and the window still answers its user


def test_a_client_that_goes_away_stops_its_generation(api_app):
    api_app.settings_file.update({"max_tokens": 600})
    key = api_app.settings_file.load().api_key
    body = {
        "messages": [{"role": "user", "content": "Write a very long story."}],
        "max_tokens": 600,
        "stream": True,
        "temperature": 0,
    }
    with httpx.stream(
        "POST",
        f"{api_app.base_url}/chat/completions",
        json=body,
        headers={"Authorization": f"Bearer {key}"},
        timeout=60,
    ) as response:
        lines = response.iter_lines()
        for _ in range(6):
            next(lines)
        assert api_app.page.evaluate("document.body.dataset.api") == "busy"
    # 600 tokens would take about 15 s; the page stops as soon as the client is gone.
    wait_until(api_app.page, "() => document.body.dataset.api === undefined", timeout=8)
    reply = api_app.client.chat.completions.create(
        model="x", messages=[{"role": "user", "content": "Say hi."}], max_tokens=4
    )
    assert reply.choices[0].message.content is not None


def test_a_closed_window_answers_503(api_app):
    api_app.context.close()
    time.sleep(1.0)
    with pytest.raises(openai.InternalServerError) as refused:
        api_app.client.chat.completions.create(
            model="x", messages=[{"role": "user", "content": "hi"}]
        )
    assert refused.value.status_code == 503
    assert "window is closed" in refused.value.message
    api_app.context = api_app.page.context  # closed already; the fixture's close is harmless


def test_two_windows_on_one_session_answer_each_request_once(api_app):
    """A second window of the same session (a second tab of the browser window): exactly one
    page answers an API request, so the answer is not two answers interleaved."""
    reply = api_app.client.chat.completions.create(
        model="x", messages=[{"role": "user", "content": QUESTION}], temperature=0, max_tokens=12
    )
    alone = reply.choices[0].message.content
    second = api_app.context.new_page()
    second.goto(api_app.server.origin + "/")
    wait_ready(second)
    feeds = (
        "performance.getEntriesByType('resource').filter(e => e.name.includes('llm/feed')).length"
    )
    before = [page.evaluate(feeds) for page in (api_app.page, second)]
    both = api_app.client.chat.completions.create(
        model="x", messages=[{"role": "user", "content": QUESTION}], temperature=0, max_tokens=12
    )
    assert both.choices[0].message.content == alone
    after = [page.evaluate(feeds) for page in (api_app.page, second)]
    assert after[0] == before[0] and after[1] > before[1]  # the newest window answered, alone
    second.close()
