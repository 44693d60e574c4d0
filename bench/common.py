"""Helpers shared by the benchmarks."""

from __future__ import annotations

import os
import socket
import statistics
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def median(values: list[float]) -> float:
    return statistics.median(values)


def free_port() -> int:
    """A loopback port free at the moment of asking."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def descendants(pid: int) -> list[int]:
    """The process and all its descendants (Linux /proc)."""
    children: dict[int, list[int]] = {}
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(parent, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        found.append(todo.pop())
        todo.extend(children.get(found[-1], []))
    return found


def pss_mb(pid: int) -> float:
    """Proportional set size of one process in MB: pages shared between processes (Chromium's,
    for one) are split between them, so a sum over processes counts each page once."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def tree_pss_mb(pid: int) -> float:
    """PSS in MB of a process and all its descendants."""
    return sum(pss_mb(each) for each in descendants(pid))


def app_processes(root: int) -> list[tuple[int, str, bytes]]:
    """(pid, part, command line) of `root` and its descendants; part: "python" (root itself),
    "engine" (the native engine, llama-server), "renderer" (a page's renderer) or "window"
    (everything else: the browser's or Qt's other processes, or a test driver)."""
    found = []
    for pid in descendants(root):
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if pid == root:
            part = "python"
        elif b"llama-server" in command:
            part = "engine"
        elif _is_renderer(pid, command):
            part = "renderer"
        else:
            part = "window"
        found.append((pid, part, command))
    return found


def _is_renderer(pid: int, command: bytes) -> bool:
    """Chromium names its renderers; QtWebEngine's keep the name of the zygote they were forked
    from, so there a renderer is a zygote's child that calls itself a zygote."""
    if b"--type=renderer" in command:
        return True
    try:
        parent = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1]
        parent_command = Path(f"/proc/{parent}/cmdline").read_bytes()
    except OSError:
        return False
    return b"--type=zygote" in command and b"--type=zygote" in parent_command


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
