"""Rendering a streamed answer: 2,000 tokens through the app's StreamingMarkdown, every token
rendered at once (the worst case; the app renders at most every 50 ms), in headless Chromium.
Reports the total time and the per-token cost at the end vs the start, next to a naive renderer
that renders the whole answer again for every token.

    python bench/bench_render.py [--tokens 2000]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support.page import build_markdown_harness

MEASURE = """([pieces, naive]) => {
    const box = document.createElement('div');
    document.body.append(box);
    const times = [];
    let text = '';
    const view = naive ? null : new MarkdownUnderTest.StreamingMarkdown(box);
    for (const piece of pieces) {
        const t0 = performance.now();
        if (naive) { text += piece; box.innerHTML = MarkdownUnderTest.renderMarkdown(text); }
        else { view.append(piece); view.flush(); }
        box.offsetHeight;  // force layout, as a painted frame would
        times.push(performance.now() - t0);
    }
    if (!naive) view.finish();
    box.remove();
    return times;
}"""


def answer_pieces(count: int) -> list[str]:
    block = (
        "Here is a paragraph that explains the idea in plain words, with **bold** text and "
        "`inline code`.\n\n- first point about the topic\n- second point, a little longer\n\n"
        "```python\ndef example(x):\n    return x * 2\n```\n\n"
    )
    text = block * (count * 4 // len(block) + 1)
    return [text[i : i + 4] for i in range(0, count * 4, 4)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tokens", type=int, default=2000)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    script = build_markdown_harness(Path(tempfile.mkdtemp())).read_text()
    pieces = answer_pieces(args.tokens)
    with sync_playwright() as driver:
        browser = driver.chromium.launch(
            executable_path="/usr/bin/chromium", headless=True, args=["--no-sandbox"]
        )
        page = browser.new_page()
        page.add_init_script(script=script + "\nwindow.MarkdownUnderTest = MarkdownUnderTest;")
        page.goto("about:blank")
        results = {}
        for naive in (False, True):
            times = page.evaluate(MEASURE, [pieces, naive])
            head = sum(times[:200]) / 200
            tail = sum(times[-200:]) / 200
            results[naive] = (sum(times), head, tail)
        browser.close()
    for naive, label in ((False, "app (StreamingMarkdown)"), (True, "naive full re-render")):
        total, head, tail = results[naive]
        print(
            f"{label}: {args.tokens} tokens in {total / 1000:.2f} s; per token first 200 "
            f"{head:.3f} ms, last 200 {tail:.3f} ms, end/start {tail / head:.2f}"
        )


if __name__ == "__main__":
    main()
