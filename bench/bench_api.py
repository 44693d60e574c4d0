"""Decode speed through the local API vs in the app's window, same model and prompt, one run.

    python bench/bench_api.py [--rounds 3] [--tokens 128]

The API side is measured by the client (the official `openai` library, streaming): tokens after
the first / time from the first to the last. The window side is the app's own figure for the same
greedy answer. Rounds alternate which goes first, after a warm-up.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import median, side_by_side, window_decode_speed
from desktop_llm.launcher import Launcher
from desktop_llm.paths import AppPaths
from tests.support.page import open_app_page, wait_ready

PROMPT = "Explain in a few paragraphs how a bicycle works, and why it stays upright."


def api_speed(client, tokens: int) -> float:
    stream = client.chat.completions.create(
        model="local",
        messages=[{"role": "user", "content": PROMPT}],
        temperature=0,
        max_tokens=tokens,
        stream=True,
        stream_options={"include_usage": True},
    )
    first = last = None
    usage = None
    for chunk in stream:
        if chunk.usage:
            usage = chunk.usage
        if chunk.choices and chunk.choices[0].delta.content:
            last = time.perf_counter()
            first = first or last
    return (usage.completion_tokens - 1) / (last - first)


def main() -> None:
    import openai
    from playwright.sync_api import sync_playwright

    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--tokens", type=int, default=128)
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="bench-api-"))
    os.environ["DESKTOP_LLM_HOME"] = str(home)
    paths = AppPaths.from_env()
    paths.config.mkdir(parents=True)
    paths.settings_file.write_text(
        json.dumps(
            {
                "api_enabled": True,
                "temperature": 0,
                "max_tokens": args.tokens,
                "system_prompt": "",
            }
        )
    )
    app = Launcher(paths, "browser")
    app.start_server()
    settings = app.settings_file.load()
    client = openai.OpenAI(
        base_url=f"http://127.0.0.1:{settings.api_port}/v1",
        api_key=settings.api_key,
        max_retries=0,
        timeout=600,
    )
    with sync_playwright() as driver:
        page, context = open_app_page(driver, app, home / "profile")
        wait_ready(page, timeout=300)
        speeds = side_by_side(
            args.rounds,
            {
                "api": lambda: api_speed(client, args.tokens),
                "ui": lambda: window_decode_speed(page, PROMPT),
            },
        )
        ui_speeds, api_speeds = speeds["ui"], speeds["api"]
        context.close()
    app.server.stop()
    app.api_server.stop()
    a, u = median(api_speeds), median(ui_speeds)
    print(f"decode tokens/s through the API: {[round(x, 1) for x in api_speeds]} median {a:.2f}")
    print(f"decode tokens/s in the window:   {[round(x, 1) for x in ui_speeds]} median {u:.2f}")
    print(f"API / window: {a / u:.3f}  (goal: at least 0.95)")


if __name__ == "__main__":
    main()
