"""Offline use: a model downloaded once (from the loopback hub) is then used by the real app in
the real Qt window inside a network namespace that has nothing but loopback; and loading it
does not copy the weights into the webview's profile."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from desktop_llm.constants import EMBEDDED_DIR, EMBEDDED_MODEL_FILE
from desktop_llm.engines import native
from desktop_llm.models import catalog
from desktop_llm.models.download import Download
from desktop_llm.models.store import ModelStore
from desktop_llm.paths import AppPaths
from tests.support.offline import CPU_ID, folder_size, self_test
from tests.support.xvfb import virtual_display

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def downloaded(hub, tmp_path: Path) -> Path:
    """An app home holding a GGUF model downloaded from the loopback hub (the built-in model's
    bytes under a catalog entry's name, so that the real engine can run it)."""
    entry = catalog.find(CPU_ID)
    hub.add_repo(entry.repo, {entry.files[0]: EMBEDDED_DIR / EMBEDDED_MODEL_FILE})
    home = tmp_path / "home"
    Download(ModelStore(AppPaths.under(home).models), entry).run()
    return home


@pytest.mark.skipif(shutil.which("unshare") is None, reason="needs util-linux unshare")
def test_a_downloaded_model_answers_in_a_network_namespace_with_only_loopback(downloaded):
    probe = subprocess.run(
        ["unshare", "--net", "sh", "-c", "ip link set lo up && ip -o link"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert [line.split(":")[1].strip() for line in probe.stdout.splitlines()] == ["lo"]
    with virtual_display() as display:
        output = self_test(downloaded, display, "--model", CPU_ID, netns=True)
    # The native engine, where it is installed, is on loopback too, so it answers in there.
    engine = "llama.cpp native (CPU)" if native.available() else "wllama (CPU)"
    assert f"self-test passed: SmolLM2 360M Instruct (Q8_0) (on {engine}) answered" in output


def test_loading_a_model_grows_the_webview_profile_by_under_one_percent_of_it(downloaded):
    paths = AppPaths.under(downloaded)
    with virtual_display() as display:
        self_test(downloaded, display)  # the built-in model: the profile now exists
        before = folder_size(paths.webview_storage)
        self_test(downloaded, display, "--model", CPU_ID)
    growth = folder_size(paths.webview_storage) - before
    model_size = ModelStore(paths.models).get(CPU_ID).size
    assert growth / model_size <= 0.01, f"profile grew {growth} bytes for a {model_size}-byte model"
