"""The installers as a user gets them: build the bundle, install the .deb with dpkg, start the app
as its menu entry does in a clean environment with no Python, and uninstall; run the portable
.tar.gz from a read-only folder. Each run answers with the real built-in model (`--self-test`), on
the llama-server build the installers carry for this CPU.

The Windows and macOS installers cannot be built here: the NSIS script is compiled for real
(makensis runs on Linux) and the workflow that builds all three is linted.
"""

from __future__ import annotations

import configparser
import contextlib
import os
import shlex
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from desktop_llm import __version__, paths
from desktop_llm.constants import EMBEDDED_DIR, EMBEDDED_MODEL_FILE
from desktop_llm.engines import native
from desktop_llm.models import catalog
from tests.support.xvfb import virtual_display

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "desktop-llm"
DESKTOP_ENTRY = Path("/usr/share/applications/desktop-llm.desktop")
# A catalog GGUF entry; the loopback hub serves the built-in model's bytes under its name.
CPU_MODEL, CPU_NAME = "smollm2-360m-instruct-q8_0", "SmolLM2 360M Instruct (Q8_0)"

needs_root = pytest.mark.skipif(
    os.geteuid() != 0, reason="dpkg -i and read-only mounts need root (CI runs as root)"
)


@pytest.fixture(scope="module")
def dist(tmp_path_factory) -> Path:
    """The installers, as `./dev package` builds them; reused from the build cache when nothing
    that goes into them changed since they were last built (packaging/build.py --cache)."""
    out = tmp_path_factory.mktemp("dist")
    cache = paths.build_cache() / "installers"
    result = subprocess.run(
        [sys.executable, "packaging/build.py", "--out", str(out), "--cache", str(cache)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return out


@pytest.fixture(scope="module")
def display() -> Iterator[str]:
    with virtual_display() as value:
        yield value


def clean_env(display: str, home: Path) -> dict[str, str]:
    """What a desktop session passes to a launcher, minus everything of this test's Python."""
    empty_bin = home / "empty-bin"
    empty_bin.mkdir(parents=True, exist_ok=True)
    env = {"DISPLAY": display, "HOME": str(home), "PATH": str(empty_bin)}
    assert shutil.which("python3", path=env["PATH"]) is None
    return env


def files_under(*roots: str) -> set[str]:
    found: set[str] = set()
    for root in roots:
        for folder, dirs, files in os.walk(root):
            found.update(os.path.join(folder, name) for name in dirs + files)
    return found


# The installed app runs GGUF models on its own llama-server where this checkout's does (the same
# builds, and this CPU).
ENGINE = "llama.cpp native (CPU)" if native.available() else "wllama (CPU)"


def self_test(command: list[str], env: dict[str, str], model: str = "SmolLM2 135M Instruct") -> str:
    result = subprocess.run(
        [*command, "--self-test"], env=env, capture_output=True, text=True, timeout=300
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert f"self-test passed: {model}" in output and f"(on {ENGINE}) answered" in output, output
    return output


@pytest.fixture
def deb_installed(dist: Path) -> Iterator[Path]:
    subprocess.run(["dpkg", "--purge", PACKAGE], capture_output=True)  # a leftover of a killed run
    before = files_under("/opt", "/usr")
    deb = next(dist.glob("*.deb"))
    result = subprocess.run(["dpkg", "-i", str(deb)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    try:
        yield deb
    finally:
        subprocess.run(["dpkg", "--purge", PACKAGE], capture_output=True)
        left = files_under("/opt", "/usr") - before
        assert not left, f"uninstall left {sorted(left)[:10]}"


@needs_root
def test_deb_installs_a_menu_entry_that_answers_offline_and_uninstalls_cleanly(
    deb_installed: Path, display: str, tmp_path: Path, hub
):
    fields = subprocess.run(
        ["dpkg-deb", "--field", str(deb_installed), "Depends", "Installed-Size"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "libc6 (>= " in fields and "libgl1-mesa-dri" in fields
    assert Path("/opt/desktop-llm/desktop-llm").is_file()

    validate = subprocess.run(["desktop-file-validate", str(DESKTOP_ENTRY)], capture_output=True)
    assert validate.returncode == 0, validate.stdout
    entry = configparser.ConfigParser(interpolation=None)
    entry.read(DESKTOP_ENTRY)
    section = entry["Desktop Entry"]
    assert section["Name"] == "Desktop LLM"
    assert Path(f"/usr/share/icons/hicolor/256x256/apps/{section['Icon']}.png").is_file()
    exec_line = [part for part in shlex.split(section["Exec"]) if not part.startswith("%")]

    install_before = {path: os.lstat(path).st_mtime_ns for path in files_under("/opt/desktop-llm")}
    home = tmp_path / "home"
    output = self_test(exec_line, clean_env(display, home))
    # Everything the app made went to the user's folders, nothing into its install folder.
    assert (
        home / ".local/share/desktop-llm/models/smollm2-135m-instruct-q4_1/model.json"
    ).is_file()
    install_after = {path: os.lstat(path).st_mtime_ns for path in files_under("/opt/desktop-llm")}
    assert install_after == install_before, output
    # ...and only into the app's own platformdirs folders (Qt would add ~/.pywebview and
    # ~/.cache/<program name> if left alone).
    made = {str(p.relative_to(home)) for p in home.glob("*/*") if p.parent.name != "empty-bin"}
    made |= {str(p.relative_to(home)) for p in home.glob(".local/*/*")}
    assert made <= {
        ".cache/desktop-llm", ".config/desktop-llm", ".local/share", ".local/state",
        ".local/share/desktop-llm", ".local/state/desktop-llm",
    }, made  # fmt: skip

    version = subprocess.run(
        ["/usr/bin/desktop-llm", "--version"], env=clean_env(display, home), capture_output=True
    )
    assert version.stdout.decode().strip() == f"desktop-llm {__version__}"

    # The installed app downloads a model (from the loopback hub) and answers with it.
    entry = catalog.find(CPU_MODEL)
    hub.add_repo(entry.repo, {entry.files[0]: EMBEDDED_DIR / EMBEDDED_MODEL_FILE})
    pull = subprocess.run(
        ["/usr/bin/desktop-llm", "models", "pull", CPU_MODEL],
        env={**clean_env(display, home), "HF_ENDPOINT": hub.url},
        capture_output=True,
        text=True,
    )
    assert pull.returncode == 0, pull.stdout + pull.stderr
    answered = self_test([*exec_line, "--model", CPU_MODEL], clean_env(display, home), CPU_NAME)
    assert "answered" in answered


@contextlib.contextmanager
def read_only_view(folder: Path, mount_point: Path) -> Iterator[Path]:
    mount_point.mkdir()
    subprocess.run(["mount", "--bind", str(folder), str(mount_point)], check=True)
    try:
        subprocess.run(["mount", "-o", "remount,ro,bind", str(mount_point)], check=True)
        yield mount_point
    finally:
        subprocess.run(["umount", str(mount_point)], check=True)


@needs_root
def test_portable_tarball_runs_from_a_read_only_folder(dist: Path, display: str, tmp_path: Path):
    unpacked = tmp_path / "unpacked"
    with tarfile.open(next(dist.glob("*.tar.gz"))) as tar:
        tar.extractall(unpacked, filter="tar")
    with read_only_view(unpacked, tmp_path / "ro") as folder:
        with pytest.raises(OSError):
            (folder / "desktop-llm" / "probe").write_text("x")
        home = tmp_path / "home"
        self_test([str(folder / "desktop-llm" / "desktop-llm")], clean_env(display, home))
    assert (home / ".local/share/desktop-llm/models").is_dir()


def test_windows_installer_script_compiles(dist: Path, tmp_path: Path):
    """makensis builds the real installer from the NSIS script; a tiny stand-in bundle replaces
    the Windows PyInstaller build, which only a Windows machine can make."""
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    (bundle / "desktop-llm.exe").write_bytes(b"MZ stand-in for the Windows bundle")
    target = tmp_path / "DesktopLLM-setup.exe"
    result = subprocess.run(
        [
            "makensis",
            "-WX",
            "-V2",
            f"-DVERSION={__version__}",
            f"-DBUNDLE={bundle}",
            f"-DOUTFILE={target}",
            f"-DICON={dist / 'work' / 'icons' / 'desktop-llm.ico'}",
            str(ROOT / "packaging" / "windows" / "desktop-llm.nsi"),
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert target.read_bytes()[:2] == b"MZ"


def test_installers_workflow_passes_actionlint():
    workflows = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
    assert workflows
    actionlint = Path(sys.executable).parent / "actionlint"
    result = subprocess.run([str(actionlint), *map(str, workflows)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
