"""A model on an OpenAI-compatible server, through the app vs straight to the server, one run:

    python bench/bench_remote.py [--rounds 5] [--tokens 256] [--words 20000]
                                 [--server llama-server --slots 4] [--own-core]
                                 [--no-summary]

The server is llama-cpp-python's (llama.cpp, one slot) serving the built-in GGUF on loopback
(tests/support/openai_servers.py), or with --server llama-server llama.cpp's own server with
--slots parallel slots (bench/llama_server.py builds it once per machine). Decode: the app's
window on the server's model vs the official openai client streaming the same request from the
server, alternating. Then a long document is
summarized through the app with `remote_parallel` 4 and 1: wall time of each, and the ratio.

With --own-core the server runs on CPU 0 with one thread and everything else (the app, the
browser, the openai client) on the other CPUs, as a server on another computer would: what the
app then costs is its relay, not CPU taken from the server.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import median, side_by_side, window_decode_speed

PROMPT = "Write a long, detailed story about a lighthouse keeper and a storm."


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--tokens", type=int, default=256)
    parser.add_argument("--words", type=int, default=20_000)
    parser.add_argument("--server", choices=["llama-cpp-python", "llama-server"],
                        default="llama-cpp-python")  # fmt: skip
    parser.add_argument("--slots", type=int, default=4, help="llama-server's parallel slots")
    parser.add_argument("--own-core", action="store_true", help="the server alone on CPU 0")
    parser.add_argument("--no-summary", action="store_true", help="decode only")
    args = parser.parse_args()
    threads = 1 if args.own_core else 2

    import openai
    from playwright.sync_api import sync_playwright

    from desktop_llm.launcher import Launcher
    from desktop_llm.paths import AppPaths
    from tests.support.documents import drop_file, long_document, wait_summary
    from tests.support.openai_servers import SERVED_NAME, LlamaCppServer
    from tests.support.page import open_app_page, pick_model, wait_ready

    if args.server == "llama-server":
        from bench.llama_server import LlamaServer

        server: LlamaCppServer = LlamaServer(n_ctx=4096, slots=args.slots, threads=threads)
    else:
        server = LlamaCppServer(n_ctx=4096, threads=threads)
    if args.own_core:
        server.command = ["taskset", "-c", "0", *server.command]
        others = os.sched_getaffinity(0) - {0}
        os.sched_setaffinity(0, others)  # this process; the browser it starts inherits it
    server.start()
    slots = args.slots if args.server == "llama-server" else 1
    print(f"server: {args.server}, {slots} slot(s), {threads} thread(s)"
          f"{', alone on CPU 0' if args.own_core else ''}")  # fmt: skip
    home = Path(tempfile.mkdtemp(prefix="bench-home-"))
    os.environ["DESKTOP_LLM_HOME"] = str(home)
    app = Launcher(AppPaths.from_env(), "browser")
    app.start_server()
    app.settings_file.update({"temperature": 0, "max_tokens": args.tokens, "system_prompt": ""})
    server_id = app.bridge.add_engine("Bench server", server.base_url, server.key, 4096)["id"]
    client = openai.OpenAI(base_url=server.base_url, api_key=server.key)

    def direct() -> float:
        stream = client.chat.completions.create(
            model=SERVED_NAME,
            messages=[{"role": "user", "content": PROMPT}],
            temperature=0,
            max_tokens=args.tokens,
            stream=True,
        )
        first = 0.0
        tokens = 0
        for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                tokens += 1
                first = first or time.perf_counter()
        return (tokens - 1) / (time.perf_counter() - first)

    # llama-server counts the tokens it writes and the time it spends on them: its own speed
    # during each side's requests tells CPU taken from it from time lost on the way.
    counted = getattr(server, "decode_counters", None)
    server_speeds: dict[str, list[float]] = {"app": [], "direct": []}

    def with_server_speed(name: str, measure):
        def measured() -> float:
            before = counted() if counted else (0.0, 0.0)
            speed = measure()
            if counted:
                after = counted()
                server_speeds[name].append((after[0] - before[0]) / (after[1] - before[1]))
            return speed

        return measured

    with sync_playwright() as driver:
        page, context = open_app_page(driver, app, home / "profile")
        wait_ready(page)
        pick_model(page, f"remote:{server_id}:{SERVED_NAME}")
        speeds = side_by_side(
            args.rounds,
            {
                "app": with_server_speed("app", lambda: window_decode_speed(page, PROMPT)),
                "direct": with_server_speed("direct", direct),
            },
        )
        walls = {}
        for parallel in () if args.no_summary else (4, 1):
            app.settings_file.update({"remote_parallel": parallel})
            page.reload()
            wait_ready(page)
            # A document of its own per run: the server's prompt cache must not favour either.
            text = f"Copy {parallel}.\n\n{long_document(args.words)}"
            drop_file(page, "long.txt", text.encode(), "text/plain")
            page.locator("#document-panel[data-state=ready]").wait_for()
            started = time.perf_counter()
            page.click("#summarize")
            state, _ = wait_summary(page, timeout=7200)
            walls[parallel] = time.perf_counter() - started
            assert state == "done", state
        context.close()
    app.server.stop()
    server.stop()
    a, d = median(speeds["app"]), median(speeds["direct"])
    print(f"decode tokens/s, app:    {[round(x, 1) for x in speeds['app']]} median {a:.1f}")
    print(f"decode tokens/s, direct: {[round(x, 1) for x in speeds['direct']]} median {d:.1f}")
    print(f"app / direct: {a / d:.3f}  (goal: at least 0.95)")
    if counted:
        # The warm-up round is not counted on either side.
        sa, sd = median(server_speeds["app"][1:]), median(server_speeds["direct"][1:])
        print(f"the server's own decode tokens/s while serving the app {sa:.1f}, the openai "
              f"client {sd:.1f}: {sa / sd:.3f}")  # fmt: skip
    if walls:
        print(f"{args.words}-word summary: 4 parts at once {walls[4]:.0f} s, one at a time "
              f"{walls[1]:.0f} s, ratio {walls[4] / walls[1]:.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
