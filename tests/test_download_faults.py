"""Downloads the way they break in real life, with the real huggingface_hub client against the
loopback hub (tests/hub.py, standing in for huggingface.co, which this machine cannot reach):
two processes pulling one model, Ctrl-C and SIGTERM, stalled connections, files damaged
between a kill and a resume, a hub that moved, gated repositories, incomplete repositories,
full and read-only disks, and a window told about a model another process installed."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from desktop_llm.models.download import Cancelled, Download, DownloadError
from desktop_llm.models.store import ModelStore
from tests.hub import SHARD, Hub, add_mlc_repo

ROOT = Path(__file__).resolve().parent.parent
GPU_ID = "SmolLM2-360M-Instruct-q4f32_1-MLC"


def start_pull(home: Path, model_id: str = GPU_ID, **env: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "desktop_llm", "models", "pull", model_id],
        env={**os.environ, "DESKTOP_LLM_HOME": str(home), **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )


def cli(home: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "desktop_llm", *args],
        env={**os.environ, "DESKTOP_LLM_HOME": str(home)},
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )


def wait_for_part(folder: Path, name: str, at_least: int, process=None, timeout=30.0) -> None:
    part = folder / f"{name}.part"
    deadline = time.monotonic() + timeout
    while not part.is_file() or part.stat().st_size < at_least:
        assert time.monotonic() < deadline, f"{part} never reached {at_least} bytes"
        assert process is None or process.poll() is None, process.communicate()
        time.sleep(0.02)


def partial_folder(home: Path) -> Path:
    return home / "data" / "models" / ".downloads" / GPU_ID


def test_two_pulls_of_one_model_at_once_install_it_once_and_whole(hub, tmp_path):
    add_mlc_repo(hub, GPU_ID, shards=2)
    hub.rate = 12 << 20  # throttled: the two processes overlap for about half a second
    rng = random.Random(11)
    overlapped = 0
    for run in range(20):
        home = tmp_path / f"home-{run}"
        first = start_pull(home)
        time.sleep(rng.uniform(0, 1.2))
        second = start_pull(home)
        outcomes = [(p.wait(120), *p.communicate()) for p in (first, second)]
        for code, out, err in outcomes:
            assert "Traceback" not in err, err
            said = out + err
            assert code == 0 or "being downloaded by another Desktop LLM" in said, said
            overlapped += "being downloaded by another Desktop LLM" in said
        assert sum("every file checked against its hash" in out for _, out, _ in outcomes) == 1
        store = ModelStore(home / "data" / "models")
        assert [m.id for m in store.list()] == [GPU_ID], outcomes
        assert store.verify(GPU_ID) == [], f"run {run}: {outcomes}"
        assert store.partial_downloads() == []
    assert overlapped >= 5, "the two pulls rarely overlapped: the test proved little"


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_ctrl_c_and_sigterm_stop_a_pull_at_once_and_keep_it_resumable(hub, tmp_path, signum, code):
    add_mlc_repo(hub, GPU_ID, shards=3)
    hub.rate = 1 << 20
    home = tmp_path / "home"
    pull = start_pull(home)
    wait_for_part(partial_folder(home), "params_shard_0.bin", 256 << 10, pull)
    sent = time.monotonic()
    pull.send_signal(signum)
    _, err = pull.communicate(timeout=10)
    took = time.monotonic() - sent
    assert pull.returncode == code, err
    assert took < 2.0, f"took {took:.1f} s to stop"
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1] == (
        f"Stopped; what was downloaded is kept, and `desktop-llm models pull {GPU_ID}` resumes it."
    )
    time.sleep(2.5)
    late = [r for r in hub.requests if r.time > sent + 0.2]
    assert late == [], late
    kept = (partial_folder(home) / "params_shard_0.bin.part").stat().st_size
    assert kept > 0

    hub.rate = 0
    hub.requests.clear()
    again = cli(home, "models", "pull", GPU_ID)
    assert again.returncode == 0, again.stderr
    assert hub.gets("params_shard_0.bin")[0].range == f"bytes={kept}-"
    assert ModelStore(home / "data" / "models").verify(GPU_ID) == []


def test_a_stalled_transfer_is_retried_from_where_it_stopped(hub, tmp_path):
    entry = add_mlc_repo(hub, GPU_ID, shards=1)
    hub.faults["params_shard_0.bin"] = ["stall"]
    store = ModelStore(tmp_path / "models")
    notes = []
    started = time.monotonic()
    Download(
        store, entry, stall_timeout=1.5, backoff=0.01, on_progress=lambda p: notes.append(p.note)
    ).run()
    assert time.monotonic() - started < 10
    gets = hub.gets("params_shard_0.bin")
    assert len(gets) == 2 and gets[1].range == f"bytes={SHARD // 2}-"
    assert "stalled, retrying" in notes
    assert store.verify(GPU_ID) == []


def test_a_hub_that_keeps_stalling_fails_in_one_sentence_within_the_timeouts(hub, tmp_path):
    entry = add_mlc_repo(hub, GPU_ID, shards=1)
    hub.stall_seconds = 5
    store = ModelStore(tmp_path / "models")
    # Half the file, then every GET goes silent: no attempt after the first makes progress.
    hub.faults["params_shard_0.bin"] = ["stall"] + ["silent"] * 10
    started = time.monotonic()
    with pytest.raises(DownloadError) as failure:
        Download(store, entry, stall_timeout=1, backoff=0.01, workers=1).run()
    assert time.monotonic() - started < 15
    assert str(failure.value) == (
        "The download of params_shard_0.bin stalled: nothing arrived for 1 s, 5 times in a row; "
        "try again later, it resumes where it stopped."
    )
    assert store.partial_downloads() == [GPU_ID]  # the half that came is kept


def test_a_silent_metadata_call_times_out(hub, tmp_path):
    entry = add_mlc_repo(hub, GPU_ID, shards=1)
    hub.stall_metadata = 3
    started = time.monotonic()
    with pytest.raises(DownloadError, match="did not answer within 1 s, 5 times"):
        Download(ModelStore(tmp_path / "models"), entry, stall_timeout=1, backoff=0.01).run()
    assert time.monotonic() - started < 10
    assert ModelStore(tmp_path / "models").partial_downloads() == []


def test_files_damaged_between_a_kill_and_the_resume_are_fetched_again(hub, tmp_path):
    add_mlc_repo(hub, GPU_ID, shards=3)
    hub.faults["params_shard_0.bin"] = ["slow"]  # the biggest, first: killed in its middle
    home = tmp_path / "home"
    folder = partial_folder(home)
    pull = start_pull(home)
    wait_for_part(folder, "params_shard_0.bin", SHARD // 3, pull)
    while not (
        (folder / "params_shard_1.bin").is_file() and (folder / "params_shard_2.bin").is_file()
    ):
        time.sleep(0.02)
    pull.kill()
    pull.communicate()
    flipped = folder / "params_shard_1.bin"
    data = bytearray(flipped.read_bytes())
    data[1000] ^= 0xFF
    flipped.write_bytes(bytes(data))
    cut = folder / "params_shard_2.bin"
    cut.write_bytes(cut.read_bytes()[:1000])
    untouched = {
        p.name for p in folder.iterdir() if p.suffix == ".json" or p.name.endswith(".wasm")
    }

    hub.requests.clear()
    again = cli(home, "models", "pull", GPU_ID)
    assert again.returncode == 0, again.stderr
    assert "every file checked against its hash" in again.stdout
    assert [g.range for g in hub.gets("params_shard_1.bin")] == [None]
    assert [g.range for g in hub.gets("params_shard_2.bin")] == [None]
    assert hub.gets("params_shard_0.bin")[0].range not in (None, "bytes=0-")
    for name in untouched - {"plan.json"}:
        assert not hub.gets(name), f"{name} was fetched again"
    assert cli(home, "models", "verify", GPU_ID).returncode == 0


def test_a_resume_follows_the_hub_to_its_new_address(hub, tmp_path, monkeypatch):
    add_mlc_repo(hub, GPU_ID, shards=3)
    hub.faults["params_shard_0.bin"] = ["slow"]
    home = tmp_path / "home"
    folder = partial_folder(home)
    pull = start_pull(home)
    wait_for_part(folder, "params_shard_0.bin", SHARD // 3, pull)
    while not (folder / "params_shard_1.bin").is_file():
        time.sleep(0.02)
    pull.kill()
    pull.communicate()
    hub.stop()

    moved = Hub(tmp_path / "hub-b").start()
    try:
        moved.repos, moved.libs = hub.repos, hub.libs
        monkeypatch.setenv("HF_ENDPOINT", moved.url)
        monkeypatch.setenv("DESKTOP_LLM_MODEL_LIB_ENDPOINT", moved.url)
        again = cli(home, "models", "pull", GPU_ID)
        assert again.returncode == 0, again.stderr
        assert moved.requests, "the new hub was never asked"
        assert not moved.gets("params_shard_1.bin"), "a finished file was fetched again"
    finally:
        moved.stop()
    assert cli(home, "models", "verify", GPU_ID).returncode == 0


def test_rm_discards_an_unfinished_download_and_says_what_it_freed(hub, tmp_path):
    add_mlc_repo(hub, GPU_ID, shards=2)
    hub.rate = 1 << 20
    home = tmp_path / "home"
    pull = start_pull(home)
    wait_for_part(partial_folder(home), "params_shard_0.bin", 512 << 10, pull)
    busy = cli(home, "models", "rm", GPU_ID)
    assert busy.returncode == 1
    assert "is being downloaded by another Desktop LLM window or process" in busy.stderr
    pull.send_signal(signal.SIGINT)
    pull.communicate(timeout=10)
    size = sum(p.stat().st_size for p in partial_folder(home).iterdir())
    removed = cli(home, "models", "rm", GPU_ID)
    assert removed.returncode == 0, removed.stderr
    assert removed.stdout == (
        f"Discarded the unfinished download of {GPU_ID}; {size / 1e6:,.1f} MB freed.\n"
    )
    assert not partial_folder(home).exists()
    assert GPU_ID not in cli(home, "models", "list").stdout


def test_gated_repositories_take_the_token_to_the_hub_only(hub, tmp_path, monkeypatch):
    entry = add_mlc_repo(hub, GPU_ID, shards=1)
    hub.repos[entry.repo].token = "hf_test_token_accepted"
    store = ModelStore(tmp_path / "models")
    with pytest.raises(DownloadError) as refused:
        Download(store, entry).run()
    assert str(refused.value) == (
        f"This model needs you to accept its licence at {hub.url}/{entry.repo} "
        "and log in with `hf auth login`."
    )
    monkeypatch.setenv("HF_TOKEN", "hf_some_other_token")
    with pytest.raises(DownloadError, match="needs you to accept its licence"):
        Download(store, entry).run()
    assert store.partial_downloads() == []

    monkeypatch.setenv("HF_TOKEN", "hf_test_token_accepted")
    hub.requests.clear()
    Download(store, entry).run()
    library = entry.model_lib_url.rsplit("/", 1)[1]
    to_hub = [r for r in hub.requests if not r.path.endswith(library)]
    assert to_hub and all(r.authorization == "Bearer hf_test_token_accepted" for r in to_hub)
    assert all(r.authorization is None for r in hub.requests if r.path.endswith(library))
    assert store.verify(GPU_ID) == []


def test_401_and_403_on_a_file_each_say_what_to_do(hub, tmp_path):
    entry = add_mlc_repo(hub, GPU_ID, shards=1)
    store = ModelStore(tmp_path / "models")
    hub.faults["params_shard_0.bin"] = ["401"]
    with pytest.raises(DownloadError, match=r"wants you logged in .* \(HTTP 401\).*hf auth login"):
        Download(store, entry, workers=1).run()
    hub.faults["params_shard_0.bin"] = ["403"]
    with pytest.raises(
        DownloadError, match=r"refused params_shard_0.bin to this login \(HTTP 403\)"
    ):
        Download(store, entry, workers=1).run()


def test_a_repository_missing_a_shard_and_the_tokenizer_is_not_installed(hub, tmp_path):
    entry = add_mlc_repo(hub, GPU_ID, shards=2)
    del hub.repos[entry.repo].files["params_shard_1.bin"]
    del hub.repos[entry.repo].files["tokenizer.json"]
    store = ModelStore(tmp_path / "models")
    with pytest.raises(DownloadError) as failure:
        Download(store, entry).run()
    assert str(failure.value) == (
        f"The hub repository {entry.repo} is not a complete model: weight files are missing: "
        "params_shard_1.bin; the tokenizer is missing: tokenizer.json or tokenizer.model."
    )
    assert store.list() == []


def test_the_retry_budget_starts_again_while_bytes_keep_arriving(hub, tmp_path):
    entry = add_mlc_repo(hub, GPU_ID, shards=1)
    hub.faults["params_shard_0.bin"] = ["truncate"] * 7  # more breaks than RETRIES, each moving
    store = ModelStore(tmp_path / "models")
    Download(store, entry, backoff=0.01, workers=1).run()
    assert len(hub.gets("params_shard_0.bin")) == 8
    assert store.verify(GPU_ID) == []


def test_a_failure_before_any_byte_leaves_no_unfinished_download(hub, tmp_path):
    add_mlc_repo(hub, GPU_ID, shards=1)
    hub.stop()
    home = tmp_path / "home"
    failed = cli(home, "models", "pull", GPU_ID)
    assert failed.returncode == 1 and "Could not reach the model hub" in failed.stderr
    assert "unfinished download" not in cli(home, "models", "list").stdout
    assert ModelStore(home / "data" / "models").partial_downloads() == []


def test_cancel_during_a_download_in_this_process_deletes_it(hub, tmp_path):
    entry = add_mlc_repo(hub, GPU_ID, shards=2)
    hub.rate = 1 << 20
    store = ModelStore(tmp_path / "models")
    download = Download(store, entry)
    outcome: list[str] = []

    def run() -> None:
        try:
            download.run()
        except Cancelled:
            outcome.append("cancelled")

    worker = threading.Thread(target=run)
    worker.start()
    wait_for_part(store.partial_dir(GPU_ID), "params_shard_0.bin", 256 << 10)
    download.cancel()
    worker.join(5)
    assert outcome == ["cancelled"] and store.partial_downloads() == []


@pytest.fixture
def small_disk(tmp_path: Path):
    """A 24 MB tmpfs standing in for a nearly full disk (mounting needs root, as CI runs)."""
    mount = tmp_path / "small-disk"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", str(mount)], check=True)
    yield mount
    subprocess.run(["umount", str(mount)], check=True)


def test_import_and_rm_on_a_full_or_read_only_disk_say_so_without_a_traceback(small_disk, tmp_path):
    home = small_disk / "home"
    gguf = tmp_path / "Big.Q4.gguf"  # on another disk: copied, not linked
    gguf.write_bytes(b"GGUF" + os.urandom(30 << 20))
    full = cli(home, "models", "import", str(gguf))
    assert full.returncode == 1 and "Traceback" not in full.stderr
    assert "The disk is full at" in full.stderr
    small = tmp_path / "Small.Q4.gguf"
    small.write_bytes(b"GGUF" + os.urandom(1 << 20))
    assert cli(home, "models", "import", str(small)).returncode == 0

    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    try:
        refused = cli(home, "models", "import", str(small))
        removed = cli(home, "models", "rm", "Small.Q4")
    finally:
        subprocess.run(["mount", "-o", "remount,rw", str(small_disk)], check=True)
    for result in (refused, removed):
        assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert "cannot write to" in removed.stderr and "permission denied" in removed.stderr


def test_rm_of_a_hard_linked_import_says_the_bytes_really_freed(tmp_path):
    home = tmp_path / "home"
    original = tmp_path / "Linked.Q4.gguf"  # same disk as the store: hard-linked
    original.write_bytes(b"GGUF" + os.urandom(2 << 20))
    assert cli(home, "models", "import", str(original)).returncode == 0
    removed = cli(home, "models", "rm", "Linked.Q4")
    assert removed.returncode == 0
    assert removed.stdout.startswith("Deleted Linked.Q4; 0.0 MB freed; 2.1 MB stay on the disk")
    assert "original files it was imported from, which are kept" in removed.stdout
    assert original.stat().st_size == (2 << 20) + 4


def test_closing_the_window_stops_its_downloads_and_keeps_them(hub, launcher):
    """What Launcher.run does when the window closes (bridge.stop_downloads), on the real app's
    bridge and store: every download stops within 2 s, nothing more is requested, and the
    partial files stay for the next launch to resume."""
    add_mlc_repo(hub, GPU_ID, shards=3)
    hub.rate = 1 << 20
    bridge = launcher.bridge
    assert bridge.download_model(GPU_ID) == {"started": GPU_ID}
    wait_for_part(launcher.store.partial_dir(GPU_ID), "params_shard_0.bin", 256 << 10)
    closed = time.monotonic()
    bridge.stop_downloads()
    assert time.monotonic() - closed < 2.0
    time.sleep(2.5)
    assert [r for r in hub.requests if r.time > closed + 0.2] == []
    assert launcher.store.partial_downloads() == [GPU_ID]
    assert bridge.downloads.states()[GPU_ID]["state"] == "stopped"
    assert bridge.model_catalog()["available"]
    resumed = next(e for e in bridge.model_catalog()["available"] if e["id"] == GPU_ID)
    assert resumed["partial"] is True
