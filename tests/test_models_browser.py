"""The model list in the real page (headless Chromium, SwiftShader WebGPU): which models this
machine can run, a GGUF model downloaded from the loopback hub with the real huggingface_hub
client that then answers in the real CPU engine without a request leaving loopback, delete."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from desktop_llm.constants import EMBEDDED_DIR, EMBEDDED_MODEL_FILE
from desktop_llm.models import catalog
from tests.hub import add_mlc_repo
from tests.support.page import ask, set_greedy, wait_ready, wait_until

CPU_ID = "smollm2-360m-instruct-q8_0"
F16_ID = "SmolLM2-360M-Instruct-q4f16_1-MLC"
F32_ID = "SmolLM2-360M-Instruct-q4f32_1-MLC"


def row(page, model_id: str):
    return page.locator(f"#models-available li[data-id='{model_id}']")


def test_model_list_marks_what_fits_and_proposes_the_closest(browser_page, launcher):
    page = browser_page
    wait_ready(page)
    page.click("#open-models")
    row(page, F16_ID).wait_for()
    # SwiftShader has WebGPU but no shader-f16: the q4f16 build cannot run, its q4f32 twin can.
    assert row(page, F16_ID).get_attribute("data-fit") == "no"
    fit = row(page, F16_ID).locator(".fit").inner_text()
    assert "shader-f16" in fit and "q4f32" in fit
    # It runs, but SwiftShader is a software GPU: the list says so and points to CPU models.
    assert row(page, F32_ID).get_attribute("data-fit") == "slow"
    slow = row(page, F32_ID).locator(".fit").inner_text()
    assert "software" in slow and "CPU model" in slow
    row(page, F16_ID).locator(".fit button").click()
    assert "highlight" in row(page, F32_ID).get_attribute("class")
    assert row(page, CPU_ID).get_attribute("data-fit") == "yes"
    # What runs here comes first, what cannot run here last.
    order = page.eval_on_selector_all(
        "#models-available li", "rows => rows.map(r => r.dataset.fit)"
    )
    assert order == sorted(order, key=["yes", "slow", "no"].index)
    facts = row(page, CPU_ID).locator(".facts").inner_text()
    assert "download" in facts and "memory" in facts and "Apache-2.0" in facts
    installed = page.locator("#models-installed li").all_inner_texts()
    assert any("built in" in text for text in installed)
    assert "free on that disk" in page.text_content("#models-disk")


@pytest.mark.wllama  # the page itself fetches the model file from the local server
def test_downloaded_gguf_model_answers_with_no_request_leaving_loopback(
    browser_page, launcher, hub
):
    """The hub serves the built-in model's bytes under a catalog entry's name: a real GGUF the
    real engine can run, where the real entry's 386 MB file cannot be had here."""
    entry = catalog.find(CPU_ID)
    hub.add_repo(entry.repo, {entry.files[0]: EMBEDDED_DIR / EMBEDDED_MODEL_FILE})
    add_mlc_repo(hub, F32_ID, shards=1)
    set_greedy(launcher)
    page = browser_page
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    wait_ready(page)

    page.click("#open-models")
    row(page, CPU_ID).locator("button", has_text="Download").click()
    page.locator(f"#models-installed li[data-id='{CPU_ID}']").wait_for(timeout=120_000)
    assert "is ready to use" in page.text_content("#models-message")
    assert launcher.store.verify(CPU_ID) == []

    page.locator(f"#models-installed li[data-id='{CPU_ID}'] button", has_text="Use").click()
    wait_until(
        page,
        "() => document.body.dataset.engineState === 'ready'"
        " && document.querySelector('#engine-status').textContent.includes('360M')",
        timeout=90,
    )
    assert ask(page, "What is the capital of France?").strip()
    origin = launcher.server.origin
    outside = [u for u in requests if not u.startswith((origin, "data:", "blob:"))]
    assert not outside, outside
    assert any(f"/models/{CPU_ID}/resolve/main/" in u for u in requests)

    # A GPU model downloads too, with its library; then delete frees its bytes.
    hub.faults["params_shard_0.bin"] = ["slow"]  # slow enough to watch the progress bar
    page.click("#open-models")
    row(page, F32_ID).locator("button", has_text="Download").click()
    transfer = row(page, F32_ID).locator(".transfer")
    transfer.wait_for()
    wait_until(
        page,
        "id => /MB of .* MB/.test("
        "document.querySelector(`li[data-id='${id}'] .transfer`)?.textContent)",
        F32_ID,
    )
    assert row(page, F32_ID).locator("button", has_text="Cancel").is_visible()
    installed = page.locator(f"#models-installed li[data-id='{F32_ID}']")
    installed.wait_for(timeout=60_000)
    installed.locator("button", has_text="Delete").click()
    page.click("#confirm-dialog[open] #confirm-ok")
    wait_until(
        page, "() => document.querySelector('#models-message').textContent.includes('freed')"
    )
    assert launcher.store.get(F32_ID) is None
    message = page.text_content("#models-message")
    assert message.startswith("Deleted SmolLM2 360M Instruct (4-bit, 32-bit float shaders)")


def test_the_page_follows_downloads_by_other_processes_and_says_when_one_stalls(
    browser_page, launcher, hub, tmp_path, monkeypatch
):
    """A `models pull` in a terminal while the window is open: the window's Download says in one
    sentence that another process has it, and the new model appears in the picker without a
    reload. Then a stalled connection shows "stalled, retrying" rather than a frozen bar."""
    entry = add_mlc_repo(hub, F32_ID, shards=2)
    hub.rate = 2 << 20
    page = browser_page
    wait_until(page, "() => document.querySelectorAll('#model-select option').length > 0")
    pull = subprocess.Popen(
        [sys.executable, "-m", "desktop_llm", "models", "pull", F32_ID],
        env={**os.environ, "DESKTOP_LLM_HOME": str(launcher.paths.data.parent)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    partial = launcher.store.partial_dir(F32_ID)
    while not (partial / "params_shard_0.bin.part").is_file():
        assert pull.poll() is None, pull.communicate()
        time.sleep(0.05)
    page.click("#open-models")
    row(page, F32_ID).locator("button", has_text="Download").click()
    wait_until(
        page,
        "() => document.querySelector('#models-message').textContent"
        ".includes('is being downloaded by another Desktop LLM window or process')",
    )
    assert pull.wait(60) == 0, pull.communicate()
    wait_until(
        page,
        "id => [...document.querySelectorAll('#model-select option')].some(o => o.value === id)",
        F32_ID,
        timeout=10,
    )
    page.locator(f"#models-installed li[data-id='{F32_ID}']").wait_for(timeout=10_000)

    # A stall, with a short stall timeout standing in for the real 30 s.
    monkeypatch.setattr("desktop_llm.models.download.STALL_TIMEOUT", 1.5)
    hub.rate = 0
    launcher.store.delete(F32_ID)  # the page hears of it, and offers the download again
    hub.faults["params_shard_0.bin"] = ["stall"]
    row(page, F32_ID).locator("button", has_text="Download").click(timeout=10_000)
    wait_until(
        page,
        "id => document.querySelector(`li[data-id='${id}'] .transfer`)?.textContent"
        ".includes('stalled, retrying')",
        F32_ID,
        interval=0.02,
    )
    page.locator(f"#models-installed li[data-id='{F32_ID}']").wait_for(timeout=30_000)
    assert launcher.store.verify(entry.id) == []
