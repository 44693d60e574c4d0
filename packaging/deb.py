"""The Linux .deb: the bundle under /opt, a menu entry with an icon, and a `desktop-llm` command.

    /opt/desktop-llm/                                   the PyInstaller bundle, read-only
    /usr/bin/desktop-llm -> /opt/desktop-llm/desktop-llm
    /usr/share/applications/desktop-llm.desktop         the double-click launcher
    /usr/share/icons/hicolor/256x256/apps/desktop-llm.png
    /usr/share/doc/desktop-llm/copyright

Depends is worked out from the bundle itself: every system library its ELF files link to and
does not carry (what dpkg-shlibdeps does for a package built from source), plus what Qt loads
at run time without linking (Mesa drivers, fonts, keyboard data).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

HERE = Path(__file__).resolve().parent
INSTALL_DIR = "opt/desktop-llm"
# Loaded with dlopen or read as data by Qt and Chromium, so no ELF file names them.
RUNTIME_DEPENDS = [
    "libgl1-mesa-dri",
    "libglx-mesa0",
    "libegl-mesa0",
    "fontconfig",
    "fonts-dejavu-core | fonts-liberation2 | fonts-freefont-ttf",
    "xkb-data",
]
COPYRIGHT = """Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: desktop-llm

Files: *
License: Apache-2.0
Comment: Includes Qt (LGPL-3.0), Chromium (BSD-3-Clause and others), Python (PSF-2.0),
 and SmolLM2-135M-Instruct (Apache-2.0). On Debian systems, the Apache License is in
 /usr/share/common-licenses/Apache-2.0.
"""


def build_deb(bundle: Path, out: Path, version: str) -> Path:
    arch = subprocess.run(
        ["dpkg", "--print-architecture"], capture_output=True, text=True, check=True
    ).stdout.strip()
    stage = out / "work" / "deb"
    shutil.rmtree(stage, ignore_errors=True)
    shutil.copytree(bundle, stage / INSTALL_DIR, symlinks=True)
    _install(
        stage, "usr/share/applications/desktop-llm.desktop", HERE / "linux" / "desktop-llm.desktop"
    )
    icon = out / "work" / "icons" / "desktop-llm.png"
    _install(stage, "usr/share/icons/hicolor/256x256/apps/desktop-llm.png", icon)
    (stage / "usr/share/doc/desktop-llm").mkdir(parents=True)
    (stage / "usr/share/doc/desktop-llm/copyright").write_text(COPYRIGHT)
    (stage / "usr/bin").mkdir(parents=True)
    (stage / "usr/bin/desktop-llm").symlink_to(f"/{INSTALL_DIR}/desktop-llm")

    depends = [*_linked_system_packages(stage / INSTALL_DIR), *RUNTIME_DEPENDS]
    control = stage / "DEBIAN"
    control.mkdir()
    (control / "control").write_text(
        f"""Package: desktop-llm
Version: {version}
Architecture: {arch}
Maintainer: Desktop LLM <maintainers@desktop-llm.invalid>
Installed-Size: {_size_kib(stage)}
Depends: {", ".join(depends)}
Section: utils
Priority: optional
Homepage: https://github.com/desktop-llm/desktop-llm
Description: private, offline chat with a language model on this computer
 Desktop LLM runs a language model on your own machine: chat, drop documents
 to summarise them, keep a searchable history. Nothing is sent anywhere.
 A small model is built in, so it works offline from the first launch.
"""
    )
    for path in stage.rglob("*"):
        if not path.is_symlink():
            path.chmod(0o755 if path.is_dir() or os.access(path, os.X_OK) else 0o644)
    target = out / f"desktop-llm_{version}_{arch}.deb"
    subprocess.run(
        ["dpkg-deb", "--root-owner-group", "-Zzstd", "-z6", "--build", str(stage), str(target)],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return target


def _install(stage: Path, relative: str, source: Path) -> None:
    target = stage / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(source, target)


def _size_kib(folder: Path) -> int:
    return sum(p.lstat().st_size for p in folder.rglob("*")) // 1024


def _linked_system_packages(bundle: Path) -> list[str]:
    """The Debian packages owning the libraries the bundle's ELF files need but do not carry."""
    elf_files = [p for p in bundle.rglob("*") if p.is_file() and not p.is_symlink() and _is_elf(p)]
    carried = sorted({str(p.parent) for p in elf_files})
    env = {**os.environ, "LD_LIBRARY_PATH": ":".join(carried)}
    needed: set[str] = set()
    glibc = _glibc_version()
    for path in elf_files:
        result = subprocess.run(["ldd", str(path)], capture_output=True, text=True, env=env)
        missing = re.findall(r"(\S+) => not found", result.stdout)
        if missing:
            raise SystemExit(f"{path.relative_to(bundle)} needs {', '.join(missing)}, not bundled")
        for match in re.finditer(r"=> (/\S+)", result.stdout):
            library = match.group(1)
            if not library.startswith(str(bundle)):
                needed.add(os.path.realpath(library))
    packages: set[str] = set()
    for library in sorted(needed):
        owner = _owner(library)
        if owner:
            packages.add(owner)
    packages.discard("libc6")
    return [f"libc6 (>= {glibc})", *sorted(packages)]


def _owner(path: str) -> str | None:
    """The package that owns a file; Debian's merged /usr lists some under /lib only."""
    candidates = [path, path.removeprefix("/usr")] if path.startswith("/usr/lib") else [path]
    for candidate in candidates:
        result = subprocess.run(["dpkg", "-S", candidate], capture_output=True, text=True)
        if result.returncode == 0:
            return result.stdout.split(":", 1)[0].strip()
    return None


def _is_elf(path: Path) -> bool:
    with path.open("rb") as file:
        return file.read(4) == b"\x7fELF"


def _glibc_version() -> str:
    return os.confstr("CS_GNU_LIBC_VERSION").split()[1]
