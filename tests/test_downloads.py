"""Model downloads with the real huggingface_hub client from a hub served on loopback
(tests/hub.py), into the real store. The hub stands in for huggingface.co and GitHub's raw file
host, which this machine cannot reach; the repositories are generated here with the names of
real catalog entries."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from desktop_llm.models import catalog
from desktop_llm.models.download import Cancelled, Download, DownloadError
from desktop_llm.models.store import ModelStore
from tests.hub import SHARD, add_mlc_repo

ROOT = Path(__file__).resolve().parent.parent
GPU_ID = "SmolLM2-360M-Instruct-q4f32_1-MLC"


def test_full_download_reports_rising_progress_and_registers_the_model(hub, tmp_path):
    entry = add_mlc_repo(hub, GPU_ID)
    store = ModelStore(tmp_path / "models")
    reports = []
    model = Download(store, entry, on_progress=reports.append).run()

    assert [m.id for m in store.list()] == [GPU_ID]
    downloaded = sorted(model.files)
    assert "README.md" not in downloaded and ".gitattributes" not in downloaded
    assert (
        "params_shard_3.bin" in downloaded and entry.model_lib_url.rsplit("/", 1)[1] in downloaded
    )
    done = [r.done for r in reports]
    assert done == sorted(done), "progress went backwards"
    assert reports[-1].state == "done" and reports[-1].done == reports[-1].total
    assert reports[-1].total == sum((store.root / GPU_ID / f).stat().st_size for f in model.files)
    assert not store.partial_downloads()
    assert store.verify(GPU_ID) == []
    # The record the page hands to WebLLM names only the store's files.
    assert model.webllm["model_lib_file"] == entry.model_lib_url.rsplit("/", 1)[1]


def test_every_gpu_catalog_record_resolves_to_local_urls_once_stored(hub, launcher):
    """Each GPU record from the installed web-llm is downloaded from the loopback hub; then every
    URL the page gives WebLLM for it (ui/src/engines/webllm.js localRecord: the model's files and
    its library under /models/<id>/resolve/main/) is answered by the local server."""
    import httpx

    gpu = [e for e in catalog.catalog() if e.engine == "webllm"]
    families = {e.id.split("-q4")[0] for e in gpu}
    assert {"SmolLM2-360M-Instruct", "Llama-3.2-1B-Instruct", "Phi-3.5-mini-instruct"} <= families
    assert all(e.model_lib_url.startswith("https://raw.githubusercontent.com/") for e in gpu)
    session = httpx.Client(base_url=launcher.server.origin)
    session.get(launcher.server.launch_url().removeprefix(launcher.server.origin))
    for entry in gpu:
        add_mlc_repo(hub, entry.id, shards=1)
        model = Download(launcher.store, entry).run()
        assert "model" not in model.webllm and "model_lib" not in model.webllm
        for name in {*model.files, model.webllm["model_lib_file"]}:
            response = session.head(f"/models/{entry.id}/resolve/main/{name}")
            assert response.status_code == 200, (entry.id, name)


def test_killed_download_resumes_fetching_only_unfinished_files(hub, tmp_path):
    add_mlc_repo(hub, GPU_ID, shards=3)
    hub.faults["params_shard_0.bin"] = ["slow"]  # the biggest, first: killed in its middle
    home = tmp_path / "home"
    env = {**os.environ, "DESKTOP_LLM_HOME": str(home)}
    pull = subprocess.Popen(
        [sys.executable, "-m", "desktop_llm", "models", "pull", GPU_ID],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        cwd=ROOT,
    )
    partial = home / "data" / "models" / ".downloads" / GPU_ID
    deadline = time.monotonic() + 30
    while (
        not (partial / "params_shard_0.bin.part").is_file()
        or (partial / "params_shard_0.bin.part").stat().st_size < SHARD // 3
    ):
        assert time.monotonic() < deadline and pull.poll() is None, pull.stdout.read().decode()
        time.sleep(0.05)
    finished_before = {p.name for p in partial.iterdir() if not p.name.endswith(".part")}
    pull.send_signal(signal.SIGKILL)
    pull.wait()
    kept = (partial / "params_shard_0.bin.part").stat().st_size
    assert kept > 0 and "params_shard_1.bin" in finished_before

    hub.requests.clear()
    again = subprocess.run(
        [sys.executable, "-m", "desktop_llm", "models", "pull", GPU_ID],
        env=env,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert again.returncode == 0, again.stdout + again.stderr
    assert "installed" in again.stdout
    for name in finished_before - {"plan.json"}:
        assert not hub.gets(name), f"{name} was fetched again"
    resumed = hub.gets("params_shard_0.bin")
    assert resumed and resumed[0].range == f"bytes={kept}-"
    assert ModelStore(home / "data" / "models").verify(GPU_ID) == []


def test_a_corrupted_file_is_detected_and_fetched_again(hub, tmp_path):
    entry = add_mlc_repo(hub, GPU_ID, shards=2)
    hub.faults["params_shard_1.bin"] = ["corrupt"]
    store = ModelStore(tmp_path / "models")
    Download(store, entry).run()
    assert len(hub.gets("params_shard_1.bin")) == 2
    assert store.verify(GPU_ID) == []


def test_a_file_damaged_every_time_fails_clearly_and_registers_nothing(hub, tmp_path):
    entry = add_mlc_repo(hub, GPU_ID, shards=2)
    hub.faults["params_shard_1.bin"] = ["corrupt", "corrupt"]
    store = ModelStore(tmp_path / "models")
    with pytest.raises(DownloadError, match=r"params_shard_1\.bin .* arrived damaged twice"):
        Download(store, entry).run()
    assert store.list() == []


def test_a_truncated_model_library_is_detected_and_resumed(hub, tmp_path):
    entry = add_mlc_repo(hub, GPU_ID, shards=1)
    lib = entry.model_lib_url.rsplit("/", 1)[1]
    hub.faults[lib] = ["truncate"]
    store = ModelStore(tmp_path / "models")
    Download(store, entry, backoff=0.01).run()
    gets = hub.gets(lib)
    assert len(gets) == 2 and gets[1].range and gets[1].range != "bytes=0-"
    assert store.verify(GPU_ID) == []
    # Truncated later on disk: verify says so.
    path = store.file_path(GPU_ID, lib)
    path.write_bytes(path.read_bytes()[:1000])
    assert store.verify(GPU_ID) == [f"{lib} is damaged (its sha256 has changed)"]


def test_429_and_500_are_retried_with_backoff(hub, tmp_path):
    entry = add_mlc_repo(hub, GPU_ID, shards=1)
    hub.faults["params_shard_0.bin"] = ["429", "500", "500"]
    store = ModelStore(tmp_path / "models")
    Download(store, entry, backoff=0.01).run()
    assert len(hub.gets("params_shard_0.bin")) == 4
    assert store.get(GPU_ID) is not None


def test_persistent_500_ends_with_a_clear_error_keeping_finished_files(hub, tmp_path):
    entry = add_mlc_repo(hub, GPU_ID, shards=2)
    hub.faults["params_shard_0.bin"] = ["500"] * 10
    store = ModelStore(tmp_path / "models")
    with pytest.raises(DownloadError) as failure:
        Download(store, entry, backoff=0.01, workers=1).run()
    assert str(failure.value) == (
        "The hub had a server error (HTTP 500) for params_shard_0.bin; try again later."
    )
    assert store.list() == []
    assert store.partial_downloads() == [GPU_ID]  # kept: the next attempt resumes


def test_a_hub_that_is_down_gives_one_clear_sentence(hub, tmp_path, monkeypatch):
    entry = add_mlc_repo(hub, GPU_ID, shards=1)
    hub.stop()
    store = ModelStore(tmp_path / "models")
    with pytest.raises(DownloadError) as failure:
        Download(store, entry, backoff=0.01).run()
    assert str(failure.value) == (
        f"Could not reach the model hub at {hub.url}: check the internet connection."
    )
    assert store.list() == []


def test_a_missing_repository_is_named(hub, tmp_path):
    entry = catalog.find(GPU_ID)
    with pytest.raises(DownloadError, match="was not found on the hub"):
        Download(ModelStore(tmp_path / "models"), entry).run()


@pytest.fixture
def small_disk(tmp_path: Path):
    """A 16 MB tmpfs standing in for a nearly full disk."""
    mount = tmp_path / "small-disk"
    mount.mkdir()
    if os.geteuid() != 0:
        pytest.fail("mounting a tmpfs needs root (CI runs as root)")
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(mount)], check=True)
    yield mount
    subprocess.run(["umount", str(mount)], check=True)


def test_not_enough_free_space_is_refused_before_downloading(hub, small_disk):
    entry = add_mlc_repo(hub, GPU_ID, shards=6)  # about 19 MB
    store = ModelStore(small_disk / "models")
    with pytest.raises(DownloadError, match=r"needs 1\d\.\d MB more on the disk, but only"):
        Download(store, entry).run()
    assert not hub.gets("params_shard_0.bin")
    assert store.list() == []


def test_disk_filling_up_during_a_download_ends_clearly(hub, small_disk, monkeypatch):
    entry = add_mlc_repo(hub, GPU_ID, shards=2)  # about 6 MB: passes the free-space check
    monkeypatch.setattr("desktop_llm.models.download.DISK_MARGIN", 0)
    filler = small_disk / "other-program.dat"
    hub.on_get.append(lambda name: hub.on_get.clear() or filler.write_bytes(b"\0" * (13 << 20)))
    store = ModelStore(small_disk / "models")
    with pytest.raises(DownloadError) as failure:
        Download(store, entry).run()
    assert str(failure.value) == (
        f"The disk is full at {store.root}; free some space and try again."
    )
    assert store.list() == []
    filler.unlink()
    Download(store, entry).run()  # with space again, it completes
    assert store.verify(GPU_ID) == []


def test_cancel_leaves_nothing_and_delete_frees_the_bytes(hub, tmp_path):
    entry = add_mlc_repo(hub, GPU_ID, shards=3)
    hub.faults["params_shard_0.bin"] = ["slow"]
    store = ModelStore(tmp_path / "models")
    download = Download(store, entry)
    started = threading.Event()
    download.on_progress = lambda p: p.done > SHARD and started.set()
    outcome = []
    worker = threading.Thread(target=lambda: outcome.append(_run(download)))
    worker.start()
    assert started.wait(30)
    download.cancel()
    worker.join(30)
    assert outcome == ["cancelled"]
    assert store.list() == [] and store.partial_downloads() == []

    model = Download(store, entry).run()
    size = sum(store.file_path(GPU_ID, name).stat().st_size for name in model.files)
    manifest = (store.root / GPU_ID / "model.json").stat().st_size
    assert store.delete(GPU_ID).freed == size + manifest
    assert not (store.root / GPU_ID).exists() and store.list() == []


def _run(download: Download) -> str:
    try:
        download.run()
    except Cancelled:
        return "cancelled"
    return "finished"


def cli(home: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "desktop_llm", *args],
        env={**os.environ, "DESKTOP_LLM_HOME": str(home), **env},
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )


def test_cli_pull_shows_progress_then_list_verify_rm(hub, tmp_path):
    add_mlc_repo(hub, GPU_ID, shards=2)
    home = tmp_path / "home"
    pulled = cli(home, "models", "pull", GPU_ID)
    assert pulled.returncode == 0, pulled.stderr
    assert "100%" in pulled.stderr and "every file checked against its hash" in pulled.stdout
    assert GPU_ID in cli(home, "models", "list").stdout
    assert cli(home, "models", "verify", GPU_ID).stdout.endswith("every file matches its hash.\n")

    shard = home / "data/models" / GPU_ID / "params_shard_1.bin"
    shard.write_bytes(b"x" + shard.read_bytes()[1:])
    damaged = cli(home, "models", "verify", GPU_ID)
    assert damaged.returncode == 1
    assert "params_shard_1.bin is damaged" in damaged.stderr

    removed = cli(home, "models", "rm", GPU_ID)
    assert removed.returncode == 0 and "MB freed" in removed.stdout
    assert GPU_ID not in cli(home, "models", "list").stdout
    unknown = cli(home, "models", "pull", "no-such-model")
    assert unknown.returncode == 1 and "is not in the catalog" in unknown.stderr


def test_import_a_gguf_file_and_an_mlc_folder(tmp_path):
    home = tmp_path / "home"
    gguf = tmp_path / "My Model.Q4.gguf"
    gguf.write_bytes(b"GGUF" + os.urandom(5000))
    imported = cli(home, "models", "import", str(gguf))
    assert imported.returncode == 0, imported.stderr
    store = ModelStore(home / "data/models")
    entry = store.get("My-Model.Q4")
    assert entry is not None and entry.engine == "wllama" and store.verify(entry.id) == []

    folder = tmp_path / "Tiny-q4f32_1-MLC"
    folder.mkdir()
    (folder / "mlc-chat-config.json").write_text(
        json.dumps({"quantization": "q4f32_1", "context_window_size": 2048})
    )
    (folder / "tensor-cache.json").write_text(
        json.dumps({"records": [{"dataPath": "params_shard_0.bin"}]})
    )
    (folder / "tokenizer.json").write_text("{}")
    missing_shard = cli(home, "models", "import", str(folder))
    assert "weight files are missing: params_shard_0.bin" in missing_shard.stderr
    (folder / "params_shard_0.bin").write_bytes(os.urandom(1000))
    no_lib = cli(home, "models", "import", str(folder))
    assert no_lib.returncode == 1 and "it has no model library (.wasm)" in no_lib.stderr
    (folder / "tiny-webgpu.wasm").write_bytes(b"\0asm\x01\0\0\0")
    assert cli(home, "models", "import", str(folder)).returncode == 0
    mlc = store.get("Tiny-q4f32_1-MLC")
    assert mlc.engine == "webllm" and mlc.webllm["model_lib_file"] == "tiny-webgpu.wasm"
    assert mlc.context_window == 2048 and mlc.webllm["required_features"] == []

    not_a_model = tmp_path / "notes.txt"
    not_a_model.write_text("hello")
    refused = cli(home, "models", "import", str(not_a_model))
    assert refused.returncode == 1 and "is not a GGUF model file" in refused.stderr
    assert not store.partial_downloads()


def test_compile_without_mlc_llm_says_how_to_install_it(tmp_path):
    result = cli(tmp_path / "home", "models", "compile", str(tmp_path))
    assert result.returncode == 3
    assert "pip install --pre -f https://mlc.ai/wheels" in result.stderr


def test_a_store_that_cannot_be_written_gives_one_clear_sentence(hub, small_disk):
    entry = add_mlc_repo(hub, GPU_ID, shards=1)
    store = ModelStore(small_disk / "models")
    store.root.mkdir()
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    try:
        with pytest.raises(DownloadError) as failure:
            Download(store, entry).run()
    finally:
        subprocess.run(["mount", "-o", "remount,rw", str(small_disk)], check=True)
    assert str(failure.value) == f"Desktop LLM cannot write to {store.root}: permission denied."
