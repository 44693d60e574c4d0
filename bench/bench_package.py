"""Installer sizes, what takes the space, and launch to first token of the built bundle vs the
app run from source, side by side in one run (the real Qt window under Xvfb).

    python bench/bench_package.py [--dist dist] [--rounds 3]

Builds the bundle and installers first unless --dist already holds them.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bench_launch import SOURCE_COMMAND, one_launch  # noqa: E402
from bench.common import median, side_by_side  # noqa: E402
from tests.support.xvfb import virtual_display  # noqa: E402

# Parts of the bundle worth naming, by path prefix inside _internal/.
PARTS = {
    "QtWebEngine and Qt (PySide6/)": "PySide6/",
    "built-in model (desktop_llm/_embedded/)": "desktop_llm/_embedded/",
    "the page: wllama, WebLLM, UI (desktop_llm/_ui/)": "desktop_llm/_ui/",
    "Python runtime (libpython, stdlib)": (
        "libpython",
        "base_library.zip",
        "python3",
        "lib-dynload",
    ),
}


def megabytes(size: int) -> str:
    return f"{size / 1e6:,.0f} MB"


def sizes(dist: Path) -> None:
    bundle = dist / "bundle" / "desktop-llm"
    files = [p for p in bundle.rglob("*") if p.is_file() and not p.is_symlink()]
    total = sum(p.stat().st_size for p in files)
    print(f"bundle folder: {megabytes(total)} in {len(files):,} files")
    internal = bundle / "_internal"
    counted = 0
    for label, prefixes in PARTS.items():
        prefixes = (prefixes,) if isinstance(prefixes, str) else prefixes
        size = sum(
            p.stat().st_size
            for p in files
            if p.is_relative_to(internal)
            and p.relative_to(internal).as_posix().startswith(prefixes)
        )
        counted += size
        print(f"  {label}: {megabytes(size)}")
    print(f"  everything else (Python packages, shared libraries): {megabytes(total - counted)}")
    for pattern in ("*.deb", "*.tar.gz"):
        for path in dist.glob(pattern):
            print(f"{path.name}: {megabytes(path.stat().st_size)}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dist", type=Path, default=None)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    dist = args.dist or Path(tempfile.mkdtemp(prefix="bench-dist-"))
    if not (dist / "bundle" / "desktop-llm").is_dir():
        subprocess.run(
            [sys.executable, "packaging/build.py", "--out", str(dist)], cwd=ROOT, check=True
        )
    sizes(dist)

    home = Path(tempfile.mkdtemp(prefix="bench-package-"))
    (home / "config").mkdir(parents=True)
    (home / "config/settings.json").write_text(json.dumps({"temperature": 0, "max_tokens": 32}))
    commands = {"bundle": [str(dist / "bundle/desktop-llm/desktop-llm")], "source": SOURCE_COMMAND}
    with virtual_display() as display:
        results = side_by_side(
            args.rounds,
            {
                name: (lambda c=c: one_launch(home, display, c)["first_token"])
                for name, c in commands.items()
            },
        )
    for name, values in results.items():
        rounded = [round(v, 2) for v in values]
        print(f"launch to first token, {name}: median {median(values):.2f} s  {rounded}")
    ratio = median(results["bundle"]) / median(results["source"])
    print(f"bundle / source, launch to first token: {ratio:.3f}")


if __name__ == "__main__":
    main()
