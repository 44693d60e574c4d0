"""The chat in headless Chromium against the real server, with the real embedded model on the real
CPU engine (wllama)."""

from __future__ import annotations

from tests.conftest import ask, set_greedy, wait_ready


def test_embedded_model_answers_with_streamed_tokens(launcher, browser_page):
    set_greedy(launcher, max_tokens=24)
    page = browser_page
    page.reload()
    wait_ready(page)
    assert "wllama" in page.text_content("#engine-status")
    assert page.evaluate("crossOriginIsolated") is True
    # Count the answer's visible updates while it streams: tokens arrive one by one.
    page.evaluate(
        """() => {
        window.__updates = 0;
        new MutationObserver(() => window.__updates++).observe(
            document.getElementById('messages'), {subtree: true, childList: true, characterData: true});
    }"""
    )
    answer = ask(page, "What is the capital of France?")
    assert "Paris" in answer
    assert page.evaluate("window.__updates") > 5
    stats = page.text_content("#stats")
    assert "tokens/s" in stats
