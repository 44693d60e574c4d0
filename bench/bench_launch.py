"""Launch to interactive UI, launch to first token, and total memory: the real app in the real
Qt window under Xvfb, as a user starts it.

    python bench/bench_launch.py [--launches 3]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import free_port, median, tree_pss_mb
from tests.cdp import CDPPage
from tests.support.xvfb import virtual_display

SOURCE_COMMAND = [sys.executable, "-m", "desktop_llm"]


def one_launch(home: Path, display: str, command: list[str] = SOURCE_COMMAND) -> dict[str, float]:
    """One launch of `command` (default: the app from source), timed to the first answer."""
    debug = free_port()
    env = {
        **os.environ,
        "DISPLAY": display,
        "DESKTOP_LLM_HOME": str(home),
        "QTWEBENGINE_REMOTE_DEBUGGING": f"127.0.0.1:{debug}",
        "LANG": "C.UTF-8",
    }
    started = time.monotonic()
    app = subprocess.Popen(
        [*command, "--host", "webview"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        page = CDPPage(debug, "http://127.0.0.1:", timeout=60)
        page.wait_until(
            "document.readyState === 'complete' && document.body.dataset.engineState !== 'idle'",
            timeout=60,
        )
        interactive = time.monotonic() - started
        page.wait_until("document.body.dataset.engineState === 'ready'", timeout=120)
        ready = time.monotonic() - started
        page.evaluate(
            "(() => { document.getElementById('prompt').value = 'Hello, who are you?';"
            " document.getElementById('composer').requestSubmit(); })()"
        )
        page.wait_until(
            "document.querySelector('article.assistant .answer')?.textContent.length > 0", 120
        )
        first_token = time.monotonic() - started
        page.wait_until("document.querySelector('article.assistant')?.dataset.state", 120)
        memory = tree_pss_mb(app.pid)
        page.close()
    finally:
        app.terminate()
        app.wait(30)
    return {
        "interactive": interactive,
        "ready": ready,
        "first_token": first_token,
        "memory": memory,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--launches", type=int, default=3)
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="bench-launch-"))
    (home / "config").mkdir(parents=True)
    (home / "config/settings.json").write_text(json.dumps({"temperature": 0, "max_tokens": 32}))
    with virtual_display() as display:
        one_launch(home, display)  # first launch provisions the model: not counted
        runs = [one_launch(home, display) for _ in range(args.launches)]
    for key, label, unit in [
        ("interactive", "launch to interactive UI", "s"),
        ("ready", "launch to model loaded", "s"),
        ("first_token", "launch to first token", "s"),
        ("memory", "total memory (PSS, all processes) after one answer", "MB"),
    ]:
        values = [r[key] for r in runs]
        print(f"{label}: median {median(values):.2f} {unit}  {[round(v, 2) for v in values]}")


if __name__ == "__main__":
    main()
