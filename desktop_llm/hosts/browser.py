"""The browser host: a Chromium-family browser in app mode (`--app=URL`), with its own profile.

Used where the webview has no WebGPU (Linux's Qt webview) and the user wants GPU models. The
profile folder is the app's own, so WebGPU flags and storage never touch the user's browser.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
from pathlib import Path

from desktop_llm.constants import BROWSER_CANDIDATES
from desktop_llm.hosts.base import running_as_root
from desktop_llm.hosts.chromium_flags import merge_flags

_WELL_KNOWN_PATHS = {
    "Windows": [
        r"%ProgramFiles%\Google\Chrome\Application\chrome.exe",
        r"%ProgramFiles(x86)%\Google\Chrome\Application\chrome.exe",
        r"%LocalAppData%\Google\Chrome\Application\chrome.exe",
        r"%ProgramFiles(x86)%\Microsoft\Edge\Application\msedge.exe",
        r"%ProgramFiles%\Microsoft\Edge\Application\msedge.exe",
        r"%ProgramFiles%\BraveSoftware\Brave-Browser\Application\brave.exe",
    ],
    "Darwin": [
        "/Applications/Google Chrome.app/Contents/MacOS/Google Chrome",
        "/Applications/Microsoft Edge.app/Contents/MacOS/Microsoft Edge",
        "/Applications/Brave Browser.app/Contents/MacOS/Brave Browser",
        "/Applications/Chromium.app/Contents/MacOS/Chromium",
    ],
}


def find_browser(preferred: str = "") -> str | None:
    """The browser to use: the one the setting names (a path or a command), else the first found."""
    if preferred:
        if Path(preferred).is_file():
            return preferred
        return shutil.which(preferred)
    for name in BROWSER_CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    for pattern in _WELL_KNOWN_PATHS.get(platform.system(), []):
        path = Path(os.path.expandvars(pattern))
        if path.is_file():
            return str(path)
    return None


def browser_flags(profile: Path, extra: list[str]) -> list[str]:
    flags = [
        f"--user-data-dir={profile}",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-default-apps",
    ]
    if platform.system() == "Linux":
        flags.append("--enable-unsafe-webgpu")  # Chromium on Linux has WebGPU behind this flag
    if running_as_root():
        flags.append("--no-sandbox")  # Chromium refuses to start as root with its sandbox
    return merge_flags(flags, extra)


class BrowserHost:
    name = "browser"

    def __init__(self, executable: str, profile: Path, extra_flags: list[str]):
        self.executable = executable
        self.profile = profile
        self.extra_flags = extra_flags
        self._process: subprocess.Popen | None = None

    def command(self, url: str) -> list[str]:
        return [self.executable, *browser_flags(self.profile, self.extra_flags), f"--app={url}"]

    def run(self, url: str) -> None:
        self.profile.mkdir(parents=True, exist_ok=True)
        self._process = subprocess.Popen(
            self.command(url), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        self._process.wait()

    def close(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()

    def open_file_dialog(self, kind: str = "documents") -> list[str] | None:
        return None  # the page uses its own file input and sends the bytes

    def save_file_dialog(self, suggested_name: str) -> str | None:
        return None  # the page downloads the file instead

    def take_dropped_paths(self, names: list[str]) -> list[str] | None:
        return None  # the page sends the dropped files' bytes instead
