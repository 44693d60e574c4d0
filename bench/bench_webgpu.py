"""WebGPU from a GGUF: what compiling costs, and WebLLM on the compiled model vs wllama on the
GGUF it came from, in the same app page and Chromium, one run.

    python bench/bench_webgpu.py [--rounds 2] [--tokens 16] [--cold]

1. Compile the built-in SmolLM2 with `desktop_llm.compiler` into a scratch store, timing each
   step (--cold: build the TVM web runtime too, in a scratch cache), and list artefact sizes.
2. In headless Chromium with WebGPU (on a machine without a GPU: SwiftShader, a software
   adapter), ask both models the same prompt, greedy, alternating which goes first after a
   warm-up round: time to first token, prefill tokens/s (prompt tokens / time to first token)
   and decode tokens/s, as the app's own stats line reports them.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import itertools

from bench.common import median, side_by_side
from desktop_llm.launcher import Launcher
from desktop_llm.models.embedded import embedded_source
from desktop_llm.models.store import ModelStore, human_size
from desktop_llm.paths import AppPaths

PROMPT = (
    "Here is a short passage. The bicycle was invented in the nineteenth century and quickly "
    "became one of the most popular ways to travel in cities around the world, because it is "
    "cheap, quiet and needs no fuel. Explain in a few sentences why a moving bicycle stays "
    "upright, and what the rider does to steer it."
)


def compile_once(cold: bool) -> tuple[str, Path]:
    from desktop_llm import compiler

    if cold:
        os.environ["DESKTOP_LLM_BUILD_CACHE"] = tempfile.mkdtemp(prefix="bench-build-cache-")
    store = ModelStore(Path(tempfile.mkdtemp(prefix="bench-compile-")) / "models")
    store.root.mkdir(parents=True)
    marks: list[tuple[float, str]] = [(time.monotonic(), "start")]
    entry = compiler.compile_gguf(
        store, embedded_source(), log=lambda step: marks.append((time.monotonic(), step))
    )
    marks.append((time.monotonic(), "done"))
    print(f"compile {embedded_source().name} ({'cold' if cold else 'warm'} runtime cache):")
    for (start, step), (end, _) in itertools.pairwise(marks):
        print(f"  {end - start:7.1f} s  {step}")
    print(f"  {marks[-1][0] - marks[0][0]:7.1f} s  in all")
    folder = store.root / entry.id
    library = folder / f"{entry.id}.wasm"
    shards = sum(p.stat().st_size for p in folder.glob("params_shard_*.bin"))
    print(f"model library {human_size(library.stat().st_size)}, weights {human_size(shards)}")
    return entry.id, folder


def stats_of(page) -> tuple[float, float]:
    """(seconds to first token, decode tokens/s) from the app's stats line."""
    text = page.text_content("#stats")
    first = float(text.split("first token after ")[1].split(" s")[0])
    decode = float(text.split(" tokens/s")[0].rsplit("· ", 1)[1])
    return first, decode


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--tokens", type=int, default=16)
    parser.add_argument("--cold", action="store_true", help="also build the TVM web runtime")
    args = parser.parse_args()

    model_id, folder = compile_once(args.cold)

    from playwright.sync_api import sync_playwright
    from tokenizers import Tokenizer

    from tests.support.page import ask, open_app_page, wait_ready, wait_until

    home = Path(tempfile.mkdtemp(prefix="bench-home-"))
    os.environ["DESKTOP_LLM_HOME"] = str(home)
    app = Launcher(AppPaths.from_env(), "browser")
    target = app.store.root / model_id
    target.mkdir(parents=True)
    for item in folder.iterdir():
        os.link(item, target / item.name)
    app.start_server()
    app.settings_file.update(
        {"temperature": 0, "max_tokens": args.tokens, "system_prompt": "", "context_size": 2048}
    )
    tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    template = (
        "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging "
        f"Face<|im_end|>\n<|im_start|>user\n{PROMPT}<|im_end|>\n<|im_start|>assistant\n"
    )
    prompt_tokens = len(tokenizer.encode(template).ids)
    builtin = "smollm2-135m-instruct-q4_1"

    with sync_playwright() as driver:
        page, context = open_app_page(driver, app, home / "profile")
        wait_ready(page, timeout=300)
        adapter = page.evaluate("document.body.dataset.gpuAdapter")
        loads: dict[str, list[float]] = {builtin: [], model_id: []}

        def run(model: str) -> tuple[float, float]:
            if page.evaluate("document.body.dataset.engineModel") != model:
                started = time.monotonic()
                page.select_option("#model-select", model)
                wait_until(page, "id => document.body.dataset.engineModel === id", model)
                wait_ready(page, timeout=900)
                loads[model].append(time.monotonic() - started)
            page.click("#new-chat")
            ask(page, PROMPT, timeout=1800, poll=1.0)
            return stats_of(page)

        results = side_by_side(
            args.rounds, {"wllama": lambda: run(builtin), "webllm": lambda: run(model_id)}
        )
        context.close()
    app.server.stop()

    print(f"\nsame page, same Chromium, WebGPU adapter: {adapter}")
    print(f"prompt {prompt_tokens} tokens, {args.tokens} new tokens, greedy, {args.rounds} rounds")
    rows = {}
    for name, runs in results.items():
        first = median([r[0] for r in runs])
        decode = median([r[1] for r in runs])
        rows[name] = (first, prompt_tokens / first, decode)
        load = median(loads[builtin if name == "wllama" else model_id])
        print(
            f"{name:7} load {load:6.1f} s  first token {first:7.2f} s  "
            f"prefill {prompt_tokens / first:7.2f} tok/s  decode {decode:6.2f} tok/s"
        )
    gpu, cpu = rows["webllm"], rows["wllama"]
    print(f"webllm / wllama: prefill {gpu[1] / cpu[1]:.3f}, decode {gpu[2] / cpu[2]:.3f}")


if __name__ == "__main__":
    main()
