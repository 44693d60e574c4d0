"""Build Desktop LLM's bundle and installers for the system this runs on: `./dev package`.

<out>/                                   (default: dist/)
├── bundle/desktop-llm/                  the PyInstaller one-folder bundle
├── desktop-llm-<v>-linux-<arch>.tar.gz  Linux: portable, runs from any (read-only) folder
├── desktop-llm_<v>_<arch>.deb           Linux: installs under /opt/desktop-llm
├── DesktopLLM-<v>-setup.exe             Windows: NSIS per-user installer (needs makensis)
└── DesktopLLM-<v>.dmg                   macOS: "Desktop LLM.app" on a disk image

With --cache DIR (the tests use it), what a build made is kept in DIR/<key>/, the key being a
hash of everything that decides its bytes (see `input_key`); a build with the same inputs takes
it from there instead of running PyInstaller again, and any change to them builds afresh.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import shutil
import subprocess
import sys
import tarfile
from importlib import metadata
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(ROOT), str(HERE)]  # the app's version; this folder's helpers

import deb  # noqa: E402
from make_icons import write_icons  # noqa: E402

from desktop_llm import __version__  # noqa: E402

BUNDLE_NAME = "desktop-llm"
KEEP_CACHED_BUILDS = 2


def input_key() -> str:
    """A hash of what decides the installers' bytes: the app's package (page, built-in model and
    all), this folder (spec, scripts, desktop files), every installed distribution's version, and
    the Python and system that build them. Paths are taken relative, so any clone agrees."""
    digest = hashlib.sha256()
    for folder in (ROOT / "desktop_llm", HERE):
        for path in sorted(folder.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                digest.update(path.relative_to(ROOT).as_posix().encode() + b"\0")
                digest.update(path.read_bytes())
    installed = sorted(f"{d.metadata['Name']}=={d.version}" for d in metadata.distributions())
    digest.update("\n".join(installed).encode())
    digest.update(f"{sys.version}|{platform.system()}|{platform.machine()}".encode())
    return digest.hexdigest()[:20]


def _link(source: Path, target: Path) -> None:
    """Copy a file or folder by hard links where the file system allows (they are only read)."""

    def link(src: str, dst: str) -> None:
        try:
            os.link(src, dst)
        except OSError:
            shutil.copy2(src, dst)

    if source.is_dir():
        shutil.copytree(source, target, symlinks=True, copy_function=link, dirs_exist_ok=True)
    else:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.unlink(missing_ok=True)
        link(str(source), str(target))


def _from_cache(cache: Path, key: str, out: Path) -> bool:
    kept = cache / key
    if not (kept / "complete").is_file():
        return False
    for item in kept.iterdir():
        if item.name != "complete":
            _link(item, out / item.name)
    return True


def _into_cache(cache: Path, key: str, out: Path, keep: list[Path]) -> None:
    """Keep `keep` (paths inside `out`) under the key: staged, then renamed, so a half copy
    never counts; only the newest builds stay."""
    cache.mkdir(parents=True, exist_ok=True)
    staging = cache / f".{key}-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    for path in keep:
        _link(path, staging / path.relative_to(out))
    (staging / "complete").write_text(key)
    try:
        staging.rename(cache / key)
    except OSError:  # another build kept the same key first
        shutil.rmtree(staging, ignore_errors=True)
    builds = sorted(
        (p for p in cache.iterdir() if (p / "complete").is_file()), key=lambda p: p.stat().st_mtime
    )
    for old in builds[:-KEEP_CACHED_BUILDS]:
        shutil.rmtree(old, ignore_errors=True)


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
    parser.add_argument(
        "--cache", type=Path, help="keep builds here by their inputs' hash, and reuse them"
    )
    args = parser.parse_args(argv)
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)

    key = input_key() if args.cache and not args.bundle_only else None
    if key and _from_cache(args.cache, key, out):
        print(f"reused the build of these inputs (key {key}) from {args.cache}")
        for path in sorted(out.iterdir()):
            print(path)
        return 0
    made = [build_bundle(out)]
    if not args.bundle_only:
        if sys.platform.startswith("linux"):
            made += [build_tarball(made[0], out), deb.build_deb(made[0], out, __version__)]
        elif sys.platform == "win32":
            made.append(build_nsis(made[0], out))
        elif sys.platform == "darwin":
            made.append(build_dmg(made[0], out))
    if key:
        # The bundle's folder, the installers, and their icons (the NSIS script takes the .ico).
        keep = [out / "bundle", *made[1:], out / "work" / "icons"]
        _into_cache(args.cache, key, out, keep)
    for path in made:
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
