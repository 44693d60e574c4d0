"""Everyday use in headless Chromium against the real app: history in the sidebar, the settings
panel, diagnostics; and `desktop-llm doctor` probing the real browser and Qt windows."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from desktop_llm.launcher import Launcher
from tests.support.page import (
    ask,
    ends_with_answer,
    kept_conversations,
    open_app_page,
    set_greedy,
    wait_ready,
    wait_until,
)
from tests.support.xvfb import virtual_display


def sidebar_titles(page) -> list[str]:
    return page.evaluate(
        "[...document.querySelectorAll('#history-list li .open')]"
        ".map(b => b.firstChild.textContent)"
    )


def test_history_keeps_searches_renames_exports_and_deletes(launcher, browser_page):
    set_greedy(launcher, max_tokens=8)
    page = browser_page
    page.on("dialog", lambda dialog: pytest.fail(f"a browser dialog: {dialog.message}"))
    page.reload()
    wait_ready(page)
    first = ask(page, "Tell me about penguins")
    page.click("#new-chat")
    ask(page, "Tell me about volcanoes")
    wait_until(page, "() => document.querySelectorAll('#history-list li').length === 2")
    assert sidebar_titles(page) == ["Tell me about volcanoes", "Tell me about penguins"]

    page.reload()  # as after a restart: the conversations come from Python's database
    wait_ready(page)
    wait_until(page, "() => document.querySelectorAll('#history-list li').length === 2")
    page.locator("#history-list li", has_text="penguins").locator(".open").click()
    page.locator("article.message.assistant").wait_for()
    assert page.inner_text("article.message.user") == "Tell me about penguins"
    assert page.inner_text("article.message.assistant .answer") == first

    page.fill("#history-search", "volcano")
    wait_until(page, "() => document.querySelectorAll('#history-list li').length === 1")
    assert sidebar_titles(page) == ["Tell me about volcanoes"]
    page.fill("#history-search", "walrus")
    page.locator(".history-empty", has_text="No conversation mentions “walrus”").wait_for()
    page.fill("#history-search", "")
    wait_until(page, "() => document.querySelectorAll('#history-list li').length === 2")

    item = page.locator("#history-list li", has_text="penguins")
    item.locator(".rename").click()
    page.fill("#history-list li input", "Birds of the south")
    page.press("#history-list li input", "Enter")
    wait_until(page, "() => document.querySelector('#history-list').textContent.includes('Birds')")

    with page.expect_download() as download:
        page.locator("#history-list li", has_text="Birds").locator(".export").click()
    assert download.value.suggested_filename == "Birds of the south.md"
    exported = Path(download.value.path()).read_text()
    assert exported.startswith("# Birds of the south")
    assert "## You\n\nTell me about penguins" in exported
    # The export says where it went.
    page.locator(
        "#banners [data-kind=notice]", has_text="Downloaded as Birds of the south.md"
    ).wait_for()

    # Icons are drawn by the app (no emoji font needed), and named for screen readers.
    delete = page.locator("#history-list li", has_text="volcanoes").locator(".delete")
    assert delete.locator("svg").count() == 1 and delete.inner_text().strip() == ""
    assert delete.get_attribute("aria-label") == "Delete"
    # Delete asks in the app's own dialog; Cancel keeps the conversation.
    delete.click()
    page.locator("#confirm-dialog[open]", has_text="Delete “Tell me about volcanoes”?").wait_for()
    page.click("#confirm-cancel")
    page.wait_for_timeout(300)
    assert len(launcher.bridge.history.list()) == 2
    delete.click()
    page.click("#confirm-dialog[open] #confirm-ok")
    wait_until(page, "() => document.querySelectorAll('#history-list li').length === 1")
    assert [c["title"] for c in launcher.bridge.history.list()] == ["Birds of the south"]


def test_a_summary_is_kept_with_the_documents_name_and_its_own_sampling(launcher, browser_page):
    from tests.support.documents import DROP_TEXT, STORY, wait_summary

    launcher.settings_file.update({"temperature": 0.9, "top_p": 0.8, "max_tokens": 8})
    page = browser_page
    page.reload()
    wait_ready(page)
    page.evaluate(DROP_TEXT, STORY)
    page.locator("#document-panel[data-state=ready]").wait_for()
    page.select_option("#document-form select[name=length]", "short")  # fewer tokens to write
    page.click("#summarize")
    _, summary = wait_summary(page)
    (record,) = kept_conversations(launcher, lambda found: ends_with_answer(*found))
    assert record["kind"] == "summary" and record["title"] == "Summary of Dropped text"
    assert record["document_name"] == "Dropped text"
    # What the summary was written with (greedy), not the chat's settings.
    assert record["settings"]["temperature"] == 0 and record["settings"]["top_p"] == 1
    messages = record["messages"]
    assert messages[-1]["content"] == summary.strip() or summary.strip() in messages[-1]["content"]


def open_settings(page):
    page.click("#open-settings")
    page.locator("#settings-dialog[open] [data-field=temperature]").wait_for()


def test_settings_panel_refuses_invalid_values_and_keeps_valid_ones(
    launcher, app_home, playwright_driver, browser_page, tmp_path
):
    page = browser_page
    page.reload()
    wait_ready(page)
    open_settings(page)
    page.fill("[data-field=temperature] input", "7")
    page.fill("[data-field=max_tokens] input", "300")
    page.select_option("[data-field=theme] select", "dark")
    page.click("#settings-save")
    wait_until(page, "() => document.getElementById('settings-message').textContent")
    assert "1 setting was not saved" in page.inner_text("#settings-message")
    error = page.locator("[data-field=temperature] .field-error")
    assert "between 0 and 2" in error.inner_text()
    assert page.get_attribute("[data-field=temperature] input", "aria-invalid") == "true"
    saved = json.loads(app_home.settings_file.read_text())
    assert saved["temperature"] == 0.7  # the invalid value was not saved
    assert saved["max_tokens"] == 300 and saved["theme"] == "dark"  # the valid ones were
    assert page.evaluate("document.documentElement.dataset.theme") == "dark"
    assert app_home.data.as_posix() in page.inner_text("#data-folder")

    # The change survives a restart of the app.
    launcher.server.stop()
    again = Launcher(app_home, host_choice="browser")
    again.start_server()
    try:
        page2, context = open_app_page(playwright_driver, again, tmp_path / "profile2")
        wait_ready(page2)
        open_settings(page2)
        assert page2.input_value("[data-field=max_tokens] input") == "300"
        assert page2.evaluate("document.documentElement.dataset.theme") == "dark"
        page2.click("#settings-reset")
        page2.click("#confirm-dialog[open] #confirm-ok")
        wait_until(page2, "() => !document.getElementById('settings-dialog').open")
        reset = json.loads(app_home.settings_file.read_text())
        assert reset["max_tokens"] == 512 and reset["server_port"] == again.server.port
        context.close()
    finally:
        again.server.stop()


def test_turning_on_the_local_api_shows_its_address_and_key_at_once(launcher, browser_page):
    page = browser_page
    wait_ready(page)
    open_settings(page)
    assert "Local API is off" in page.inner_text("#api-details")
    # What the app chooses itself is shown as text, not as a box to type in.
    assert page.locator("[data-field=api_port] input").count() == 0
    assert "not chosen yet" in page.inner_text("[data-field=api_port] output")
    assert page.get_attribute("[data-field=api_key] input", "placeholder").startswith(
        "made for you"
    )
    # The model to start with is picked from the models there are, by name.
    options = page.eval_on_selector_all(
        "[data-field=model] select option", "os => os.map(o => [o.value, o.textContent])"
    )
    assert options == [["smollm2-135m-instruct-q4_1", "SmolLM2 135M Instruct (Q4_1, built in)"]]
    page.check("[data-field=api_enabled] input")
    page.click("#settings-save")
    wait_until(page, "() => document.getElementById('settings-message').textContent")
    details = page.inner_text("#api-details")
    settings = launcher.settings_file.load()
    assert settings.api_enabled and settings.api_key.startswith("dllm-") and settings.api_port
    assert f"base URL http://127.0.0.1:{settings.api_port}/v1" in details
    assert page.inner_text("[data-field=api_port] output") == str(settings.api_port)
    assert settings.api_key in details
    # The fields now show the key and port the app chose, so saving again keeps them.
    assert page.input_value("[data-field=api_key] input") == settings.api_key
    page.fill("[data-field=max_tokens] input", "256")
    page.click("#settings-save")
    wait_until(page, "() => document.getElementById('settings-message').textContent")
    again = launcher.settings_file.load()
    assert again.api_key == settings.api_key and again.max_tokens == 256


def test_diagnostics_panel_shows_this_windows_webgpu_and_the_model(browser_page):
    page = browser_page
    page.reload()
    wait_ready(page)
    page.click("#open-diagnostics")
    page.locator("#diagnostics-body table").wait_for()
    # This window's WebGPU line comes in when its probe has answered.
    wait_until(page, "() => document.getElementById('diagnostics-body').innerText.includes('f16')")
    text = page.inner_text("#diagnostics-body")
    assert "swiftshader" in text and "shader-f16 no" in text
    assert "smollm2-135m-instruct-q4_1\tGGUF (CPU), 98 MB, verified" in text
    # GGUF models run on the native engine here (./dev setup builds it; this CPU has AVX2).
    assert "GGUF models run on\tllama.cpp native, its avx" in text


def test_doctor_reports_both_windows_and_the_verified_model(tmp_path):
    env = {**os.environ, "DESKTOP_LLM_HOME": str(tmp_path / "home"), "LANG": "C.UTF-8"}
    with virtual_display() as display:
        env["DISPLAY"] = display
        result = subprocess.run(
            [sys.executable, "-m", "desktop_llm", "doctor", "--json"],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        text = subprocess.run(
            [sys.executable, "-m", "desktop_llm", "doctor"],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        ).stdout
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    facts = report["facts"]
    browser = facts["webgpu"]["browser"]
    assert browser["available"] is True and browser["architecture"] == "swiftshader"
    assert "shader-f16" not in browser["features"]
    assert facts["webgpu"]["webview"]["available"] is False  # Qt's webview has no WebGPU
    (model,) = facts["models"]
    assert model["id"] == "smollm2-135m-instruct-q4_1" and model["verified"] is True
    assert facts["browsers"]["chosen"]
    engine = facts["cpu_engine"]  # ./dev setup installs llama-server; this CPU has AVX2 or more
    assert engine["available"] is True and engine["build"] in ("avx512", "avx2"), engine
    assert f"GGUF models run on: llama.cpp native, its {engine['build']} build" in text
    assert "WebGPU in the browser: google swiftshader" in text
    assert "verified" in text


def test_without_a_display_the_app_says_so_and_the_doctor_reports_it(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env.update(DESKTOP_LLM_HOME=str(tmp_path / "home"), LANG="C.UTF-8")
    app = subprocess.run(
        [sys.executable, "-m", "desktop_llm"], env=env, capture_output=True, text=True, timeout=60
    )
    assert app.returncode == 2
    assert app.stderr.strip().startswith("desktop-llm: No display found:")
    assert "Reinstalling" not in app.stderr and "qt.qpa" not in app.stderr
    doctor = subprocess.run(
        [sys.executable, "-m", "desktop_llm", "doctor"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert doctor.returncode == 0
    assert "No problems found" not in doctor.stdout
    assert "- No display found:" in doctor.stdout


def test_an_answer_stays_in_the_conversation_it_was_asked_in(launcher, browser_page):
    """Switching conversations and pressing New chat while an answer streams: the partial answer
    is kept in its own conversation (checked in the database rows), never in the other one, and
    no conversation is made from the answer's words."""
    set_greedy(launcher, max_tokens=8)
    page = browser_page
    page.reload()
    wait_ready(page)
    ask(page, "Tell me about penguins")
    page.click("#new-chat")
    launcher.settings_file.update({"max_tokens": 400})
    page.reload()
    wait_ready(page)

    def start_long_answer(prompt: str) -> None:
        before = page.locator("article.message.assistant").count()
        page.fill("#prompt", prompt)
        page.press("#prompt", "Enter")
        wait_until(
            page,
            "n => (document.querySelectorAll('article.message.assistant')[n]"
            "?.querySelector('.answer')?.textContent || '').length > 20",
            before,
            timeout=120,
        )

    start_long_answer("Write a long story about a lighthouse keeper.")
    page.locator("#history-list li", has_text="penguins").locator(".open").click()
    wait_until(page, "() => !document.body.dataset.generating", timeout=30)
    start_long_answer("Write a long story about a mountain village.")
    page.click("#new-chat")
    wait_until(page, "() => !document.body.dataset.generating", timeout=30)
    set_greedy(launcher, max_tokens=4)
    page.reload()
    wait_ready(page)
    ask(page, "What is two plus two?")

    def answered(found: list[dict]) -> bool:  # the last answer is kept
        return any(c["title"] == "What is two plus two?" and len(c["messages"]) == 2 for c in found)

    by_title = {c["title"]: c for c in kept_conversations(launcher, answered)}
    assert sorted(by_title) == [
        "Tell me about penguins",
        "What is two plus two?",
        "Write a long story about a lighthouse keeper.",
    ], sorted(by_title)
    story = [
        m["role"] for m in by_title["Write a long story about a lighthouse keeper."]["messages"]
    ]
    assert story == ["user", "assistant"]  # the partial answer, kept where it was asked
    penguins = by_title["Tell me about penguins"]["messages"]
    assert [m["content"] for m in penguins if m["role"] == "user"] == [
        "Tell me about penguins",
        "Write a long story about a mountain village.",
    ]  # asked after opening it: its answer belongs there, and stays there
    assert len(penguins) == 4
    assert [m["role"] for m in by_title["What is two plus two?"]["messages"]] == [
        "user",
        "assistant",
    ]
