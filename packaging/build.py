"""Build Desktop LLM's bundle and installers for the system this runs on: `./dev package`.

<out>/                                   (default: dist/)
├── bundle/desktop-llm/                  the PyInstaller one-folder bundle
├── desktop-llm-<v>-linux-<arch>.tar.gz  Linux: portable, runs from any (read-only) folder
├── desktop-llm_<v>_<arch>.deb           Linux: installs under /opt/desktop-llm
├── DesktopLLM-<v>-setup.exe             Windows: NSIS per-user installer (needs makensis)
└── DesktopLLM-<v>.dmg                   macOS: "Desktop LLM.app" on a disk image
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(ROOT), str(HERE)]  # the app's version; this folder's helpers

import deb  # noqa: E402
from make_icons import write_icons  # noqa: E402

from desktop_llm import __version__  # noqa: E402

BUNDLE_NAME = "desktop-llm"


def build_bundle(out: Path) -> Path:
    """Run PyInstaller on the spec; returns the one-folder bundle (or the .app on macOS)."""
    work = out / "work"
    icons = write_icons(work / "icons")
    env = {**os.environ, "DESKTOP_LLM_ICONS": str(icons), "DESKTOP_LLM_VERSION": __version__}
    subprocess.run(
        [
            sys.executable,
            "-m",
            "PyInstaller",
            "--noconfirm",
            "--log-level",
            "WARN",
            "--distpath",
            str(out / "bundle"),
            "--workpath",
            str(work / "pyinstaller"),
            str(HERE / "desktop-llm.spec"),
        ],
        check=True,
        env=env,
    )
    if sys.platform == "darwin":
        return out / "bundle" / "Desktop LLM.app"
    bundle = out / "bundle" / BUNDLE_NAME
    if sys.platform.startswith("linux"):
        # QtWebEngine creates this folder at start if it is missing, which would write into the
        # install folder (or fail on a read-only one); shipping it empty makes that a no-op.
        (bundle / "_internal/PySide6/Qt/resources/locales").mkdir(exist_ok=True)
    return bundle


def build_tarball(bundle: Path, out: Path) -> Path:
    target = out / f"desktop-llm-{__version__}-linux-{platform.machine()}.tar.gz"
    with tarfile.open(target, "w:gz", compresslevel=6) as tar:
        tar.add(bundle, arcname=BUNDLE_NAME)
    return target


def build_nsis(bundle: Path, out: Path) -> Path:
    makensis = shutil.which("makensis")
    if makensis is None:
        raise SystemExit("makensis (NSIS) is needed for the Windows installer: choco install nsis")
    target = out / f"DesktopLLM-{__version__}-setup.exe"
    subprocess.run(
        [
            makensis,
            "-V2",
            f"-DVERSION={__version__}",
            f"-DBUNDLE={bundle}",
            f"-DOUTFILE={target}",
            f"-DICON={out / 'work' / 'icons' / 'desktop-llm.ico'}",
            str(HERE / "windows" / "desktop-llm.nsi"),
        ],
        check=True,
    )
    return target


def build_dmg(app: Path, out: Path) -> Path:
    target = out / f"DesktopLLM-{__version__}.dmg"
    stage = out / "work" / "dmg"
    shutil.rmtree(stage, ignore_errors=True)
    stage.mkdir(parents=True)
    shutil.copytree(app, stage / app.name, symlinks=True)
    (stage / "Applications").symlink_to("/Applications")
    target.unlink(missing_ok=True)
    subprocess.run(
        [
            "hdiutil",
            "create",
            "-volname",
            "Desktop LLM",
            "-srcfolder",
            str(stage),
            "-format",
            "UDZO",
            str(target),
        ],
        check=True,
    )
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", type=Path, default=ROOT / "dist", help="output folder (default: dist/)"
    )
    parser.add_argument(
        "--bundle-only", action="store_true", help="stop after the PyInstaller bundle"
    )
    args = parser.parse_args(argv)
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)

    made = [build_bundle(out)]
    if not args.bundle_only:
        if sys.platform.startswith("linux"):
            made += [build_tarball(made[0], out), deb.build_deb(made[0], out, __version__)]
        elif sys.platform == "win32":
            made.append(build_nsis(made[0], out))
        elif sys.platform == "darwin":
            made.append(build_dmg(made[0], out))
    for path in made:
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
