"""Driving the app's page in a real Chromium: the browser, waiting for the page, asking the model.
Used by the tests (through conftest's fixtures) and by bench/."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from desktop_llm.hosts.browser import browser_flags
from desktop_llm.launcher import Launcher

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"

# Chromium must not try to reach the network from tests (and as root it needs --no-sandbox,
# which browser_flags adds).
QUIET_CHROMIUM = ["--disable-gpu-sandbox", "--disable-quic", "--mute-audio"]


def open_app_page(driver, app: Launcher, profile: Path):
    """Headless Debian Chromium with the browser host's own flags (WebGPU on), on the app."""
    flags = [
        f for f in browser_flags(profile, QUIET_CHROMIUM) if not f.startswith("--user-data-dir")
    ]
    context = driver.chromium.launch_persistent_context(
        str(profile), executable_path=CHROMIUM, headless=True, args=flags
    )
    page = context.pages[0] if context.pages else context.new_page()
    page.set_default_timeout(60_000)
    assert app.server is not None
    page.goto(app.server.launch_url())
    # The launch page sets the session cookie, then moves on to the app by itself.
    page.wait_for_url(lambda url: "launch=" not in url)
    page.wait_for_load_state()
    return page, context


ROOT = Path(__file__).resolve().parents[2]


def build_markdown_harness(out: Path) -> Path:
    """The app's own Markdown renderer (ui/src/markdown.js), built alone as a script that sets
    window.MarkdownUnderTest, so tests and benchmarks can put it to work in a real page."""
    subprocess.run(
        ["npx", "vite", "build", "--config", str(ROOT / "tests/ui/vite.markdown.config.mjs")],
        cwd=ROOT / "ui",
        env={**os.environ, "MARKDOWN_HARNESS_OUT": str(out)},
        check=True,
        capture_output=True,
    )
    return out / "markdown-under-test.js"


def wait_until(page, expression: str, arg=None, timeout: float = 60.0, interval: float = 0.05):
    """Poll a JS function until it returns something truthy. (Playwright's wait_for_function
    evaluates strings with eval, which the app's Content-Security-Policy rightly forbids.)"""
    deadline = time.monotonic() + timeout
    while True:
        value = page.evaluate(expression, arg)
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"still false after {timeout} s: {expression}")
        time.sleep(interval)


def wait_ready(page, timeout: float = 90.0) -> None:
    wait_until(
        page,
        "() => ['ready','error','unavailable'].includes(document.body.dataset.engineState)",
        timeout=timeout,
    )
    state = page.evaluate("document.body.dataset.engineState")
    status = page.text_content("#engine-status")
    assert state == "ready", f"engine state {state}: {status}"


def ask(page, prompt: str, timeout: float = 120.0, poll: float = 0.05) -> str:
    """Type a prompt, press Enter, wait for the whole answer; returns its text. (Each poll runs
    script on the page's main thread, which the engine's token loop also needs: benchmarks poll
    rarely.)"""
    count = page.locator("article.message.assistant").count()
    page.fill("#prompt", prompt)
    page.press("#prompt", "Enter")
    answer = page.locator("article.message.assistant").nth(count)
    answer.wait_for()
    wait_until(
        page,
        "n => document.querySelectorAll('article.message.assistant')[n]?.dataset.state",
        count,
        timeout,
        poll,
    )
    return answer.locator(".answer").inner_text()


def kept_conversations(
    launcher: Launcher, until: Callable[[list[dict]], bool], timeout: float = 10.0
) -> list[dict]:
    """The history's conversations, each with its messages, once `until` holds for them (or
    as they are at the timeout): the page keeps an answer in history just after it shows the
    answer as done, so a test that reads the database at once may come too early."""
    history = launcher.bridge.history
    deadline = time.monotonic() + timeout
    while True:
        kept = [history.get(c["id"], with_messages=True) for c in history.list()]
        if until(kept) or time.monotonic() > deadline:
            return kept
        time.sleep(0.1)


def ends_with_answer(*conversations: dict) -> bool:
    """Each of these kept conversations (from kept_conversations) ends with an answer."""
    return bool(conversations) and all(
        c["messages"] and c["messages"][-1]["role"] == "assistant" and c["messages"][-1]["content"]
        for c in conversations
    )


def set_greedy(launcher: Launcher, max_tokens: int = 24) -> None:
    launcher.settings_file.update({"temperature": 0, "max_tokens": max_tokens})


def pick_model(page, model_id: str) -> None:
    """Choose a model in the picker (once it is listed) and wait until it is loaded."""
    wait_until(
        page,
        "id => [...document.querySelectorAll('#model-select option')].some(o => o.value === id)",
        model_id,
    )
    page.select_option("#model-select", model_id)
    wait_until(page, "id => document.body.dataset.engineModel === id", model_id)
    wait_ready(page)
