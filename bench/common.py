"""Helpers shared by the benchmarks."""

from __future__ import annotations

import os
import statistics
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def median(values: list[float]) -> float:
    return statistics.median(values)


def tree_pss_mb(pid: int, descend: bool = True) -> float:
    """Memory of a process and all its descendants (descend=False: the process alone), in MB:
    proportional set size, so pages shared between Chromium's processes count once in all
    (Linux /proc)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(parent, []).append(int(entry))
    total_kb = 0
    todo = [pid]
    while todo:
        current = todo.pop()
        if descend:
            todo.extend(children.get(current, []))
        try:
            for line in Path(f"/proc/{current}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total_kb += int(line.split()[1])
        except OSError:
            pass
    return total_kb / 1024


def window_decode_speed(page, prompt: str) -> float:
    """Ask in the app's window (after New chat) and read its own decode tokens/s."""
    from tests.support.page import ask

    page.click("#new-chat")
    ask(page, prompt, timeout=600, poll=1.0)  # rare polls: each one takes the page's main thread
    stats = page.text_content("#stats")
    return float(stats.split(" tokens/s")[0].rsplit("· ", 1)[1])


def side_by_side(rounds: int, measures: dict[str, Callable[[], float]]) -> dict[str, list[float]]:
    """Run each measure once per round: a warm-up round that is not counted, then rounds that
    alternate which goes first, so that drift hits every side alike."""
    names = list(measures)
    results: dict[str, list[float]] = {name: [] for name in names}
    for round_number in range(rounds + 1):
        order = names if round_number % 2 else names[::-1]
        for name in order:
            value = measures[name]()
            if round_number:
                results[name].append(value)
    return results
