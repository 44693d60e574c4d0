"""The chat in headless Chromium against the real server, with the real embedded model on the real
CPU engine (wllama). The browser runs with the browser host's own flags."""

from __future__ import annotations

import time

import pytest

from tests.support.page import ask, set_greedy, wait_ready, wait_until

pytestmark = pytest.mark.wllama

RECORD_PARTIAL_ANSWERS = """() => {
    window.__seen = new Set();
    new MutationObserver(() => {
        const answer = document.querySelector('article.assistant .answer');
        if (answer) window.__seen.add(answer.innerText.length);
    }).observe(document.getElementById('messages'),
               {subtree: true, childList: true, characterData: true});
}"""


def test_embedded_model_answers_with_streamed_tokens(launcher, browser_page):
    set_greedy(launcher, max_tokens=48)
    page = browser_page
    page.reload()
    wait_ready(page)
    assert "wllama" in page.text_content("#engine-status")
    assert page.evaluate("crossOriginIsolated") is True
    assert "2 threads" in page.text_content("#engine-status")  # all cores of this machine
    page.evaluate(RECORD_PARTIAL_ANSWERS)
    answer = ask(page, "What is the capital of France?")
    assert "Paris" in answer
    # It streamed: the user saw the answer grow through several lengths, not one final paint.
    assert page.evaluate("window.__seen.size") >= 4
    assert "tokens/s" in page.text_content("#stats")
    assert page.locator("article.message.assistant button.copy").count() == 1


def test_greedy_answer_is_the_same_every_time(launcher, browser_page):
    set_greedy(launcher, max_tokens=16)
    page = browser_page
    page.reload()
    wait_ready(page)
    first = ask(page, "Name a colour.")
    page.click("#new-chat")
    second = ask(page, "Name a colour.")
    assert first == second and first.strip()


def test_stop_halts_generation_and_keeps_the_partial_answer(launcher, browser_page):
    launcher.settings_file.update({"temperature": 0, "max_tokens": 600})
    page = browser_page
    page.reload()
    wait_ready(page)
    page.fill("#prompt", "Write a long story about a dragon who learns to cook.")
    page.press("#prompt", "Enter")
    wait_until(
        page, "() => document.querySelector('article.assistant .answer')?.innerText.length > 40"
    )
    assert page.is_visible("#stop")
    page.click("#stop")
    wait_until(page, "() => document.querySelector('article.assistant')?.dataset.state", timeout=10)
    assert page.evaluate("document.querySelector('article.assistant').dataset.state") == "stopped"
    kept = page.inner_text("article.assistant .answer")
    assert len(kept) > 40
    time.sleep(1.0)
    assert page.inner_text("article.assistant .answer") == kept  # nothing more arrived
    tokens = int(page.text_content("#stats").split(" tokens")[0])
    assert tokens < 600
    assert not page.is_visible("#stop")
    # The app still answers after a stop.
    launcher.settings_file.update({"max_tokens": 8})
    assert ask(page, "Say hi.").strip()


def test_enter_sends_and_shift_enter_adds_a_line(launcher, browser_page):
    set_greedy(launcher, max_tokens=4)
    page = browser_page
    page.reload()
    wait_ready(page)
    page.click("#prompt")
    page.keyboard.type("first line")
    page.keyboard.press("Shift+Enter")
    page.keyboard.type("second line")
    assert page.input_value("#prompt") == "first line\nsecond line"
    assert page.locator("article.message.user").count() == 0
    page.keyboard.press("Enter")
    page.locator("article.message.user").wait_for()
    assert page.inner_text("article.message.user") == "first line\nsecond line"
    assert page.input_value("#prompt") == ""


def test_new_chat_clears_the_conversation(launcher, browser_page):
    set_greedy(launcher, max_tokens=4)
    page = browser_page
    page.reload()
    wait_ready(page)
    ask(page, "Hello")
    assert page.locator("article.message").count() == 2
    page.click("#new-chat")  # clears once the last answer is kept in its conversation
    wait_until(page, "() => document.querySelectorAll('article.message').length === 0", timeout=5)
    assert page.is_visible("#empty-state")


def test_corrupt_settings_file_is_announced_in_the_window(app_home, playwright_driver, tmp_path):
    from desktop_llm.launcher import Launcher
    from tests.support.page import open_app_page

    app_home.settings_file.write_text("{ this is not json")
    app = Launcher(app_home, host_choice="browser")
    app.start_server()
    try:
        page, context = open_app_page(playwright_driver, app, tmp_path / "profile")
        page.locator(".banner[data-kind=warning]").wait_for()
        text = page.inner_text(".banner[data-kind=warning]")
        assert "could not be read" in text and "default settings" in text
        wait_ready(page)  # and the app still works on the defaults
        context.close()
    finally:
        app.server.stop()


def test_light_and_dark_follow_the_system(launcher, browser_page):
    page = browser_page
    backgrounds = {}
    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        backgrounds[scheme] = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert backgrounds["light"] != backgrounds["dark"]


def test_damaged_history_is_announced_and_the_app_starts(app_home, playwright_driver, tmp_path):
    import os

    from desktop_llm.launcher import Launcher
    from tests.support.page import open_app_page

    app_home.data.mkdir(parents=True)
    app_home.history_file.write_bytes(os.urandom(64 << 10))
    app = Launcher(app_home, host_choice="browser")
    app.start_server()
    try:
        page, context = open_app_page(playwright_driver, app, tmp_path / "profile")
        banner = page.locator(".banner[data-kind=warning]")
        banner.wait_for()
        text = banner.inner_text()
        assert "conversation history could not be read" in text and "damaged-" in text
        wait_ready(page)
        context.close()
    finally:
        app.server.stop()
    assert list(app_home.data.glob("history.sqlite3.damaged-*"))
