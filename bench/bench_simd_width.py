"""What the width of the CPU's vector instructions is worth to llama.cpp, and so how near the
in-window engine (llama.cpp in WebAssembly, whose SIMD is 128 bits wide) can come to native:

    python bench/bench_simd_width.py [--rounds 5]

The same llama.cpp (the sources the native engine is built from) compiled three ways
(scripts/build_llama_server.py's CPU variants; each is built once per machine, a few minutes):
native (all this CPU has), avx512 and avx2 (what the app and the installers carry) and sse
(128 bits, as wide as wasm's SIMD), beside wllama 2.4 in a bare page (tests/support/bare_page)
in headless Chromium. One run, alternating, the built-in GGUF, 2 threads, greedy: prefill of a
2,048-token prompt and decode of 256 tokens, as llama.cpp's own timings report them (the bare
page: from its stream). Ratios to native are printed at the end.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "scripts")]

from build_llama_server import cached_build  # noqa: E402

from bench.bench_cpu_engine import DECODE_TOKENS, STORY, prompt_for  # noqa: E402
from bench.common import median, side_by_side  # noqa: E402
from bench.llama_server import LlamaServer  # noqa: E402
from desktop_llm.engines.native import physical_cores  # noqa: E402
from tests.support.openai_servers import SERVED_NAME  # noqa: E402

N_CTX = 4096
VARIANTS = ("native", "avx512", "avx2", "sse")  # x86 builds; "default" is avx2's there
DOCUMENT = [{"role": "user", "content": prompt_for(2048)}]
STORY_CHAT = [{"role": "user", "content": STORY}]


def server_side(server: LlamaServer, metric: str) -> float:
    messages, tokens = (DOCUMENT, 1) if metric == "prefill" else (STORY_CHAT, DECODE_TOKENS)
    answer = httpx.post(
        f"{server.base_url}/chat/completions",
        headers={"Authorization": f"Bearer {server.key}"},
        json={
            "model": SERVED_NAME,
            "messages": messages,
            "max_tokens": tokens,
            "temperature": 0,
            "cache_prompt": False,
        },
        timeout=900,
    ).json()
    timings = answer["timings"]
    return timings["prompt_per_second" if metric == "prefill" else "predicted_per_second"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    threads = physical_cores()
    servers = {
        variant: LlamaServer(n_ctx=N_CTX, slots=1, threads=threads, program=cached_build(variant))
        for variant in VARIANTS
    }
    prompt_tokens = 0
    from playwright.sync_api import sync_playwright

    from tests.support.bare_page import serve_bare
    from tests.support.page import CHROMIUM

    bare_server, bare_url = serve_bare()
    try:
        for server in servers.values():
            server.start()
        with sync_playwright() as driver:
            browser = driver.chromium.launch(executable_path=CHROMIUM, headless=True)
            page = browser.new_page()
            page.goto(bare_url)
            page.wait_for_function("() => window.loadBare !== undefined")
            page.evaluate("([t, n]) => loadBare(t, n)", [threads, N_CTX])

            def wasm_side(metric: str) -> float:
                messages, tokens = (DOCUMENT, 1) if metric == "prefill" else (STORY_CHAT, 256)
                run = page.evaluate("([m, n]) => runBare(m, n)", [messages, tokens])
                if metric == "prefill":
                    return prompt_tokens / run["firstTokenSeconds"]
                return run["tokensPerSecond"]

            prompt_tokens = httpx.post(
                f"{servers['native'].base_url}/chat/completions",
                headers={"Authorization": f"Bearer {servers['native'].key}"},
                json={"model": SERVED_NAME, "messages": DOCUMENT, "max_tokens": 1},
                timeout=900,
            ).json()["usage"]["prompt_tokens"]
            results = {}
            for metric in ("prefill", "decode"):
                measures = {
                    name: (lambda s=server, m=metric: server_side(s, m))
                    for name, server in servers.items()
                }
                measures["wasm"] = lambda m=metric: wasm_side(m)
                results[metric] = side_by_side(args.rounds, measures)
            browser.close()
    finally:
        bare_server.shutdown()
        for server in servers.values():
            server.stop()
    print(f"prompt {prompt_tokens} tokens, decode {DECODE_TOKENS} tokens, {threads} threads, "
          f"{args.rounds} rounds (medians, tokens/s)")  # fmt: skip
    for metric, sides in results.items():
        native = median(sides["native"])
        line = ", ".join(
            f"{name} {median(values):.1f} ({median(values) / native:.2f})"
            for name, values in sides.items()
        )
        print(f"{metric}: {line}")


if __name__ == "__main__":
    main()
