"""`desktop-llm doctor`'s window probes: the real browser host (headless) and the real webview
(hidden) open the app's probe page, which reports what WebGPU it finds there. They start the app
itself, so they live here rather than in doctor.py, which only gathers and explains facts."""

from __future__ import annotations

import contextlib
import secrets
import subprocess
import sys
import time
from typing import Any

from desktop_llm.doctor import models_report
from desktop_llm.hosts.browser import browser_flags, launch_page, write_private
from desktop_llm.launcher import Launcher
from desktop_llm.models.store import ModelStore
from desktop_llm.paths import AppPaths

PROBE_TIMEOUT = 45.0


def probe_windows(paths: AppPaths, facts: dict[str, Any]) -> None:
    """Open the browser host (headless) and the webview (hidden) on the probe page."""
    launcher = Launcher(paths, host_choice="browser")
    launcher.settings = launcher.settings_file.load()
    server = launcher.start_server(port=0)
    try:
        browser = facts["browsers"]["chosen"]
        if browser:
            facts["webgpu"]["browser"] = _probe(
                launcher,
                "browser",
                [
                    browser,
                    "--headless=new",
                    *browser_flags(paths.cache / "doctor-profile", launcher.settings.browser_flags),
                    # Never the launch URL itself on a command line (see hosts/browser.py).
                    launch_page(
                        paths.cache / "doctor-launch", server.launch_url("probe-browser")
                    ).as_uri(),
                ],
            )
        if facts["webview"]["available"] and not facts["display"]:
            facts["webgpu"]["webview"] = _probe(
                launcher,
                "webview",
                [
                    *app_command(),
                    "--probe-window",
                    str(
                        write_private(
                            paths.cache / "doctor-launch",
                            f"probe-{secrets.token_hex(8)}.url",
                            server.launch_url("probe-webview"),
                        )
                    ),
                    str(paths.cache / "doctor-webview"),
                ],
            )
    finally:
        server.stop()
    facts["models"] = models_report(
        ModelStore(paths.models)
    )  # the server provisioned the embedded one


def app_command() -> list[str]:
    """How to start this app again: the bundle's own executable once frozen by PyInstaller."""
    return (
        [sys.executable] if getattr(sys, "frozen", False) else [sys.executable, "-m", "desktop_llm"]
    )


def _probe(launcher, host: str, command: list[str]) -> dict[str, Any]:
    bridge = launcher.bridge
    bridge.probes.pop(host, None)
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + PROBE_TIMEOUT
    try:
        while host not in bridge.probes:
            if process.poll() is not None or time.monotonic() > deadline:
                return {"available": None, "error": f"the {host} window did not report"}
            time.sleep(0.1)
        return bridge.probes[host]
    finally:
        process.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(10)
