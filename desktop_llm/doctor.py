"""What this machine can run, and for each problem the fix in one sentence.

`desktop-llm doctor` and the app's Diagnostics panel show the same facts. The CLI also opens the
two windows the app can use, hidden, on a probe page that reports their WebGPU (probe.py).
"""

from __future__ import annotations

import contextlib
import platform
import shutil
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

from desktop_llm import __version__
from desktop_llm.constants import BROWSER_CANDIDATES
from desktop_llm.engines import native
from desktop_llm.hosts.base import missing_display
from desktop_llm.hosts.browser import find_browser
from desktop_llm.hosts.webview import webview_available
from desktop_llm.models.store import ENGINES, ModelStore
from desktop_llm.paths import AppPaths
from desktop_llm.settings import SettingsFile

LOW_DISK = 2 * 1024**3


def collect(paths: AppPaths) -> dict[str, Any]:
    """Facts Python can find on its own (no window needed)."""
    settings = SettingsFile(paths.settings_file).load()
    facts: dict[str, Any] = {
        "app": {"version": __version__, "python": sys.version.split()[0]},
        "os": {
            "system": platform.system(),
            "release": platform.release(),
            "machine": platform.machine(),
        },
        "host_setting": settings.host,
        "display": missing_display(),
        "webview": _webview_facts(),
        "browsers": _browsers(settings.browser),
        "cpu_engine": _cpu_engine(settings.cpu_engine),
        "disk": _disk(paths.data),
        "models": models_report(ModelStore(paths.models)),
        "linked_model_folders": ModelStore(paths.models).linked_folders(),
        "folders": {"data": str(paths.data), "logs": str(paths.logs), "config": str(paths.config)},
        "webgpu": {},
    }
    return facts


def problems(facts: dict[str, Any]) -> list[dict[str, str]]:
    found = []
    if facts.get("display"):
        found.append(
            {
                "problem": facts["display"],
                "fix": "Run the app where a desktop is shown; `desktop-llm doctor` works anywhere.",
            }
        )
    if not facts["webview"]["available"]:
        found.append(
            {
                "problem": "The webview cannot start here.",
                "fix": "Install pywebview with its Qt WebEngine, or use --host browser.",
            }
        )
    if not facts["browsers"]["chosen"]:
        found.append(
            {
                "problem": "No Chromium-family browser was found.",
                "fix": "Install Chromium, Chrome, Edge or Brave to run GPU models.",
            }
        )
    if facts["disk"]["free_bytes"] < LOW_DISK:
        found.append(
            {
                "problem": "Less than 2 GB of disk is free for models.",
                "fix": "Free some disk space before downloading models.",
            }
        )
    for model in facts["models"]:
        if model["verified"] is False:
            found.append(
                {
                    "problem": f"The model {model['id']} is damaged ({model['detail']}).",
                    "fix": "Delete it and download or import it again.",
                }
            )
    for name in facts.get("linked_model_folders", []):
        found.append(
            {
                "problem": f"The model folder {name} is a link to another place; it is left out.",
                "fix": f"Add it with `desktop-llm models import PATH` instead of linking {name}.",
            }
        )
    for host, report in facts["webgpu"].items():
        if report.get("available") is False and host == "browser":
            found.append(
                {
                    "problem": "The browser window has no WebGPU adapter.",
                    "fix": "Update the graphics driver; CPU models still work.",
                }
            )
    return found


_NO_WEBGPU = {"no-webgpu": "this window has no WebGPU", "no-adapter": "WebGPU found no adapter"}


def _webview_facts() -> dict[str, Any]:
    facts: dict[str, Any] = {"available": webview_available()}
    with contextlib.suppress(metadata.PackageNotFoundError):
        facts["pywebview"] = metadata.version("pywebview")
    if platform.system() == "Linux":
        try:
            from PySide6 import QtWebEngineCore
            from PySide6 import __version__ as pyside

            facts["engine"] = "QtWebEngine"
            facts["qt"] = pyside
            facts["chromium"] = QtWebEngineCore.qWebEngineChromiumVersion()
        except Exception:
            facts["engine"] = "QtWebEngine (not installed)"
    else:
        facts["engine"] = {"Windows": "WebView2", "Darwin": "WKWebView"}.get(
            platform.system(), "unknown"
        )
    return facts


def _browsers(preferred: str) -> dict[str, Any]:
    found = {name: shutil.which(name) for name in BROWSER_CANDIDATES}
    return {"found": {k: v for k, v in found.items() if v}, "chosen": find_browser(preferred)}


def _cpu_engine(setting: str) -> dict[str, Any]:
    """The native engine's facts, and in words which engine runs GGUF models, as the page
    chooses it (ui/src/engines/index.js)."""
    facts: dict[str, Any] = {**native.describe(), "setting": setting}
    if setting == "wllama":
        facts["runs_on"] = "wllama, in the window (chosen in Settings)"
    elif facts["available"]:
        facts["runs_on"] = f"llama.cpp native, its {facts['build']} build"
    else:
        facts["runs_on"] = f"wllama, in the window ({facts['reason']})"
    return facts


def _disk(folder: Path) -> dict[str, Any]:
    folder.mkdir(parents=True, exist_ok=True)
    usage = shutil.disk_usage(folder)
    return {"folder": str(folder), "free_bytes": usage.free, "total_bytes": usage.total}


def models_report(store: ModelStore) -> list[dict[str, Any]]:
    models = []
    for entry in store.list():
        verified: bool | None = None
        detail = "no hashes recorded"
        if entry.sha256:
            problems = store.verify(entry.id)
            verified = not problems
            detail = problems[0] if problems else "every file matches its sha256"
        models.append(
            {
                "id": entry.id,
                "engine": entry.engine,
                "format": ENGINES.get(entry.engine, entry.engine),
                "size": entry.size,
                "verified": verified,
                "detail": detail,
            }
        )
    return models


def report_text(facts: dict[str, Any], found: list[dict[str, str]]) -> str:
    lines = [
        f"Desktop LLM {facts['app']['version']} on {facts['os']['system']} "
        f"{facts['os']['release']} ({facts['os']['machine']}), Python {facts['app']['python']}",
        f"Webview: {facts['webview'].get('engine')}"
        + (
            f" {facts['webview'].get('qt')} (Chromium {facts['webview'].get('chromium')})"
            if facts["webview"].get("chromium")
            else ""
        )
        + ("" if facts["webview"]["available"] else " - not available"),
        f"Browsers: {', '.join(facts['browsers']['found']) or 'none'}; "
        f"browser host uses {facts['browsers']['chosen'] or 'none'}",
        f"Disk: {facts['disk']['free_bytes'] / 1e9:.1f} GB free in {facts['disk']['folder']}",
        f"GGUF models run on: {facts['cpu_engine']['runs_on']}",
    ]
    for host, report in facts["webgpu"].items():
        if report.get("available"):
            lines.append(
                f"WebGPU in the {host}: {report.get('vendor')} {report.get('architecture')} "
                f"{report.get('description')}".rstrip()
                + f"; shader-f16 {'yes' if 'shader-f16' in report.get('features', []) else 'no'};"
                f" max buffer {report['limits']['maxBufferSize'] // 2**20} MB"
            )
        else:
            lines.append(
                f"WebGPU in the {host}: none ({report.get('error') or report.get('problem')})"
            )
    for model in facts["models"]:
        state = {True: "verified", False: "DAMAGED", None: "not verifiable"}[model["verified"]]
        lines.append(
            f"Model {model['id']} ({model['format']}, {model['size'] / 1e6:.0f} MB): {state}"
        )
    if found:
        lines.append("Problems:")
        lines += [f"- {p['problem']} Fix: {p['fix']}" for p in found]
    else:
        lines.append("No problems found.")
    return "\n".join(lines)
