"""The code stays ruff clean and the README stays in step with the code."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

from desktop_llm.cli import build_parser

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def _ruff(*args: str) -> subprocess.CompletedProcess:
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent)) or "ruff"
    return subprocess.run([ruff, *args], cwd=ROOT, capture_output=True, text=True)


def test_ruff_lint_is_clean():
    result = _ruff("check", "desktop_llm", "tests", "scripts", "bench", "packaging")
    assert result.returncode == 0, result.stdout


def test_ruff_format_is_clean():
    result = _ruff("format", "--check", "desktop_llm", "tests", "scripts", "bench", "packaging")
    assert result.returncode == 0, result.stdout


def test_every_cli_command_is_documented_in_the_readme():
    parser = build_parser()
    commands = ["desktop-llm"]
    for action in parser._subparsers._group_actions:  # argparse keeps subcommands here
        for name, sub in action.choices.items():
            nested = [a for a in sub._actions if a.__class__.__name__ == "_SubParsersAction"]
            if nested:
                commands += [f"desktop-llm {name} {n}" for n in nested[0].choices]
            else:
                commands.append(f"desktop-llm {name}")
    commands += [
        f"desktop-llm {option}"
        for action in parser._actions
        if action.help != "==SUPPRESS==" and action.dest not in ("help", "version")
        for option in action.option_strings[:1]
    ]
    missing = [c for c in commands if c not in README]
    assert not missing, f"README does not mention: {missing}"


def test_the_page_and_python_name_the_same_bridge_routes():
    """ui/src/bridge.js calls exactly the routes the bridge's modules declare (bridge/*.py)."""
    from desktop_llm.bridge import bridge_routes

    script = (ROOT / "ui/src/bridge.js").read_text(encoding="utf-8")
    called = {
        (method, path.split("?")[0])
        for method, path in re.findall(r"call\('(GET|POST)', [`']([^`'$?]+)", script)
    }
    declared = {(route.method, route.path) for route in bridge_routes()}
    assert called == declared


def test_the_settings_reference_is_made_from_the_schema():
    from desktop_llm.settings import reference_markdown

    written = (ROOT / "docs/settings.md").read_text(encoding="utf-8")
    assert written == reference_markdown(), "run: python scripts/write_settings_doc.py"
