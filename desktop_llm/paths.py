"""Where Desktop LLM keeps its files.

By default the platform's usual folders (platformdirs); with DESKTOP_LLM_HOME set, everything
lives under that one folder:

    $DESKTOP_LLM_HOME/
    ├── config/settings.json       the user's settings
    ├── config/servers.json        OpenAI-compatible servers the user added, with their keys
    ├── data/
    │   ├── history.sqlite3        conversations and summaries (see history/store.py)
    │   ├── models/<model-id>/     the model store (see models/store.py)
    │   ├── webview/               the webview's profile (localStorage, IndexedDB)
    │   └── browser-profile/       the browser host's own --user-data-dir
    ├── cache/                     downloads in progress
    └── logs/desktop-llm.log       rotated; no prompt or document text unless log_content
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from desktop_llm.constants import APP_AUTHOR, APP_ID, ENV_BUILD_CACHE, ENV_HOME, env_path


@dataclass(frozen=True)
class AppPaths:
    config: Path
    data: Path
    cache: Path
    logs: Path

    @classmethod
    def from_env(cls) -> AppPaths:
        home = env_path(ENV_HOME)
        if home is not None:
            return cls.under(home)
        dirs = platformdirs.PlatformDirs(APP_ID, APP_AUTHOR)
        return cls(
            config=Path(dirs.user_config_dir),
            data=Path(dirs.user_data_dir),
            cache=Path(dirs.user_cache_dir),
            logs=Path(dirs.user_log_dir),
        )

    @classmethod
    def under(cls, home: Path) -> AppPaths:
        home = home.resolve()
        return cls(home / "config", home / "data", home / "cache", home / "logs")

    @property
    def settings_file(self) -> Path:
        return self.config / "settings.json"

    @property
    def models(self) -> Path:
        return self.data / "models"

    @property
    def servers_file(self) -> Path:
        return self.config / "servers.json"

    @property
    def history_file(self) -> Path:
        return self.data / "history.sqlite3"

    @property
    def log_file(self) -> Path:
        return self.logs / "desktop-llm.log"

    @property
    def webview_storage(self) -> Path:
        return self.data / "webview"

    @property
    def browser_profile(self) -> Path:
        return self.data / "browser-profile"

    def create(self) -> None:
        """Make the app's folders, private to this user on POSIX (0700, their files 0600):
        they hold every conversation, the settings with the API key, and the logs."""
        for folder in (self.config, self.data, self.cache, self.logs, self.models):
            folder.mkdir(parents=True, exist_ok=True)
        for folder in (self.config, self.data, self.cache, self.logs):
            make_private(folder)
        for path in (self.settings_file, self.servers_file, self.history_file, self.log_file):
            make_private(path)


def build_cache() -> Path:
    """Where `models compile` keeps what it builds once per machine: $DESKTOP_LLM_BUILD_CACHE,
    else build/ in the app's cache folder."""
    return env_path(ENV_BUILD_CACHE) or AppPaths.from_env().cache / "build"


def make_private(path: Path) -> None:
    """0700 for a folder, 0600 for a file (and SQLite's -wal and -shm beside a database);
    nothing on Windows, where the user's profile folder is already private."""
    if os.name != "posix":
        return
    mode = 0o700 if path.is_dir() else 0o600
    for each in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        if each.exists() and not each.is_symlink():
            each.chmod(mode)
