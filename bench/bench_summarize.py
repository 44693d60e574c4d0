"""Summarizing: how much the pipeline adds to the engine's own generation time, and how fast a
200-page PDF is extracted.

    python bench/bench_summarize.py [--words 8000] [--pages 200] [--engines native,wllama]

The pipeline ratio is wall time of the whole summary (splitting with the model's tokenizer, the
parts, the combine step, rendering) / the sum of the time spent inside the engine's generation
calls, measured by the page in one run. With several CPU engines (`cpu_engine`), the same document
is summarized on each, one after the other, in one run.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from desktop_llm.documents import extract_file
from desktop_llm.hosts.browser import browser_flags
from desktop_llm.launcher import Launcher
from desktop_llm.paths import AppPaths
from tests.support.documents import drop_file, long_document, make_pdf
from tests.support.page import CHROMIUM, QUIET_CHROMIUM, wait_ready, wait_until


def pipeline_ratio(words: int, engine: str) -> dict[str, float]:
    from playwright.sync_api import sync_playwright

    home = Path(tempfile.mkdtemp(prefix="bench-summary-"))
    os.environ["DESKTOP_LLM_HOME"] = str(home)
    app = Launcher(AppPaths.from_env(), "browser")
    app.start_server()
    app.settings_file.update({"temperature": 0, "cpu_engine": engine})
    text = long_document(words)
    with sync_playwright() as driver:
        flags = [f for f in browser_flags(home / "p", QUIET_CHROMIUM) if "user-data-dir" not in f]
        context = driver.chromium.launch_persistent_context(
            str(home / "p"), executable_path=CHROMIUM, headless=True, args=flags
        )
        page = context.pages[0]
        page.goto(app.server.launch_url())
        page.wait_for_url(lambda url: "launch=" not in url)
        wait_ready(page, timeout=300)
        drop_file(page, "history.txt", text.encode(), "text/plain")
        page.locator("#document-panel[data-state=ready]").wait_for()
        page.select_option("#document-form select[name=length]", "short")
        page.click("#summarize")
        wait_until(
            page,
            "() => document.querySelector('article[data-kind=summary]')?.dataset.state",
            timeout=3600,
            interval=2.0,
        )
        data = page.evaluate("({...document.querySelector('article[data-kind=summary]').dataset})")
        context.close()
    app.server.stop()
    return {
        "words": len(text.split()),
        "parts": int(data["parts"]),
        "wall": float(data["wallSeconds"]),
        "engine": float(data["engineSeconds"]),
    }


def pdf_speed(pages: int) -> dict[str, float]:
    paragraph = (
        "This page describes the maintenance of the harbour lights, the schedule of the keepers "
        "and the supplies that arrive by boat every second week during the summer months. "
    ) * 12
    path = Path(tempfile.mkdtemp()) / "report.pdf"
    path.write_bytes(make_pdf([f"Page {n}. {paragraph}" for n in range(1, pages + 1)]))
    started = time.perf_counter()
    document = extract_file(path)
    seconds = time.perf_counter() - started
    return {
        "pages": document.pages,
        "seconds": seconds,
        "words": document.words,
        "mb": path.stat().st_size / 1e6,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--words", type=int, default=8000)
    parser.add_argument("--pages", type=int, default=200)
    parser.add_argument("--engines", default="native", help="cpu_engine values, comma-separated")
    args = parser.parse_args()
    pdf = pdf_speed(args.pages)
    print(
        f"PDF extraction: {pdf['pages']} pages ({pdf['mb']:.1f} MB, {pdf['words']:,} words) in "
        f"{pdf['seconds']:.2f} s = {pdf['pages'] / pdf['seconds']:.0f} pages/s"
    )
    for engine in args.engines.split(","):
        r = pipeline_ratio(args.words, engine)
        print(
            f"{engine}: summary of {r['words']:,} words in {r['parts']} parts: wall "
            f"{r['wall']:.1f} s, engine {r['engine']:.1f} s, wall / engine "
            f"{r['wall'] / r['engine']:.3f} (goal: at most 1.1)"
        )


if __name__ == "__main__":
    main()
