"""Decode speed in the app vs the same engine and model in a bare page, same browser, one run.

    python bench/bench_decode.py [--rounds 3] [--tokens 128]

Both pages run in one headless Chromium (the browser host's flags), greedy, the same prompt,
n_ctx and threads; a first round warms both up, then rounds alternate which goes first.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import median, side_by_side, window_decode_speed
from desktop_llm.launcher import Launcher
from desktop_llm.paths import AppPaths
from tests.support.bare_page import serve_bare

PROMPT = "Explain in a few paragraphs how a bicycle works, and why it stays upright."


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--tokens", type=int, default=128)
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    from tests.support.page import open_app_page, wait_ready

    home = Path(tempfile.mkdtemp(prefix="bench-home-"))
    os.environ["DESKTOP_LLM_HOME"] = str(home)
    app = Launcher(AppPaths.from_env(), "browser")
    app.start_server()
    app.settings_file.update(
        {"temperature": 0, "max_tokens": args.tokens, "system_prompt": "", "context_size": 2048}
    )
    bare_server, bare_url = serve_bare()
    threads = os.cpu_count() or 1
    with sync_playwright() as driver:
        app_page, context = open_app_page(driver, app, home / "profile")
        wait_ready(app_page, timeout=300)
        bare_page = context.new_page()
        bare_page.goto(bare_url)
        bare_page.wait_for_function("() => window.loadBare !== undefined")
        bare_page.evaluate("([t, n]) => loadBare(t, n)", [threads, 2048])
        messages = [{"role": "user", "content": PROMPT}]

        # A background tab runs at lower priority: the page measured is brought to the front.
        def app_side() -> float:
            app_page.bring_to_front()
            return window_decode_speed(app_page, PROMPT)

        def bare_side() -> float:
            bare_page.bring_to_front()
            result = bare_page.evaluate("([m, n]) => runBare(m, n)", [messages, args.tokens])
            return result["tokensPerSecond"]

        speeds = side_by_side(args.rounds, {"app": app_side, "bare": bare_side})
        app_speeds, bare_speeds = speeds["app"], speeds["bare"]
        context.close()
    bare_server.shutdown()
    app.server.stop()
    a, b = median(app_speeds), median(bare_speeds)
    print(f"decode tokens/s, app:  {[round(x, 1) for x in app_speeds]} median {a:.2f}")
    print(f"decode tokens/s, bare: {[round(x, 1) for x in bare_speeds]} median {b:.2f}")
    print(f"app / bare: {a / b:.3f}  (goal: at least 0.95)")


if __name__ == "__main__":
    main()
