"""Settings: typed, validated, atomic, and a broken file never loses the app."""

from __future__ import annotations

import json
import multiprocessing
from pathlib import Path

import pytest

from desktop_llm.paths import AppPaths
from desktop_llm.settings import Settings, SettingsError, SettingsFile


def test_round_trip(tmp_path: Path):
    file = SettingsFile(tmp_path / "settings.json")
    saved = Settings().with_changes({"temperature": 0.2, "theme": "dark", "max_tokens": 64})
    file.save(saved)
    assert SettingsFile(tmp_path / "settings.json").load() == saved


def test_home_variable_moves_every_folder(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("DESKTOP_LLM_HOME", str(tmp_path))
    paths = AppPaths.from_env()
    for folder in (paths.config, paths.data, paths.cache, paths.logs):
        assert folder.is_relative_to(tmp_path)


@pytest.mark.parametrize(
    "content",
    [b"{not json", b"[1, 2]", b"\x00\x01", b'{"theme": "dark\xff\xfe"}', b"[" * 100_000],
)
def test_corrupt_file_is_kept_aside_and_defaults_used(tmp_path: Path, content: bytes):
    path = tmp_path / "settings.json"
    path.write_bytes(content)
    file = SettingsFile(path)
    assert file.load() == Settings()
    assert file.warning and "could not be read" in file.warning
    kept = list(tmp_path.glob("settings.json.corrupt-*"))
    assert len(kept) == 1 and kept[0].read_bytes() == content


def test_a_folder_in_place_of_the_file_is_moved_aside(tmp_path: Path):
    (tmp_path / "settings.json").mkdir()
    file = SettingsFile(tmp_path / "settings.json")
    assert file.load() == Settings() and "could not be read" in file.warning
    assert next(iter(tmp_path.glob("settings.json.corrupt-*"))).is_dir()
    file.update({"theme": "dark"})  # and saving works again
    assert SettingsFile(tmp_path / "settings.json").load().theme == "dark"


def test_one_bad_value_resets_only_that_setting_and_a_bom_is_fine(tmp_path: Path):
    path = tmp_path / "settings.json"
    path.write_bytes(
        b"\xef\xbb\xbf"
        + json.dumps({"temperature": "hot", "theme": "dark", "max_tokens": 99}).encode()
    )
    file = SettingsFile(path)
    loaded = file.load()
    assert loaded.theme == "dark" and loaded.max_tokens == 99
    assert loaded.temperature == Settings().temperature
    assert file.warning == (
        "Some settings in settings.json were not valid and are at their defaults for now: "
        "temperature."
    )
    assert not list(tmp_path.glob("settings.json.corrupt-*"))


def test_temp_files_left_by_a_killed_save_are_cleaned_at_start(tmp_path: Path):
    stale = tmp_path / ".settings-abc123.tmp"
    stale.write_text("{")
    SettingsFile(tmp_path / "settings.json").remove_stale_temp_files()
    assert not stale.exists()


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"temperature": 3}, "temperature"),
        ({"temperature": "0.5"}, "temperature"),
        ({"max_tokens": 1.5}, "max_tokens"),
        ({"theme": "purple"}, "theme"),
        ({"host": "firefox"}, "host"),
        ({"browser_flags": ["no-dashes"]}, "browser_flags"),
        ({"server_port": 80}, "server_port"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_invalid_values_are_refused_naming_the_field(tmp_path: Path, changes, field):
    file = SettingsFile(tmp_path / "settings.json")
    file.save(Settings())
    with pytest.raises(SettingsError) as refused:
        file.update(changes)
    assert refused.value.field == field
    assert file.load() == Settings()  # nothing written


def _writer(path: str, name: str, values: list) -> None:
    file = SettingsFile(Path(path))
    for value in values:
        file.update({name: value})


def test_two_writers_at_once_leave_a_valid_file_with_both_changes(tmp_path: Path):
    path = tmp_path / "settings.json"
    ctx = multiprocessing.get_context("spawn")
    writers = [
        ctx.Process(target=_writer, args=(str(path), "max_tokens", list(range(100, 160)))),
        ctx.Process(target=_writer, args=(str(path), "top_p", [i / 100 for i in range(40, 100)])),
    ]
    for w in writers:
        w.start()
    for w in writers:
        w.join(60)
        assert w.exitcode == 0
    data = json.loads(path.read_text())
    assert data["max_tokens"] == 159 and data["top_p"] == 0.99
    assert not list(tmp_path.glob(".settings-*"))  # no temporary file left behind
