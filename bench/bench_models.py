"""The model store, measured side by side in one run:

1. download throughput from the same loopback hub, whole processes from start to exit: the
   app's `models pull` (hashes checked, files fsynced, installed) / curl fetching as many files
   at a time followed by sha256sum (the honest comparison: both hash) / bare curl; and the CPU
   seconds per GiB of each;
2. serving a 1 GB model file from the local server to the page (fetched and read in headless
   Chromium) / a raw read of the same file, each starting with the file out of the page cache;
3. growth of the webview's profile when the real Qt window loads a model / the model's size.

    python bench/bench_models.py [--rounds 5] [--files 4] [--file-mb 256] [--only download]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
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
from desktop_llm.models import catalog
from desktop_llm.models.download import WORKERS, Download
from desktop_llm.models.store import ModelEntry, ModelStore
from tests.hub import Hub

REPO = "bench/many-shards"
MODEL_ID = "SmolLM2-360M-Instruct-q4f32_1-MLC"  # a catalog name for the generated shards


def drop_from_page_cache(path: Path) -> None:
    with path.open("rb") as data:
        os.fsync(data.fileno())
        os.posix_fadvise(data.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)


def _child_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _timed(command: list[str], **kwargs) -> tuple[float, float]:
    """Wall seconds and CPU seconds of a command, start to exit."""
    cpu = _child_cpu()
    started = time.perf_counter()
    subprocess.run(
        command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kwargs
    )
    return time.perf_counter() - started, _child_cpu() - cpu


def pull_process(hub: Hub, work: Path, size: int) -> tuple[float, float]:
    """The whole `desktop-llm models pull`, as a user runs it: start, list, fetch, hash, fsync,
    install, exit."""
    home = work / "home"
    shutil.rmtree(home, ignore_errors=True)
    env = {**os.environ, "DESKTOP_LLM_HOME": str(home), "HF_ENDPOINT": hub.url,
           "DESKTOP_LLM_MODEL_LIB_ENDPOINT": hub.url}  # fmt: skip
    wall, cpu = _timed([sys.executable, "-m", "desktop_llm", "models", "pull", MODEL_ID], env=env)
    return size / wall / 1e6, cpu


def curl_files(
    hub: Hub, work: Path, names: list[str], size: int, check: bool
) -> tuple[float, float]:
    """curl fetching the same files as many at a time, then (check) sha256sum of them."""
    target = work / "curl"
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    command = [
        "curl",
        "--silent",
        "--no-progress-meter",
        "--fail",
        "--parallel",
        "--parallel-max",
        str(WORKERS),
    ]
    for name in names:
        command += ["-o", str(target / name), f"{hub.url}/{REPO}/resolve/main/{name}"]
    cpu = _child_cpu()
    started = time.perf_counter()
    subprocess.run(command, check=True)
    if check:
        subprocess.run(["sha256sum", *names], cwd=target, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - started
    return size / wall / 1e6, _child_cpu() - cpu


def bench_download(rounds: int, files: int, file_mb: int) -> None:
    work = Path(tempfile.mkdtemp(prefix="bench-download-"))
    hub = Hub(work / "hub").start()
    names = [f"params_shard_{i}.bin" for i in range(files)]
    repo_files: dict[str, bytes | Path] = {}
    for name in names:
        path = work / "source" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as out:
            for _ in range(file_mb):
                out.write(os.urandom(1 << 20))
        repo_files[name] = path
    records = [{"dataPath": n, "nbytes": file_mb << 20, "records": []} for n in names]
    repo_files["tensor-cache.json"] = json.dumps({"records": records}).encode()
    repo_files["mlc-chat-config.json"] = json.dumps({"context_window_size": 4096}).encode()
    repo_files["tokenizer.json"] = b"{}"
    entry = catalog.find(MODEL_ID)
    assert entry is not None
    hub.add_repo(entry.repo, repo_files)
    hub.add_repo(REPO, {n: repo_files[n] for n in names})
    hub.add_lib(entry.model_lib_url.rsplit("/", 1)[1], b"\0asm\x01\0\0\0")
    for path in hub.repos[REPO].files.values():
        hub.hashes(path)  # the hub's own hashing is not part of any side
    size = files * (file_mb << 20)
    cpu: dict[str, list[float]] = {"pull": [], "curl+sha256sum": [], "curl": []}

    def measure(name: str, run) -> float:
        speed, seconds = run()
        cpu[name].append(seconds / (size / 2**30))
        return speed

    results = side_by_side(
        rounds,
        {
            "pull": lambda: measure("pull", lambda: pull_process(hub, work, size)),
            "curl+sha256sum": lambda: measure(
                "curl+sha256sum", lambda: curl_files(hub, work, names, size, True)
            ),
            "curl": lambda: measure("curl", lambda: curl_files(hub, work, names, size, False)),
        },
    )
    hub.stop()
    shutil.rmtree(work)
    print(
        f"download, {files} x {file_mb} MiB from the loopback hub, {WORKERS} files at a time, "
        "whole processes start to exit:"
    )
    for name, values in results.items():
        per_gib = median(cpu[name][1:])  # the warm-up round is not counted
        print(f"  {name:15} {median(values):5.0f} MB/s {[round(v) for v in values]}, "
              f"{per_gib:.2f} CPU s/GiB")  # fmt: skip
    pull = median(results["pull"])
    print(f"  pull / curl+sha256sum: {pull / median(results['curl+sha256sum']):.3f}")
    print(f"  pull / curl: {pull / median(results['curl']):.3f}")


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
    from tests.support.page import open_app_page

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
    from tests.support.offline import CPU_ID, folder_size, self_test
    from tests.support.xvfb import virtual_display

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
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--files", type=int, default=4)
    parser.add_argument("--file-mb", type=int, default=256)
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
