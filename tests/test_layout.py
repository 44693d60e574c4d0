"""The window at common sizes, in the real page (headless Chromium): nothing scrolls sideways,
and every control a user needs is on screen. Screenshots of each size are kept in
test-artifacts/layout/ to look at."""

from __future__ import annotations

import pytest

from tests.support.documents import DROP_TEXT, STORY
from tests.support.page import ROOT, wait_ready, wait_until

SHOTS = ROOT / "test-artifacts" / "layout"
SIZES = [(800, 600), (1366, 768), (1920, 1080), (640, 600)]

IN_VIEW = """selector => {
    const element = document.querySelector(selector);
    if (!element || element.hidden || !element.offsetParent) return false;
    const box = element.getBoundingClientRect();
    return box.width > 0 && box.left >= 0 && box.top >= 0
        && box.right <= innerWidth && box.bottom <= innerHeight;
}"""
NO_SIDEWAYS_SCROLL = "() => document.documentElement.scrollWidth <= innerWidth"


def in_view(page, selector: str) -> bool:
    return page.evaluate(IN_VIEW, selector)


@pytest.mark.parametrize(("width", "height"), SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
def test_every_control_fits_the_window(launcher, browser_page, width, height):
    launcher.settings_file.update({"max_tokens": 400, "temperature": 0.7})
    page = browser_page
    page.set_viewport_size({"width": width, "height": height})
    page.reload()
    wait_ready(page)
    SHOTS.mkdir(parents=True, exist_ok=True)
    assert page.evaluate(NO_SIDEWAYS_SCROLL)
    assert in_view(page, "#send") and in_view(page, "#prompt")
    assert in_view(page, "#model-select") and in_view(page, "#open-models")

    # Settings: in the sidebar, or behind the toggle in a narrow window.
    if width < 760:
        assert not in_view(page, "#open-settings")
        assert in_view(page, "#sidebar-toggle")
        page.click("#sidebar-toggle")
        wait_until(page, f"() => ({IN_VIEW})('#open-settings')")
        page.screenshot(path=str(SHOTS / f"{width}x{height}-sidebar.png"))
        page.mouse.click(width - 20, height // 2)  # beside it: it folds away
        wait_until(page, "() => !document.body.dataset.sidebar")
    else:
        assert in_view(page, "#open-settings") and in_view(page, "#history-search")

    # A document open: Summarize is whole and the message box keeps its size.
    box_before = page.evaluate("document.getElementById('prompt').offsetHeight")
    page.evaluate(DROP_TEXT, STORY)
    page.locator("#document-panel[data-state=ready]").wait_for()
    assert page.evaluate(NO_SIDEWAYS_SCROLL)
    assert in_view(page, "#summarize")
    assert page.evaluate("document.getElementById('summarize').scrollWidth") <= page.evaluate(
        "document.getElementById('summarize').clientWidth"
    )
    assert page.evaluate("document.getElementById('prompt').offsetHeight") == box_before
    page.screenshot(path=str(SHOTS / f"{width}x{height}-document.png"))
    page.click("#document-close")

    # While an answer is written, Stop is on screen.
    page.fill("#prompt", "Write a long story about a lighthouse keeper.")
    page.press("#prompt", "Enter")
    wait_until(page, "() => document.body.dataset.generating === 'true'")
    assert in_view(page, "#stop")
    page.screenshot(path=str(SHOTS / f"{width}x{height}-answering.png"))
    page.click("#stop")
    wait_until(page, "() => !document.body.dataset.generating")
    assert page.evaluate(NO_SIDEWAYS_SCROLL)
