"""The user's settings: one typed schema, validated on load and on every change.

The file is JSON. Writes go to a temporary file in the same folder that then replaces the old one,
under a file lock, so a crash or a second writer never leaves half a file behind. A file that cannot
be read is kept aside as `settings.json.corrupt-<time>` and the defaults are used; `warning` then
says so and the UI shows it.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from filelock import FileLock

from desktop_llm.constants import EMBEDDED_MODEL_ID
from desktop_llm.hosts.browser import refused_flag


class SettingsError(ValueError):
    """A value the schema refuses; `field` names the setting."""

    def __init__(self, field_name: str, message: str):
        super().__init__(f"{field_name}: {message}")
        self.field = field_name
        self.message = message


Check = Callable[[Any], str | None]


def _described(check: Check, **spec: Any) -> Check:
    check.spec = spec  # type: ignore[attr-defined]  # what the settings panel needs to draw it
    return check


def _choice(*allowed: str) -> Check:
    def check(value: Any) -> str | None:
        if value not in allowed:
            return f"must be one of {', '.join(allowed)}"
        return None

    return _described(check, type="choice", choices=list(allowed))


def _number(low: float, high: float, integer: bool = False) -> Check:
    def check(value: Any) -> str | None:
        kinds = (int,) if integer else (int, float)
        if isinstance(value, bool) or not isinstance(value, kinds):
            return "must be a whole number" if integer else "must be a number"
        if not low <= value <= high:
            return f"must be between {low:g} and {high:g}"
        return None

    return _described(check, type="integer" if integer else "number", min=low, max=high)


def _text(max_len: int, long: bool = False) -> Check:
    def check(value: Any) -> str | None:
        if not isinstance(value, str):
            return "must be text"
        if len(value) > max_len:
            return f"must be at most {max_len} characters"
        return None

    return _described(check, type="longtext" if long else "text", max_length=max_len)


def _flags(value: Any) -> str | None:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        return "must be a list of command-line flags"
    if any(not v.startswith("--") for v in value):
        return "every flag must start with --"
    return next(filter(None, map(refused_flag, value)), None)


def _boolean(value: Any) -> str | None:
    return None if isinstance(value, bool) else "must be true or false"


def _port(value: Any) -> str | None:
    if value == 0:
        return None  # chosen on first launch
    return _number(1024, 65535, integer=True)(value)


def _model_id(value: Any) -> str | None:
    return _text(200)(value)


def _api_key(value: Any) -> str | None:
    problem = _text(200)(value)
    if problem is None and value and (len(value) < 16 or not value.isprintable() or " " in value):
        return "must be at least 16 characters, with no spaces (or empty: one is made for you)"
    return problem


_described(_model_id, type="model", max_length=200)  # the panel lists the models there are
_described(_api_key, type="secret", max_length=200)
_described(_flags, type="flags")
_described(_boolean, type="boolean")
_described(_port, type="integer", min=0, max=65535, readonly=True)


def _setting(default: Any, check: Check, label: str, doc: str, file_only: bool = False) -> Any:
    """label: the field's name in the settings panel; doc: the line under it. file_only: names a
    program or its command line, so the page may not change it (only the settings file and the
    command line can); the panel shows it read-only."""
    metadata = {"check": check, "label": label, "doc": doc, "file_only": file_only}
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata=metadata)
    return field(default=default, metadata=metadata)


@dataclass(frozen=True)
class Settings:
    model: str = _setting(
        EMBEDDED_MODEL_ID, _model_id, "Model at start", "The model the app loads at start."
    )
    host: str = _setting(
        "auto", _choice("auto", "webview", "browser"), "Window", "Which window shows the app."
    )
    browser: str = _setting(
        "",
        _text(1000),
        "Browser for GPU models",
        "Browser for the browser host: a name or a path; empty finds one.",
        file_only=True,
    )
    browser_flags: list[str] = _setting(
        [],
        _flags,
        "Browser flags (one per line)",
        "Extra command-line flags for the browser host.",
        file_only=True,
    )
    server_port: int = _setting(
        0, _port, "Local server port", "Port of the local server; chosen on first launch."
    )
    temperature: float = _setting(
        0.7, _number(0, 2), "Temperature", "Sampling temperature; 0 is greedy."
    )
    top_p: float = _setting(0.95, _number(0.01, 1), "Top-p", "Nucleus sampling.")
    max_tokens: int = _setting(
        512,
        _number(1, 32768, integer=True),
        "Longest answer (tokens)",
        "Longest answer, in tokens.",
    )
    frequency_penalty: float = _setting(
        0.0,
        _number(-2, 2),
        "Frequency penalty",
        "Lowers the chance of a token the more often it has appeared (OpenAI's meaning); 0 is off.",
    )
    summary_frequency_penalty: float = _setting(
        0.3,
        _number(0, 2),
        "Summary repetition penalty",
        "The frequency penalty summaries use, so a greedy summary does not repeat itself; "
        "0 is off.",
    )
    presence_penalty: float = _setting(
        0.0,
        _number(-2, 2),
        "Presence penalty",
        "Lowers the chance of any token that has appeared at all (OpenAI's meaning); 0 is off.",
    )
    context_size: int = _setting(
        2048,
        _number(256, 131072, integer=True),
        "Context window (tokens)",
        "Context window of CPU models, in tokens.",
    )
    threads: int = _setting(
        0, _number(0, 256, integer=True), "CPU threads (0: all)", "CPU engine threads; 0 is all."
    )
    cpu_engine: str = _setting(
        "auto",
        _choice("auto", "native", "wllama"),
        "CPU engine",
        "Which engine runs GGUF models: auto uses native llama.cpp where one of its builds fits "
        "this processor, else llama.cpp in the window (wllama).",
    )
    remote_parallel: int = _setting(
        4,
        _number(1, 32, integer=True),
        "Parts at once on a server",
        "How many parts of a long document a remote server summarizes at the same time.",
    )
    remote_timeout: int = _setting(
        120,
        _number(2, 3600, integer=True),
        "Server silence limit (seconds)",
        "How long a remote server may stay silent before the answer is given up.",
    )
    system_prompt: str = _setting(
        "You are a helpful assistant.",
        _text(20000, long=True),
        "System prompt",
        "Instructions given before every chat.",
    )
    theme: str = _setting("system", _choice("system", "light", "dark"), "Theme", "Colour theme.")
    api_enabled: bool = _setting(
        False,
        _boolean,
        "Local API (OpenAI-compatible)",
        "Let other programs use the model through an OpenAI-compatible API.",
    )
    api_port: int = _setting(
        0, _port, "Local API port", "Port of the local API; chosen when it is first enabled."
    )
    api_key: str = _setting(
        "",
        _api_key,
        "Local API key",
        "The key programs must send (16 characters or more); one is made for you when the "
        "Local API is first turned on.",
    )
    log_content: bool = _setting(
        False,
        _boolean,
        "Log prompts and documents",
        "Write prompts and document text to the log (off: only their sizes).",
    )

    def validate(self) -> None:
        for f in fields(self):
            problem = f.metadata["check"](getattr(self, f.name))
            if problem:
                raise SettingsError(f.name, problem)

    def with_changes(self, changes: dict[str, Any]) -> Settings:
        known = {f.name for f in fields(self)}
        for name in changes:
            if name not in known:
                raise SettingsError(name, "is not a setting")
        changed = replace(self, **changes)
        changed.validate()
        return changed

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def describe(cls) -> list[dict[str, Any]]:
        """The schema, for the settings panel."""
        defaults = cls()
        described = []
        for f in fields(cls):
            spec = {
                "name": f.name,
                "default": getattr(defaults, f.name),
                "label": f.metadata["label"],
                "doc": f.metadata["doc"],
                **f.metadata["check"].spec,
            }
            if f.metadata["file_only"]:
                spec.update(readonly=True, file_only=True)
            described.append(spec)
        return described

    @classmethod
    def file_only(cls) -> set[str]:
        """The settings the page may not change (see _setting)."""
        return {f.name for f in fields(cls) if f.metadata["file_only"]}


def reference_markdown() -> str:
    """docs/settings.md, made from the schema (scripts/write_settings_doc.py writes it; a test
    keeps it current)."""
    lines = [
        "# Settings",
        "",
        "Made from the schema in `desktop_llm/settings.py` by `scripts/write_settings_doc.py`;",
        "do not edit by hand. The panel shows the label; `settings.json` uses the name.",
        "",
        "| name | label in the panel | default | allowed | what it does |",
        "| --- | --- | --- | --- | --- |",
    ]
    for spec in Settings.describe():
        allowed = {
            "choice": " / ".join(f"`{c}`" for c in spec.get("choices", [])),
            "boolean": "`true` / `false`",
            "flags": "a list of flags",
            "model": "a model id (`desktop-llm models list`)",
        }.get(spec["type"])
        if allowed is None and "min" in spec:
            allowed = f"{spec['min']} to {spec['max']}"
        if allowed is None:
            allowed = f"text, up to {spec['max_length']:,} characters"
        doc = spec["doc"] + (
            " Only in the file, never from the window." if spec.get("file_only") else ""
        )
        default = json.dumps(spec["default"])
        lines.append(f"| `{spec['name']}` | {spec['label']} | `{default}` | {allowed} | {doc} |")
    return "\n".join(lines) + "\n"


class SettingsFile:
    """Loads and saves `Settings` at one path."""

    def __init__(self, path: Path):
        self.path = path
        self.warning: str | None = None
        self._lock = FileLock(str(path) + ".lock")

    def load(self) -> Settings:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return Settings()
        except OSError as exc:  # a folder in its place, unreadable
            return self._recover(exc)
        try:
            data = json.loads(raw.decode("utf-8-sig"))  # a BOM, as some editors write, is fine
            if not isinstance(data, dict):
                raise ValueError("the file does not hold a JSON object")
        except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
            return self._recover(exc)
        return self._from_dict(data)

    def save(self, settings: Settings) -> None:
        settings.validate()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock:
            self._write_atomically(settings)

    def update(self, changes: dict[str, Any]) -> Settings:
        """Read, change and write under one lock, so concurrent updates all land."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock:
            updated = self.load().with_changes(changes)
            self._write_atomically(updated)
        return updated

    def _from_dict(self, data: dict[str, Any]) -> Settings:
        """Each setting on its own: a bad value falls back to its default alone, named in
        `warning`; the others are kept."""
        settings = Settings()
        refused = []
        for f in fields(Settings):
            if f.name not in data:
                continue
            try:
                settings = settings.with_changes({f.name: data[f.name]})
            except (SettingsError, TypeError):
                refused.append(f.name)
        if refused:
            self.warning = (
                f"Some settings in {self.path.name} were not valid and are at their defaults "
                f"for now: {', '.join(refused)}."
            )
        return settings

    def remove_stale_temp_files(self) -> None:
        """A save killed mid-way leaves a `.settings-*.tmp` behind; none is in use at start."""
        if not self.path.parent.is_dir():
            return
        with self._lock:
            for stale in self.path.parent.glob(".settings-*.tmp"):
                stale.unlink(missing_ok=True)

    def _recover(self, exc: Exception) -> Settings:
        kept = self.path.with_name(f"{self.path.name}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}")
        os.replace(self.path, kept)
        self.warning = (
            f"Your settings file could not be read ({exc}). It was kept as {kept.name} "
            "and the default settings are in use."
        )
        return Settings()

    def _write_atomically(self, settings: Settings) -> None:
        write_json_atomically(self.path, settings.to_dict(), ".settings-")


def write_json_atomically(path: Path, data: Any, prefix: str) -> None:
    """JSON to a temporary file beside `path` (mkstemp: mode 0600), flushed to disk, that then
    replaces `path`: a crash leaves the old file or the new one, never half of one."""
    fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(data, out, indent=2)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
