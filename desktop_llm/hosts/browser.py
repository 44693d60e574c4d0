"""The browser host: a Chromium-family browser in app mode (`--app=URL`), with its own profile.

Used where the webview has no WebGPU (Linux's Qt webview) and the user wants GPU models. The
profile folder is the app's own, so WebGPU flags and storage never touch the user's browser.

The launch URL carries a one-time code, and any local user can read a process's command line
(/proc/<pid>/cmdline). So the browser is never given it: it opens a file in the profile folder
(0700) that only this user can read (0600), which sends it on to the launch URL; the file is
deleted once the browser has read it.
"""

from __future__ import annotations

import html
import os
import platform
import secrets
import shutil
import subprocess
import threading
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


# Flags that make Chromium run another program, or drop its protections; refused wherever they
# come from (the settings file included). --no-sandbox is added by the app itself when it must
# run as root, and only then.
REFUSED_FLAGS = (
    "--renderer-cmd-prefix",
    "--gpu-launcher",
    "--utility-cmd-prefix",
    "--browser-subprocess-path",
    "--plugin-launcher",
    "--ppapi-plugin-launcher",
    "--nacl-gdb",
    "--load-extension",
    "--no-sandbox",
    "--disable-setuid-sandbox",
    "--disable-web-security",
    "--user-data-dir",
    "--app",
)


class RefusedFlag(ValueError):
    """A browser flag the app will not pass on; the message says which and why."""


def refused_flag(flag: str) -> str | None:
    """The reason `flag` is refused, or None."""
    name = flag.partition("=")[0].strip().lower()
    if name in REFUSED_FLAGS:
        return (
            f"{name} is refused: it would let the browser run other programs, or weaken its "
            "sandbox or the app's isolation"
        )
    return None


def browser_flags(profile: Path, extra: list[str]) -> list[str]:
    for flag in extra:
        reason = refused_flag(flag)
        if reason:
            raise RefusedFlag(f"The browser flag {flag!r} in your settings: {reason}.")
    flags = [
        f"--user-data-dir={profile}",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-default-apps",
        # The network service in the browser's process instead of one of its own: 19 MB less
        # (docs/benchmarks.md). The page reaches only the app's loopback server.
        "--enable-features=NetworkServiceInProcess2",
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

    def command(self, page: str) -> list[str]:
        """The browser's command line; `page` must hold no secret (see launch_page)."""
        return [self.executable, *browser_flags(self.profile, self.extra_flags), f"--app={page}"]

    def run(self, url: str) -> None:
        private_folder(self.profile)
        page = launch_page(self.profile, url)
        self._process = subprocess.Popen(
            self.command(page.as_uri()), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        # Long enough for the slowest start to read it, then gone (it is also single-use).
        timer = threading.Timer(20.0, page.unlink, kwargs={"missing_ok": True})
        timer.daemon = True
        timer.start()
        try:
            self._process.wait()
        finally:
            timer.cancel()
            page.unlink(missing_ok=True)

    def close(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()

    def open_file_dialog(self, kind: str = "documents") -> list[str] | None:
        return None  # the page uses its own file input and sends the bytes

    def save_file_dialog(self, suggested_name: str) -> str | None:
        return None  # the page downloads the file instead

    def take_dropped_paths(self, names: list[str]) -> list[str] | None:
        return None  # the page sends the dropped files' bytes instead

    def copy_text(self, text: str) -> bool | None:
        return None  # the browser gives the page its clipboard


def private_folder(folder: Path) -> Path:
    """Make `folder` (and its missing parents) and keep it to this user alone (POSIX)."""
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    if os.name == "posix":
        folder.chmod(0o700)
    return folder


def write_private(folder: Path, name: str, text: str) -> Path:
    """A new file only this user can read (0600), in a folder only this user can open."""
    path = private_folder(folder) / name
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
    return path


def launch_page(folder: Path, url: str) -> Path:
    """A private page that sends the browser on to `url` (which holds the launch code)."""
    target = html.escape(url, quote=True)
    return write_private(
        folder,
        f"launch-{secrets.token_hex(8)}.html",
        f'<!doctype html><meta charset="utf-8"><meta http-equiv="refresh" content="0;url={target}">'
        "<title>Desktop LLM</title>",
    )
