"""A virtual X screen for real windows in tests and benchmarks."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def virtual_display() -> Iterator[str]:
    """Start Xvfb on a free display number and yield the DISPLAY value.

    Xvfb picks the number itself and writes it to a pipe (-displayfd), so test processes
    running side by side never race for the same display."""
    read_end, write_end = os.pipe()
    xvfb = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_end), "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        pass_fds=(write_end,),
    )
    os.close(write_end)
    try:
        with os.fdopen(read_end, "rb") as pipe:
            number = pipe.readline().strip()  # written once the server accepts connections
        if not number or xvfb.poll() is not None:
            raise RuntimeError("Xvfb did not start")
        yield f":{number.decode()}"
    finally:
        xvfb.terminate()
        try:
            xvfb.wait(10)
        except subprocess.TimeoutExpired:
            xvfb.kill()
            xvfb.wait()
