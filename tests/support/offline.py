"""Running the app as a user would, offline: its self-test in a subprocess, and what a model
takes on disk."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

CPU_ID = "smollm2-360m-instruct-q8_0"


def folder_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


def self_test(home: Path, display: str, *args: str, netns: bool = False) -> str:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("HF_", "DESKTOP_LLM_", "QTWEBENGINE_REMOTE"))
    }
    env.update(DISPLAY=display, DESKTOP_LLM_HOME=str(home), LANG="C.UTF-8")
    command = [sys.executable, "-m", "desktop_llm", "--self-test", *args]
    if netns:
        # A new network namespace has only a loopback device, and it starts down.
        command = ["unshare", "--net", "sh", "-c", 'ip link set lo up && exec "$@"', "sh", *command]
    result = subprocess.run(command, env=env, capture_output=True, text=True, cwd=ROOT, timeout=300)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    return output
