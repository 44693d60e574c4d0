"""A real model on WebGPU: the built-in SmolLM2, compiled here by `desktop_llm.compiler`
(tests/support/compiled_model.py caches it per machine), answers in the app's page through
WebLLM's engine. There is no GPU here: SwiftShader, Chromium's software WebGPU adapter, stands in
for one (about 3-10 s a token on 2 cores), so answers are kept to a few tokens."""

from __future__ import annotations

import time

import pytest
from tokenizers import Tokenizer

from tests.support import compiled_model
from tests.support.bare_page import serve_bare
from tests.support.page import CHROMIUM, QUIET_CHROMIUM, ask, set_greedy, wait_ready, wait_until

pytestmark = pytest.mark.wllama  # the GPU's answer is compared with the in-window CPU engine's

PROMPT = "What is the capital of France?"
# The whole greedy answer to PROMPT is 8 tokens ("The capital of France is Paris." and the end
# token). The engines compute differently (WebLLM: float32 weights dequantized from the GGUF;
# llama.cpp: Q4_1 blocks times Q8 activations), so a long answer may part at a near-tie; this
# short one has clear margins at every token, so the answers must be equal.
ANSWER_TOKENS = 8


@pytest.fixture
def gpu_model(launcher):
    return compiled_model.install_into(launcher.store)


def choose(page, model_id: str) -> float:
    """Pick a model and wait until it is loaded; returns the seconds it took."""
    started = time.monotonic()
    page.select_option("#model-select", model_id)
    wait_until(page, "id => document.body.dataset.engineModel === id", model_id, timeout=30)
    wait_ready(page, timeout=600)
    return time.monotonic() - started


def test_compiled_model_answers_like_the_cpu_engine(launcher, gpu_model, browser_page):
    page = browser_page
    set_greedy(launcher, max_tokens=ANSWER_TOKENS)
    page.reload()
    wait_ready(page)
    cpu_answer = ask(page, PROMPT)
    assert cpu_answer.startswith("The capital of France is Paris")

    page.click("#new-chat")
    loaded = choose(page, gpu_model.id)
    assert "WebLLM" in page.text_content("#engine-status")
    started = time.monotonic()
    gpu_answer = ask(page, PROMPT, timeout=900)
    print(f"WebGPU on SwiftShader: loaded in {loaded:.0f} s, answered in "
          f"{time.monotonic() - started:.0f} s: {gpu_answer!r}")  # fmt: skip
    assert gpu_answer == cpu_answer
    # The 520 MB of weights were read from the local server, not copied into browser storage.
    usage = page.evaluate("async () => (await navigator.storage.estimate()).usage")
    assert usage < 20 * 2**20


TEXTS = [
    "What is the capital of France?",
    "東京は日本の首都です。北京是中国的首都。서울은 한국의 수도입니다.",
    "I ❤️ llamas 🦙🦙 and coffee ☕ — naïve café, Ünïcödé!",
    "def square(x: int) -> int:\n    return x ** 2  # 12345 and 3.14159\n",
    "  leading spaces,\ttabs\n\nand\r\nCRLF lines   ",
    "<b>HTML &amp; entities</b> https://example.com/a?b=c#d",
]


def test_tokenizer_gives_the_ids_llama_cpp_gives(gpu_model, playwright_driver):
    """WebLLM tokenizes with Hugging Face's tokenizers (compiled to wasm) reading tokenizer.json;
    the same library in Python reads the compiled tokenizer.json here, and wllama (llama.cpp)
    tokenizes with the GGUF's own vocabulary in a real page."""
    folder = compiled_model.cached_folder()
    tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    server, url = serve_bare()
    browser = playwright_driver.chromium.launch(
        executable_path=CHROMIUM, headless=True, args=QUIET_CHROMIUM
    )
    try:
        page = browser.new_page()
        page.goto(url)
        page.wait_for_function("() => window.loadBare !== undefined")
        page.evaluate("([t, n]) => loadBare(t, n)", [1, 512])
        for text in TEXTS:
            llama_cpp = page.evaluate("t => tokenizeBare(t)", text)
            ours = tokenizer.encode(text, add_special_tokens=False).ids
            assert ours == llama_cpp, text
            assert tokenizer.decode(ours) == text
    finally:
        browser.close()
        server.shutdown()
