"""Shared fixtures: an app home per test, the real server, a real Chromium driven by Playwright."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from desktop_llm.launcher import Launcher
from desktop_llm.paths import AppPaths
from desktop_llm.settings import SettingsFile
from tests.support.page import build_markdown_harness, open_app_page


@pytest.fixture
def app_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> AppPaths:
    """A fresh app home. GGUF models run as the app runs them by default: on the native engine,
    which the tests have installed. Tests marked `wllama` run them in the page instead (the
    in-window engine, which is what runs wherever the native one is missing)."""
    monkeypatch.setenv("DESKTOP_LLM_HOME", str(tmp_path / "home"))
    paths = AppPaths.from_env()
    if request.node.get_closest_marker("wllama"):
        SettingsFile(paths.settings_file).update({"cpu_engine": "wllama"})
    return paths


@pytest.fixture
def launcher(app_home: AppPaths) -> Iterator[Launcher]:
    """The real app minus its window: settings, store with the embedded model, local server."""
    app = Launcher(app_home, host_choice="browser")
    app.start_server()
    yield app
    assert app.server is not None
    app.server.stop()


@pytest.fixture
def hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The loopback model hub (tests/hub.py), standing in for huggingface.co and the host of
    WebLLM's model libraries; the app is pointed at it the way a user would point it at a mirror."""
    from tests.hub import Hub

    hub = Hub(tmp_path / "hub").start()
    monkeypatch.setenv("HF_ENDPOINT", hub.url)
    monkeypatch.setenv("DESKTOP_LLM_MODEL_LIB_ENDPOINT", hub.url)
    yield hub
    hub.stop()


@pytest.fixture(scope="session")
def playwright_driver():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        yield driver


@pytest.fixture
def browser_page(playwright_driver, launcher: Launcher, tmp_path: Path):
    page, context = open_app_page(playwright_driver, launcher, tmp_path / "profile")
    yield page
    context.close()


@pytest.fixture(scope="session")
def markdown_under_test(tmp_path_factory) -> Path:
    return build_markdown_harness(tmp_path_factory.mktemp("markdown-harness"))


os.environ.setdefault("LANG", "C.UTF-8")
