"""The model store, measured side by side in one run:

1. download throughput from the same loopback hub: ours (huggingface_hub's session, hashes
   checked, as many files at a time as the app uses) / curl (as many at a time, nothing checked);
2. serving a 1 GB model file from the local server to the page (fetched and read in headless
   Chromium) / a raw read of the same file, each starting with the file out of the page cache;
3. growth of the webview's profile when the real Qt window loads a model / the model's size.

    python bench/bench_models.py [--rounds 3] [--files 8] [--file-mb 64]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import median, side_by_side
from desktop_llm.models.catalog import CatalogEntry
from desktop_llm.models.download import WORKERS, Download
from desktop_llm.models.store import ModelEntry, ModelStore
from tests.hub import Hub

REPO = "bench/many-shards"


def drop_from_page_cache(path: Path) -> None:
    with path.open("rb") as data:
        os.fsync(data.fileno())
        os.posix_fadvise(data.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)


def download_ours(hub: Hub, work: Path, names: list[str]) -> float:
    store = ModelStore(work / "ours")
    shutil.rmtree(store.root, ignore_errors=True)
    entry = CatalogEntry(
        id="bench", name="bench", engine="wllama", repo=REPO, files=tuple(names),
        download_size=0, memory_mb=0, context_window=0, license="",
    )  # fmt: skip
    started = time.perf_counter()
    model = Download(store, entry, endpoint=hub.url).run()
    elapsed = time.perf_counter() - started
    return model.size / elapsed / 1e6


def download_curl(hub: Hub, work: Path, names: list[str]) -> float:
    target = work / "curl"
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    parallel = str(WORKERS)
    command = [
        "curl",
        "--silent",
        "--no-progress-meter",
        "--fail",
        "--parallel",
        "--parallel-max",
        parallel,
    ]
    for name in names:
        command += ["-o", str(target / name), f"{hub.url}/{REPO}/resolve/main/{name}"]
    started = time.perf_counter()
    subprocess.run(command, check=True)
    elapsed = time.perf_counter() - started
    return sum((target / n).stat().st_size for n in names) / elapsed / 1e6


def bench_download(rounds: int, files: int, file_mb: int) -> None:
    work = Path(tempfile.mkdtemp(prefix="bench-download-"))
    hub = Hub(work / "hub").start()
    names = [f"shard_{i}.bin" for i in range(files)]
    hub.add_repo(REPO, {name: os.urandom(file_mb << 20) for name in names})
    for path in hub.repos[REPO].files.values():
        hub.hashes(path)  # the hub's own hashing is not part of either side
    results = side_by_side(
        rounds,
        {
            "ours": lambda: download_ours(hub, work, names),
            "curl": lambda: download_curl(hub, work, names),
        },
    )
    hub.stop()
    shutil.rmtree(work)
    ours, curl = median(results["ours"]), median(results["curl"])
    print(f"download, {files} x {file_mb} MiB from the loopback hub, {WORKERS} files at a time:")
    print(f"  ours {ours:.0f} MB/s {[round(v) for v in results['ours']]}")
    print(f"  curl {curl:.0f} MB/s {[round(v) for v in results['curl']]}")
    print(f"  ours / curl: {ours / curl:.3f}")


class _ZeroCopyHandler(SimpleHTTPRequestHandler):
    """The fastest server Python has (sendfile), as the page-side baseline."""

    protocol_version = "HTTP/1.1"

    def copyfile(self, source, destination) -> None:
        self.connection.sendfile(source)

    def log_message(self, *args) -> None:
        pass


READ_IN_PAGE = """async (url) => {
    const started = performance.now();
    const reader = (await fetch(url)).body.getReader();
    let bytes = 0;
    for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        bytes += value.length;
    }
    return bytes / ((performance.now() - started) / 1000) / 1e6;
}"""


def bench_serving(rounds: int) -> None:
    """Four readers of the same 1 GB file, each after the file is dropped from the page cache:
    a raw read; curl from our server (the server's own cost); the page from our server; the page
    from a zero-copy sendfile server (what the browser itself can take in)."""
    from playwright.sync_api import sync_playwright

    from desktop_llm.launcher import Launcher
    from desktop_llm.paths import AppPaths
    from tests.conftest import open_app_page

    home = Path(tempfile.mkdtemp(prefix="bench-serve-"))
    app = Launcher(AppPaths.under(home), host_choice="browser")
    server = app.start_server()
    folder = app.store.root / "one-gigabyte"
    folder.mkdir()
    big = folder / "model.gguf"
    with big.open("wb") as out:
        for _ in range(1024):
            out.write(os.urandom(1 << 20))
    (folder / "index.html").write_text("<!doctype html><title>baseline</title>")
    app.store.write_manifest(
        ModelEntry("one-gigabyte", "1 GB", "wllama", ["model.gguf"], big.stat().st_size)
    )
    model_url = "/models/one-gigabyte/resolve/main/model.gguf"
    baseline = ThreadingHTTPServer(("127.0.0.1", 0), partial(_ZeroCopyHandler, directory=folder))
    threading.Thread(target=baseline.serve_forever, daemon=True).start()
    jar = home / "cookies.txt"
    subprocess.run(
        ["curl", "-s", "-o", "/dev/null", "-c", str(jar), server.launch_url()], check=True
    )

    def raw_read() -> float:
        drop_from_page_cache(big)
        started = time.perf_counter()
        with big.open("rb", buffering=0) as data:
            while data.read(8 << 20):
                pass
        return big.stat().st_size / (time.perf_counter() - started) / 1e6

    def curl_from_server() -> float:
        drop_from_page_cache(big)
        out = subprocess.run(
            ["curl", "-s", "-b", str(jar), "-o", "/dev/null", "-w", "%{speed_download}",
             server.origin + model_url],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        return float(out.stdout) / 1e6

    with sync_playwright() as driver:
        page, context = open_app_page(driver, app, home / "profile")
        other = context.new_page()
        other.goto(f"http://127.0.0.1:{baseline.server_address[1]}/index.html")

        def page_from_server() -> float:
            drop_from_page_cache(big)
            return page.evaluate(READ_IN_PAGE, model_url)

        def page_from_zero_copy() -> float:
            drop_from_page_cache(big)
            return other.evaluate(READ_IN_PAGE, "/model.gguf")

        results = side_by_side(
            rounds,
            {
                "raw disk read": raw_read,
                "our server to curl": curl_from_server,
                "our server to the page": page_from_server,
                "sendfile server to the page": page_from_zero_copy,
            },
        )
        context.close()
    baseline.shutdown()
    server.stop()
    shutil.rmtree(home)
    print("1 GB model file, dropped from the page cache before each read:")
    for name, values in results.items():
        print(f"  {name:28} {median(values):6.0f} MB/s {[round(v) for v in values]}")
    raw = median(results["raw disk read"])
    for name in ("our server to curl", "our server to the page"):
        print(f"  {name} / raw disk read: {median(results[name]) / raw:.3f}")
    page_ratio = median(results["our server to the page"]) / median(
        results["sendfile server to the page"]
    )
    print(f"  our server / sendfile server, both to the page: {page_ratio:.3f}")


def bench_profile_growth() -> None:
    """The real Qt window loads a downloaded GGUF model; how much its profile grows."""
    from desktop_llm.constants import EMBEDDED_DIR, EMBEDDED_MODEL_FILE
    from desktop_llm.models import catalog
    from desktop_llm.paths import AppPaths
    from tests.test_offline import CPU_ID, folder_size, self_test
    from tests.xvfb import virtual_display

    work = Path(tempfile.mkdtemp(prefix="bench-profile-"))
    hub = Hub(work / "hub").start()
    entry = catalog.find(CPU_ID)
    hub.add_repo(entry.repo, {entry.files[0]: EMBEDDED_DIR / EMBEDDED_MODEL_FILE})
    paths = AppPaths.under(work / "home")
    Download(ModelStore(paths.models), entry, endpoint=hub.url).run()
    hub.stop()
    with virtual_display() as display:
        self_test(work / "home", display)  # the built-in model first: the profile exists
        before = folder_size(paths.webview_storage)
        self_test(work / "home", display, "--model", CPU_ID)
        growth = folder_size(paths.webview_storage) - before
    size = ModelStore(paths.models).get(CPU_ID).size
    shutil.rmtree(work)
    print(f"webview profile growth on loading a {size / 1e6:.0f} MB model: {growth / 1e3:.0f} kB")
    print(f"  growth / model size: {growth / size:.5f}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--files", type=int, default=8)
    parser.add_argument("--file-mb", type=int, default=64)
    parser.add_argument("--only", choices=["download", "serving", "profile"])
    args = parser.parse_args()
    if args.only in (None, "download"):
        bench_download(args.rounds, args.files, args.file_mb)
    if args.only in (None, "serving"):
        bench_serving(args.rounds)
    if args.only in (None, "profile"):
        bench_profile_growth()


if __name__ == "__main__":
    main()
