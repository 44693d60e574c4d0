"""The native CPU engine: llama.cpp's llama-server (built by ./dev setup), a process of the
app's, serving GGUF models to the real page in Chromium through the same path as remote servers,
chosen by `cpu_engine: "auto"` (the default) and set aside for wllama when asked."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import openai
import pytest

from desktop_llm.constants import EMBEDDED_DIR, EMBEDDED_MODEL_FILE
from desktop_llm.engines import client, native
from desktop_llm.engines.native import NativeEngine
from tests.support.page import ask, wait_ready, wait_until

QUESTION = "What is the capital of France?"
# Greedy answers of the two engines agree for this many words: both are llama.cpp on the same
# weights, but the native builds use AVX2 or AVX-512 kernels and wllama 128-bit wasm SIMD, whose
# float sums round differently, so a long answer may part ways at a near tie.
AGREEING_WORDS = 6


@pytest.fixture
def native_page(launcher, browser_page):
    launcher.settings_file.update({"cpu_engine": "auto", "temperature": 0, "max_tokens": 24})
    browser_page.reload()
    wait_ready(browser_page)
    return browser_page


def runs_on(page) -> str:
    """What the model list says runs the built-in model."""
    page.click("#open-models")
    row = page.locator("#models-installed li", has_text="SmolLM2 135M").inner_text()
    page.keyboard.press("Escape")
    return row.split("runs on ", 1)[1]


def test_gguf_models_run_natively_and_answer_as_the_in_window_engine(launcher, native_page):
    page = native_page
    status = page.text_content("#engine-status")
    assert "llama.cpp native (CPU) · 2 threads" in status
    assert runs_on(page) == "llama.cpp native (CPU)"
    native_answer = ask(page, QUESTION)
    # The same greedy request to llama.cpp as a library (llama-cpp-python, built from the same
    # llama.cpp sources) gives the same answer, token for token.
    from llama_cpp import Llama

    llama = Llama(str(EMBEDDED_DIR / EMBEDDED_MODEL_FILE), n_ctx=4096, n_threads=2, verbose=False)
    system = launcher.settings_file.load().system_prompt
    expected = llama.create_chat_completion(
        [{"role": "system", "content": system}, {"role": "user", "content": QUESTION}],
        temperature=0,
        max_tokens=24,
    )
    assert native_answer.strip() == expected["choices"][0]["message"]["content"].strip()

    launcher.settings_file.update({"cpu_engine": "wllama"})
    page.reload()
    wait_ready(page)
    assert "wllama (CPU)" in page.text_content("#engine-status")
    assert runs_on(page) == "wllama, in the window (CPU)"
    wllama_answer = ask(page, QUESTION)
    assert native_answer.split()[:AGREEING_WORDS] == wllama_answer.split()[:AGREEING_WORDS]
    assert "Paris" in native_answer


def test_a_long_answer_reaches_the_window_in_few_events_every_piece_in_order():
    """The relay sends the first piece at once, then what one read of the engine's connection
    brings as one event, not an event per token: each event wakes the page, which shares the
    CPU with the engine. Nothing is lost or reordered on the way."""
    engine = NativeEngine()
    server = engine.load("m", EMBEDDED_DIR / EMBEDDED_MODEL_FILE, 2048, 2)
    messages = [{"role": "user", "content": "Write a long story about a lighthouse keeper."}]
    options = {"temperature": 0, "max_tokens": 128}

    async def streamed() -> list[list[str]]:
        body = client.chat_request("m", messages, options)
        return [batch async for batch in client.stream_chat(server, body, 60.0)]

    try:
        # In a thread of its own: the browser tests' driver may hold this thread's event loop.
        with ThreadPoolExecutor(1) as thread:
            batches = thread.submit(asyncio.run, streamed()).result()
        whole = openai.OpenAI(base_url=server.base_url, api_key=server.api_key)
        # Read afresh, not from the first request's cache: the same sums in the same order.
        expected = whole.chat.completions.create(
            model="m", messages=messages, extra_body={"cache_prompt": False}, **options
        )
    finally:
        engine.stop()
    pieces = [piece for batch in batches for piece in batch]
    assert "".join(pieces) == expected.choices[0].message.content
    assert len(pieces) >= 100
    assert len(batches[0]) == 1  # the first piece is shown at once
    assert len(batches) <= len(pieces) / 4, [len(batch) for batch in batches]


def test_stop_on_the_native_engine_acts_at_once_and_frees_it(launcher, native_page):
    """(A long document summarized on the native engine is test_summarize_browser's.)"""
    page = native_page
    # Stop in the middle of a long answer: it stops at once and keeps what was written.
    launcher.settings_file.update({"max_tokens": 2000, "temperature": 0.7})
    page.reload()
    wait_ready(page)
    page.fill("#prompt", "Write a long story about a river.")
    page.press("#prompt", "Enter")
    answer = page.locator("article.message.assistant").last
    wait_until(
        page,
        "() => document.querySelector('article.message.assistant .answer')?.textContent.length"
        " > 40",
    )
    started = time.monotonic()
    page.click("#stop")
    wait_until(page, "() => document.querySelector('article.message.assistant')?.dataset.state")
    assert time.monotonic() - started < 2
    assert answer.get_attribute("data-state") == "stopped"
    assert "Stopped." in answer.inner_text()
    # The engine is free again at once (the stopped request ended on the server too).
    assert ask(page, QUESTION, timeout=30).strip()


def test_the_local_api_answers_from_the_native_engine(launcher, native_page):
    launcher.settings_file.update({"api_enabled": True})
    launcher.bridge.update_settings({})
    settings = launcher.settings_file.load()
    local = openai.OpenAI(
        base_url=f"http://127.0.0.1:{settings.api_port}/v1", api_key=settings.api_key
    )
    messages = [{"role": "user", "content": QUESTION}]
    # The same request straight to the native engine's server (behind the app's bridge), before
    # and after: llama.cpp's answer to a prompt it has cached may differ in the last digits
    # from a cold one.
    served = launcher.bridge.native.server()
    assert served is not None
    assert launcher.bridge.native.loaded.model_id == "smollm2-135m-instruct-q4_1"
    direct = openai.OpenAI(base_url=served.base_url, api_key=served.api_key)

    def ask_directly():
        return direct.chat.completions.create(
            model="smollm2-135m-instruct-q4_1", messages=messages, temperature=0, max_tokens=16
        )

    ask_directly()
    answer = local.chat.completions.create(
        model="any", messages=messages, temperature=0, max_tokens=16
    )
    expected = ask_directly()
    assert answer.choices[0].message.content == expected.choices[0].message.content


def test_without_the_native_engine_the_app_answers_in_the_window(launcher, native_page):
    """On a computer with no llama-server build its CPU can run (the page is told so, as it is
    on such a computer) the app still answers, with the in-window engine."""
    page = native_page
    page.route("**/api/info", lambda route: route.fulfill(
        json={**launcher.bridge.info(), "native_engine": False}))  # fmt: skip
    page.reload()
    wait_ready(page)
    assert "wllama (CPU)" in page.text_content("#engine-status")
    assert "Paris" in ask(page, QUESTION)


CPU_AVX2 = {"avx", "avx2", "fma", "f16c", "bmi2", "sse4_2"}
CPU_AVX512 = CPU_AVX2 | set(native.BUILDS["avx512"])


@pytest.mark.parametrize(
    ("cpu", "installed", "chosen"),
    [
        (CPU_AVX512, ["avx512", "avx2"], "avx512"),
        (CPU_AVX2, ["avx512", "avx2"], "avx2"),
        (CPU_AVX512 - {"avx512_bf16"}, ["avx512", "avx2"], "avx2"),  # Skylake-X: no BF16
        (None, ["avx512", "avx2"], "avx2"),  # features unknown (not Linux): the safe build
        ({"sse4_2"}, ["avx512", "avx2"], None),
        (CPU_AVX512, [], None),
    ],
)
def test_the_fastest_build_the_cpu_can_run_is_chosen(tmp_path, monkeypatch, cpu, installed, chosen):
    """The installers carry a llama-server per level of x86 CPU; one that needs instructions
    the CPU lacks would die with "illegal instruction", so it is never started there, and
    Diagnostics says why GGUF models then run in the window."""
    for build in installed:
        program = tmp_path / build / native.BINARY_NAME
        program.parent.mkdir()
        program.write_bytes(b"")
        program.chmod(0o755)
    monkeypatch.setattr(native, "NATIVE_ENGINE_DIR", tmp_path)
    monkeypatch.setattr(native, "_cpu_features", lambda: cpu)
    found = native.describe()
    if chosen is None:
        assert found["available"] is False and native.binary() is None
        assert ("lacks instructions" if installed else "not installed") in str(found["reason"])
    else:
        assert found == {
            "available": True, "build": chosen, "path": str(tmp_path / chosen / native.BINARY_NAME)
        }  # fmt: skip


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")  # a zombie has ended; only its exit status is left


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
@pytest.mark.parametrize("setpriv", [True, False], ids=["setpriv", "without-setpriv"])
def test_the_engine_ends_with_the_app_even_when_the_app_is_killed(setpriv):
    """kill -9 leaves the app no moment to stop its engine; the kernel ends it instead. The
    model is loaded from a thread that then ends, as the bridge's worker threads do, and the
    engine must outlive that thread. Both ways of setting the kernel's parent-death signal:
    util-linux's setpriv, and Python itself where a system has no setpriv."""
    assert native._SETPRIV is not None  # Debian has it (util-linux is essential there)
    model = EMBEDDED_DIR / EMBEDDED_MODEL_FILE
    app_code = textwrap.dedent(f"""
        import sys, threading
        from pathlib import Path
        from desktop_llm.engines import native
        from desktop_llm.engines.native import NativeEngine
        if not {setpriv!r}:
            native._SETPRIV = None
        engine = NativeEngine()
        worker = threading.Thread(target=engine.load, args=("m", Path({str(model)!r}), 512, 1))
        worker.start()
        worker.join()
        print(engine.pid, engine.server().base_url, engine.server().api_key, flush=True)
        sys.stdin.read()
    """)
    app = subprocess.Popen(
        [sys.executable, "-c", app_code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert app.stdout is not None
        pid, base_url, key = app.stdout.readline().split()
        time.sleep(0.5)  # the thread that loaded it has ended
        answer = openai.OpenAI(base_url=base_url, api_key=key).chat.completions.create(
            model="m", messages=[{"role": "user", "content": QUESTION}], max_tokens=4
        )
        assert answer.choices[0].message.content
    finally:
        app.kill()
        app.wait()
    deadline = time.monotonic() + 10
    while _running(int(pid)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _running(int(pid))


def test_a_broken_model_file_is_refused_with_llama_cpps_reason(tmp_path):
    broken = tmp_path / "broken.gguf"
    broken.write_bytes((EMBEDDED_DIR / EMBEDDED_MODEL_FILE).read_bytes()[: 5 << 20])  # cut short
    engine = NativeEngine()
    with pytest.raises(RuntimeError) as failure:
        engine.load("broken", broken, 512, 1)
    assert "model" in str(failure.value).lower()
    assert engine.pid is None and engine.server() is None
    # The engine is still usable: the next model loads.
    assert engine.load("m", EMBEDDED_DIR / EMBEDDED_MODEL_FILE, 512, 1).base_url
    engine.stop()
