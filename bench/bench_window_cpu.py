"""Where the CPU goes while the window shows an answer from the native engine, side by side with
the engine read directly, in one run, alternating:

    python bench/bench_window_cpu.py [--rounds 5] [--batch-waits 0.05,0.1]

Sides: the app's page (in headless Chromium, as in bench_cpu_engine's speed rounds) on the native
engine, with the relay's `BATCH_WAIT` (desktop_llm/engines/client.py) set to each value given;
and the same engine read directly by httpx with no window (the anchor). The built-in GGUF,
2 threads, greedy, 256 tokens. Per answer: decode tokens/s (the window's own figure; directly,
from the first piece to the last) and the CPU seconds each part used, from /proc: the engine,
the app's Python, the page's renderer, and Chromium's other processes (browser, GPU, utilities).
On a computer whose cores the engine shares with the window, the window's CPU is what the engine
loses.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx

from bench.bench_cpu_engine import DECODE_TOKENS, STORY
from bench.common import app_processes, median, side_by_side, window_decode_speed
from desktop_llm.engines import client
from desktop_llm.engines.native import physical_cores

PARTS = ("engine", "python", "renderer", "chromium")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds() -> dict[tuple[int, str], float]:
    """CPU seconds so far of each process of this benchmark, by (pid, part)."""
    found = {}
    for pid, part, command in app_processes(os.getpid()):
        if part == "window":
            if b"chrom" not in command:
                continue  # the test driver (playwright's node), which users do not have
            part = "chromium"
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        found[(pid, part)] = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    return found


def measured(answer) -> dict[str, float]:
    """Run answer() -> tokens/s; add the CPU seconds each part used meanwhile."""
    before = cpu_seconds()
    result = {"decode": answer()}
    after = cpu_seconds()
    for part in PARTS:
        result[part] = sum(t - before.get(key, 0.0) for key, t in after.items() if key[1] == part)
    return result


def direct_decode(app) -> float:
    """Decode tokens/s of the engine read directly, as lightly as Python can (httpx, line by
    line; the openai client, bench_remote's anchor, took twice its CPU here: 0.16 against 0.07 s
    per answer)."""
    server = app.bridge.native.server()
    body = {"model": "any", "max_tokens": DECODE_TOKENS, "temperature": 0, "stream": True,
            "messages": [{"role": "user", "content": STORY}]}  # fmt: skip
    headers = {"Authorization": f"Bearer {server.api_key}"}
    pieces, first = 0, 0.0
    url = f"{server.base_url}/chat/completions"
    with httpx.stream("POST", url, json=body, headers=headers, timeout=300) as response:
        for line in response.iter_lines():
            if line.startswith("data:") and '"content"' in line:
                pieces += 1
                first = first or time.perf_counter()
    return (pieces - 1) / (time.perf_counter() - first)


def in_window(page, batch_wait: float) -> float:
    client.BATCH_WAIT = batch_wait
    return window_decode_speed(page, STORY)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--batch-waits", default=f"{client.BATCH_WAIT}", help="seconds, commas")
    args = parser.parse_args()
    waits = [float(value) for value in args.batch_waits.split(",")]

    from playwright.sync_api import sync_playwright

    from desktop_llm.launcher import Launcher
    from desktop_llm.paths import AppPaths
    from tests.support.page import open_app_page, wait_ready

    home = Path(tempfile.mkdtemp(prefix="bench-window-cpu-"))
    os.environ["DESKTOP_LLM_HOME"] = str(home)
    app = Launcher(AppPaths.from_env(), "browser")
    app.start_server()
    settings = {"temperature": 0, "system_prompt": "", "cpu_engine": "native",
                "threads": physical_cores(), "max_tokens": DECODE_TOKENS}  # fmt: skip
    app.settings_file.update(settings)
    with sync_playwright() as driver:
        page, context = open_app_page(driver, app, home / "profile")
        wait_ready(page, timeout=300)
        results = side_by_side(
            args.rounds,
            {
                "engine read directly": lambda: measured(lambda: direct_decode(app)),
                **{
                    f"window, BATCH_WAIT {wait:g} s": lambda wait=wait: measured(
                        lambda: in_window(page, wait)
                    )
                    for wait in waits
                },
            },
        )
        context.close()
    app.server.stop()
    app.bridge.native.stop()
    print(f"{'':32s}{'decode tok/s':>14s}" + "".join(f"{p:>10s}" for p in PARTS) + "  (CPU s)")
    for name, rounds in results.items():
        row = [median([r[key] for r in rounds]) for key in ("decode", *PARTS)]
        print(f"{name:32s}{row[0]:14.1f}" + "".join(f"{v:10.2f}" for v in row[1:]))


if __name__ == "__main__":
    main()
