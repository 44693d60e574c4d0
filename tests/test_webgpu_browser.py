"""GPU models in the browser host (headless Chromium with --enable-unsafe-webgpu: SwiftShader).

WebLLM cannot run a model here (no MLC weights or model library can be had), so these tests use
model folders made here that stand in for downloaded MLC models: real WebLLM loads them through
the real server and must fail in the ways a user can understand, without touching the network."""

from __future__ import annotations

import json

import pytest

from desktop_llm.models.store import ModelEntry
from tests.support.page import wait_ready, wait_until

CHAT_CONFIG = {
    "model_type": "llama",
    "conv_template": {"name": "llama-3"},
    "context_window_size": 1024,
}


def add_mlc_model(store, model_id: str, lib: bytes | None, features: list[str]) -> None:
    folder = store.root / model_id
    folder.mkdir(parents=True)
    (folder / "mlc-chat-config.json").write_text(json.dumps(CHAT_CONFIG))
    (folder / "tensor-cache.json").write_text(json.dumps({"records": [], "metadata": {}}))
    files = ["mlc-chat-config.json", "tensor-cache.json"]
    if lib is not None:
        (folder / "model.wasm").write_bytes(lib)
        files.append("model.wasm")
    record = {
        "model_lib_file": "model.wasm",
        "required_features": features,
        "vram_required_MB": 300,
        "low_resource_required": True,
        "overrides": {"context_window_size": 1024},
    }
    store.write_manifest(
        ModelEntry(model_id, f"Test MLC {model_id}", "webllm", files, 1000, webllm=record)
    )


@pytest.fixture
def gpu_page(launcher, browser_page):
    add_mlc_model(launcher.store, "mlc-q4f32-damaged", b"\x00not wasm at all" * 64, [])
    add_mlc_model(launcher.store, "mlc-q4f32-nolib", None, [])
    add_mlc_model(launcher.store, "mlc-q4f16", b"\x00asm", ["shader-f16"])
    page = browser_page
    requests: list[str] = []
    page.context.on("request", lambda r: requests.append(r.url))
    page.reload()
    wait_ready(page)
    page.requests = requests
    return page


def choose(page, model_id: str) -> str:
    page.select_option("#model-select", model_id)
    wait_until(
        page,
        "() => ['error','unavailable'].includes(document.body.dataset.engineState)",
        timeout=60,
    )
    return page.text_content("#engine-status")


def test_page_finds_swiftshader_without_shader_f16(gpu_page):
    body = gpu_page.evaluate("({...document.body.dataset})")
    assert body["webgpu"] == "yes"
    assert "swiftshader" in body["gpuAdapter"].lower()
    assert body["shaderF16"] == "no"


def test_f16_model_is_refused_with_the_f32_alternative(gpu_page):
    status = choose(gpu_page, "mlc-q4f16")
    assert "shader-f16" in status and "q4f32" in status
    label = gpu_page.inner_text("#model-select option[value=mlc-q4f16]")
    assert "cannot run here" in label


def test_damaged_model_library_reads_as_a_sentence(launcher, gpu_page):
    status = choose(gpu_page, "mlc-q4f32-damaged")
    assert "model library" in status and "damaged" in status
    assert "Error:" not in status and "at " not in status  # no stack trace
    origin = launcher.server.origin
    fetched = [u for u in gpu_page.requests if "/models/mlc-q4f32-damaged/" in u]
    assert any(u.endswith("/mlc-chat-config.json") for u in fetched)
    assert any(u.endswith("/model.wasm") for u in fetched)
    assert all(u.startswith(origin) or u.startswith(("blob:", "data:")) for u in gpu_page.requests)


def test_missing_model_library_reads_as_a_sentence(launcher, gpu_page):
    status = choose(gpu_page, "mlc-q4f32-nolib")
    assert "model library" in status.lower() and "missing" in status
    assert "model.wasm" in status
    origin = launcher.server.origin
    assert all(u.startswith(origin) or u.startswith(("blob:", "data:")) for u in gpu_page.requests)


def test_cpu_model_still_runs_after_a_gpu_failure(launcher, gpu_page):
    choose(gpu_page, "mlc-q4f32-damaged")
    gpu_page.select_option("#model-select", "smollm2-135m-instruct-q4_1")
    wait_ready(gpu_page)
