"""A real model on WebGPU: the built-in SmolLM2, compiled here by `desktop-llm models compile`
(tests/support/compiled_model.py caches it per machine), answers in the app's page through
WebLLM's engine on Chromium's WebGPU. There is no GPU here: SwiftShader, Chromium's software
WebGPU adapter, stands in for one, so answers are kept to a few tokens (about 10 s a token)."""

from __future__ import annotations

import time

import pytest

from tests.conftest import ask, set_greedy, wait_ready, wait_until
from tests.support import compiled_model

PROMPT = "What is the capital of France?"


@pytest.fixture
def gpu_model(launcher):
    return compiled_model.install_into(launcher.store)


def test_compiled_model_answers_on_webgpu(launcher, gpu_model, browser_page):
    page = browser_page
    page.reload()
    wait_ready(page)
    set_greedy(launcher, max_tokens=4)
    page.select_option("#model-select", gpu_model.id)
    started = time.monotonic()
    wait_until(page, "() => document.body.dataset.engineState === 'loading'", timeout=30)
    wait_ready(page, timeout=600)
    print("loaded in", time.monotonic() - started)
    started = time.monotonic()
    answer = ask(page, PROMPT, timeout=900)
    print("answered in", time.monotonic() - started, repr(answer))
    assert answer.startswith("The capital of France")
