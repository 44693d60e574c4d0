"""The CPU path side by side with native llama.cpp, in one run, alternating:

    python bench/bench_cpu_engine.py [--rounds 5] [--engines native,wllama] [--no-memory]

Three sides, the built-in GGUF, the same threads (physical cores), n_ctx 4096, n_batch 512,
greedy:
- native: llama-cpp-python's `Llama` in a child process of its own (the anchor);
- app-native: the app's page on its native engine (llama.cpp's llama-server, a process of the
  app's, over loopback);
- app-wllama: the app's page on the in-window engine (llama.cpp in WebAssembly).
Per round: model load time (the anchor: `Llama(...)` in a fresh process; the app: in a window
opened afresh, from asking its engine for the model to the model being ready, as the window
reports it); prefill tokens/s on a 512- and a
2,048-token prompt (prompt tokens over the time to the first token, as the window reports it);
decode tokens/s over up to 256 tokens. Medians and ratios to native are printed at the end.

Memory is measured on the app as people run it, after the speed rounds: `python -m desktop_llm`
in its own window (the Qt webview, the default on Linux, then the browser window) on a virtual
screen, made to read the 2,048-token prompt and write 256 tokens through its local API (which
the page answers with its engine, as it answers the chat). Peak of the sum of the PSS of every
process of the app (its Python, the window's processes, the native engine), sampled every
0.1 s, against the anchor's peak RSS.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import app_processes, free_port, median, pss_mb, side_by_side
from desktop_llm.constants import EMBEDDED_DIR, EMBEDDED_MODEL_FILE
from desktop_llm.engines.native import physical_cores

MODEL = EMBEDDED_DIR / EMBEDDED_MODEL_FILE
N_CTX = 4096
DECODE_TOKENS = 256
STORY = "Write a long, detailed story about a lighthouse keeper and a storm."


def document(tokens: int) -> str:
    """Plain prose of about `tokens` tokens of this model (about 1.3 tokens a word)."""
    sentence = ("The river ran past the old mill, and the miller counted the sacks of grain "
                "that the farmers brought before the winter came. ")  # fmt: skip
    words_per_sentence = len(sentence.split())
    return sentence * max(1, round(tokens / 1.3 / words_per_sentence))


def prompt_for(tokens: int) -> str:
    # Different first words: no engine may reuse one prompt's cache for the other.
    return f"Text {tokens}. Summarize it in one sentence.\n\n{document(tokens)}"


# --- the anchor: native llama.cpp in its own process -------------------------------------------


def run_native() -> None:
    """One round of the anchor; prints its numbers as JSON."""
    from llama_cpp import Llama
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    threads = physical_cores()
    started = time.perf_counter()
    llm = Llama(str(MODEL), n_ctx=N_CTX, n_threads=threads, n_threads_batch=threads,
                n_batch=512, n_ubatch=512, verbose=False)  # fmt: skip
    load = time.perf_counter() - started
    formatter = Jinja2ChatFormatter(
        template=llm.metadata["tokenizer.chat_template"],
        eos_token=llm.detokenize([llm.token_eos()]).decode(),
        bos_token=llm.detokenize([llm.token_bos()]).decode(),
    )

    def tokens_of(text: str) -> list[int]:
        formatted = formatter(messages=[{"role": "user", "content": text}]).prompt
        return llm.tokenize(formatted.encode(), add_bos=False, special=True)

    result: dict[str, float] = {"load_s": load}
    for size in (512, 2048):
        tokens = tokens_of(prompt_for(size))
        llm.reset()
        started = time.perf_counter()
        llm.eval(tokens)
        result[f"prefill_{size}"] = len(tokens) / (time.perf_counter() - started)
        result[f"prompt_tokens_{size}"] = len(tokens)
    llm.reset()
    llm.eval(tokens_of(STORY))
    started = time.perf_counter()
    for _ in range(DECODE_TOKENS):
        token = llm.sample(temp=0.0)
        llm.eval([token])
    result["decode"] = DECODE_TOKENS / (time.perf_counter() - started)
    result["rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result))


def native_round() -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--native-round"], capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


# --- the app's page ------------------------------------------------------------------------------


def page_round(app, page, engine: str, prompt_tokens: dict[int, int]) -> dict[str, float]:
    from tests.support.page import ask, wait_ready

    app.settings_file.update({"cpu_engine": engine, "max_tokens": DECODE_TOKENS})
    app.bridge.native.stop()  # each round loads the model afresh, as the anchor does
    page.bring_to_front()
    # In a settled window, as the anchor starts in a fresh process: the previous round's page
    # is closed first and given time to give back its engine's memory (wllama's 500 MB took
    # the next load from 0.19 to 0.41 s).
    page.goto("about:blank")
    time.sleep(1.0)
    page.goto(f"{app.server.origin}/")
    wait_ready(page, timeout=600)
    # As the window reports it: from asking the engine for the model to the model being ready.
    title = page.get_attribute("#engine-status", "title") or ""
    result: dict[str, float] = {"load_s": float(title.split("loaded in ")[1].split(" s")[0])}
    for size in (512, 2048):
        app.settings_file.update({"max_tokens": 1})
        page.click("#new-chat")
        ask(page, prompt_for(size), timeout=900, poll=1.0)
        first = float(page.text_content("#stats").split("first token after ")[1].split(" s")[0])
        result[f"prefill_{size}"] = prompt_tokens[size] / first
    app.settings_file.update({"max_tokens": DECODE_TOKENS})
    page.click("#new-chat")
    ask(page, STORY, timeout=900, poll=1.0)
    stats = page.text_content("#stats")
    result["decode"] = float(stats.split(" tokens/s")[0].rsplit("· ", 1)[1])
    return result


# --- the app as people run it: memory -----------------------------------------------------------


def window_memory(host: str, engine: str, **settings: object) -> dict[str, float]:
    """Peak PSS of the whole app in its own window while it reads the 2,048-token prompt and
    writes 256 tokens, asked through its local API. `settings`: more of the app's settings."""
    import httpx

    from desktop_llm.paths import AppPaths
    from tests.support.xvfb import virtual_display

    home = Path(tempfile.mkdtemp(prefix="bench-window-"))
    port = free_port()
    key = "bench-" + secrets.token_urlsafe(16)
    settings_file = AppPaths.under(home).settings_file
    settings_file.parent.mkdir(parents=True)
    settings_file.write_text(json.dumps({
        "api_enabled": True, "api_port": port, "api_key": key, "cpu_engine": engine,
        "temperature": 0, "system_prompt": "", "context_size": N_CTX, "threads": physical_cores(),
        **settings,
    }))  # fmt: skip
    with virtual_display() as display:
        app = subprocess.Popen(
            [sys.executable, "-m", "desktop_llm", "--host", host],
            env={**os.environ, "DESKTOP_LLM_HOME": str(home), "DISPLAY": display},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        peak = {"total": 0.0}
        done = threading.Event()

        def sample() -> None:
            while not done.wait(0.1):
                parts = _app_memory(app.pid)
                if parts["total"] > peak["total"]:
                    peak.update(parts)

        sampler = threading.Thread(target=sample, daemon=True)
        try:
            api = httpx.Client(
                base_url=f"http://127.0.0.1:{port}/v1",
                headers={"Authorization": f"Bearer {key}"},
                timeout=900,
            )
            _ask(api, "Hello.", 1, wait_for_window=True)
            sampler.start()
            _ask(api, prompt_for(2048), 1)
            _ask(api, STORY, DECODE_TOKENS)
        finally:
            done.set()
            app.terminate()
            app.wait(30)
    return {key: round(value) for key, value in peak.items()}


def _ask(api, text: str, max_tokens: int, wait_for_window: bool = False) -> None:
    import httpx

    body = {"model": "any", "max_tokens": max_tokens, "temperature": 0,
            "messages": [{"role": "user", "content": text}]}  # fmt: skip
    deadline = time.monotonic() + 120
    while True:
        try:
            answer = api.post("/chat/completions", json=body)
            if answer.status_code == 200:
                return
            problem = answer.text
        except httpx.TransportError as exc:  # the API is not listening yet
            problem = str(exc)
        if not wait_for_window or time.monotonic() > deadline:
            raise RuntimeError(f"the app's local API: {problem}")
        time.sleep(0.5)


def _app_memory(root: int) -> dict[str, float]:
    """PSS in MB of the app's processes, by part: its Python, the window, the native engine, and
    their total; and of the window, its renderer (the page) alone."""
    parts = {"python": 0.0, "window": 0.0, "engine": 0.0, "renderer": 0.0}
    for pid, part, _command in app_processes(root):
        size = pss_mb(pid)
        parts["window" if part == "renderer" else part] += size
        if part == "renderer":
            parts["renderer"] += size
    parts["total"] = parts["python"] + parts["window"] + parts["engine"]
    return parts


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--engines", default="native,wllama", help="the app's engines to run")
    parser.add_argument("--no-memory", action="store_true", help="speed only")
    parser.add_argument("--native-round", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.native_round:
        run_native()
        return
    engines = args.engines.split(",")

    from playwright.sync_api import sync_playwright

    from desktop_llm.launcher import Launcher
    from desktop_llm.paths import AppPaths
    from tests.support.page import open_app_page, wait_ready

    home = Path(tempfile.mkdtemp(prefix="bench-home-"))
    os.environ["DESKTOP_LLM_HOME"] = str(home)
    app = Launcher(AppPaths.from_env(), "browser")
    app.start_server()
    app.settings_file.update({"temperature": 0, "system_prompt": "", "context_size": N_CTX,
                              "threads": physical_cores()})  # fmt: skip
    first = native_round()  # also tells the prompts' sizes in tokens
    prompt_tokens = {size: int(first[f"prompt_tokens_{size}"]) for size in (512, 2048)}
    with sync_playwright() as driver:
        page, context = open_app_page(driver, app, home / "profile")
        wait_ready(page, timeout=300)
        results = side_by_side(
            args.rounds,
            {
                "native": native_round,
                **{
                    f"app-{engine}": lambda engine=engine: page_round(
                        app, page, engine, prompt_tokens
                    )
                    for engine in engines
                },
            },
        )
        context.close()
    app.server.stop()
    app.bridge.native.stop()
    memory = {
        f"{host}, {engine}": window_memory(host, engine)
        for host in ("webview", "browser")
        for engine in engines
        if not args.no_memory
    }
    report(results, prompt_tokens, memory)


def report(
    results: dict[str, list[dict[str, float]]],
    prompt_tokens: dict[int, int],
    memory: dict[str, dict[str, float]],
) -> None:
    metrics = ["load_s", "prefill_512", "prefill_2048", "decode"]
    medians = {
        side: {m: median([r[m] for r in rounds]) for m in rounds[0] if not m.startswith("prompt")}
        for side, rounds in results.items()
    }
    print(f"prompt tokens: {prompt_tokens}; rounds: {len(results['native'])}; threads: "
          f"{physical_cores()}")  # fmt: skip
    print(f"{'':14}" + "".join(f"{m:>14}" for m in metrics))
    for side, values in medians.items():
        print(f"{side:14}" + "".join(f"{values[m]:14.2f}" for m in metrics))
    native = medians["native"]
    for side in [s for s in medians if s != "native"]:
        values = medians[side]
        ratios = ", ".join(
            f"{m} {values[m] / native[m]:.2f}"
            if m != "load_s"
            else f"load {values[m] / native[m]:.2f}x"
            for m in metrics
        )
        print(f"{side} / native: {ratios}")
    if not memory:
        return
    rss = native["rss_mb"]
    print(f"memory, peak: native RSS {rss:.0f} MB (median of its rounds)")
    for name, parts in memory.items():
        print(f"  app ({name}): {parts['total']} MB (Python {parts['python']}, window "
              f"{parts['window']} of which the renderer {parts['renderer']}, engine "
              f"{parts['engine']}) = native RSS + "
              f"{parts['total'] - rss:.0f} MB")  # fmt: skip


if __name__ == "__main__":
    main()
