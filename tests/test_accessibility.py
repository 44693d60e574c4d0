"""The window by keyboard and screen reader, in headless Chromium with the real model: shortcuts,
one tab stop for the conversation list, answers announced once when finished, and axe-core
(the accessibility engine browsers' dev tools use) on every panel in both themes."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.documents import DROP_TEXT, STORY, drop_file
from tests.support.page import ask, wait_ready, wait_until

AXE = Path(__file__).resolve().parents[1] / "ui/node_modules/axe-core/axe.min.js"

RUN_AXE = """async () => {
    const result = await axe.run(document, { resultTypes: ['violations'] });
    return result.violations
        .filter(v => v.impact === 'serious' || v.impact === 'critical')
        .map(v => `${v.impact} ${v.id}: ${v.help} at `
                  + v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(' | '));
}"""


def serious_violations(page) -> list[str]:
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.read_text(encoding="utf-8"))  # CDP evaluates it; the page's CSP stays
    return page.evaluate(RUN_AXE)


@pytest.fixture
def long_answers(launcher):
    launcher.settings_file.update({"temperature": 0, "max_tokens": 400})


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_every_panel_has_no_serious_accessibility_violations(launcher, browser_page, theme):
    launcher.settings_file.update({"temperature": 0, "max_tokens": 8, "theme": theme})
    page = browser_page
    page.reload()
    wait_ready(page)
    ask(page, "Hello")
    found = {"chat": serious_violations(page)}
    page.evaluate(DROP_TEXT, STORY)
    page.locator("#document-panel[data-state=ready]").wait_for()
    found["document panel"] = serious_violations(page)
    page.click("#document-close")
    drop_file(page, "empty.txt", b"")  # error text, whose contrast the dark theme once failed
    page.locator("#document-panel[data-state=error]").wait_for()
    found["document error"] = serious_violations(page)
    for opener, dialog in [
        ("#open-settings", "#settings-dialog"),
        ("#open-models", "#models-dialog"),
        ("#open-diagnostics", "#diagnostics-dialog"),
    ]:
        page.click(opener)
        page.locator(f"{dialog}[open]").wait_for()
        page.wait_for_timeout(500)  # lists fill in
        found[dialog] = serious_violations(page)
        if dialog == "#settings-dialog":
            page.click("#open-engines")
            page.locator("#engines-dialog[open]").wait_for()
            found["#engines-dialog"] = serious_violations(page)
            page.keyboard.press("Escape")
        page.keyboard.press("Escape")
        wait_until(page, "d => !document.querySelector(d).open", dialog)
    page.locator("#history-list li .delete").first.click()
    page.locator("#confirm-dialog[open]").wait_for()
    found["confirm"] = serious_violations(page)
    page.keyboard.press("Escape")
    assert {where: v for where, v in found.items() if v} == {}


def test_keys_stop_start_and_search_and_the_list_is_one_tab_stop(
    launcher, long_answers, browser_page
):
    page = browser_page
    wait_ready(page)
    # Focus starts in the message box.
    assert page.evaluate("document.activeElement.id") == "prompt"
    ask_first = ask(page, "Say hi")
    assert ask_first
    page.keyboard.press("Control+n")
    wait_until(page, "() => !document.querySelector('article.message')")
    page.fill("#prompt", "Write a long story about a dragon and a lighthouse.")
    page.press("#prompt", "Enter")
    wait_until(
        page,
        "() => (document.querySelector('article.assistant .answer')?.textContent || '')"
        ".length > 20",
        timeout=120,
    )
    page.keyboard.press("Escape")
    wait_until(page, "() => document.querySelector('article.assistant')?.dataset.state", timeout=5)
    assert page.get_attribute("article.assistant", "data-state") == "stopped"

    page.keyboard.press("Control+k")
    assert page.evaluate("document.activeElement.id") == "history-search"
    wait_until(page, "() => document.querySelectorAll('#history-list li').length === 2")
    # One Tab from the search box reaches the list, the next leaves it.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.classList.contains('open')")
    page.keyboard.press("ArrowDown")
    assert "Say hi" in page.evaluate("document.activeElement.textContent")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "open-settings"
    # F2 renames the conversation with focus, from the keyboard.
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("F2")
    page.keyboard.press("Control+a")
    page.keyboard.type("Greetings")
    page.keyboard.press("Enter")
    wait_until(
        page, "() => document.getElementById('history-list').textContent.includes('Greetings')"
    )


def test_only_the_finished_answer_is_announced(launcher, browser_page):
    launcher.settings_file.update({"temperature": 0, "max_tokens": 48})
    page = browser_page
    page.reload()
    wait_ready(page)
    assert page.get_attribute("#messages", "aria-live") is None
    page.evaluate(
        """() => {
            window.__announced = [];
            new MutationObserver(() => window.__announced.push(
                document.getElementById('announcer').textContent
            )).observe(document.getElementById('announcer'), {childList: true, subtree: true,
                                                                characterData: true});
        }"""
    )
    assert ask(page, "Name three colours.")
    wait_until(page, "() => window.__announced.some(Boolean)", timeout=5)
    page.wait_for_timeout(300)
    announced = [text for text in page.evaluate("window.__announced") if text]
    (kept,) = launcher.bridge.history.list()
    written = launcher.bridge.history.get(kept["id"], with_messages=True)["messages"][-1]
    assert announced == [written["content"]]  # once, the whole answer
