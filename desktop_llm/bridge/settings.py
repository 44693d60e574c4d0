"""Settings as the page sees them: read, change (validated by the schema in settings.py), reset."""

from __future__ import annotations

from typing import Any

from desktop_llm.bridge.base import BridgeError, BridgeRoute, BridgeState
from desktop_llm.settings import Settings, SettingsError


class SettingsBridge(BridgeState):
    """The settings file has one writer here; the reply and the "settings" event carry the same
    values."""

    def get_settings(self) -> dict[str, Any]:
        return {"values": self.settings_file.load().to_dict(), "schema": Settings.describe()}

    def update_settings(self, changes: dict[str, Any]) -> dict[str, Any]:
        if not isinstance(changes, dict):
            raise BridgeError("settings changes must be a JSON object")
        current = self.settings_file.load().to_dict()
        for name in sorted(Settings.file_only() & set(changes)):
            if changes[name] != current[name]:
                raise BridgeError(
                    f"{name} can only be changed in the settings file "
                    f"({self.paths.settings_file}), not from the window.",
                    403,
                    field_name=name,
                )
        try:
            updated = self.settings_file.update(changes)
        except SettingsError as exc:
            raise BridgeError(exc.message, field_name=exc.field) from exc
        return self._settings_changed(updated).to_dict()

    def _settings_changed(self, settings: Settings) -> Settings:
        follow_ups: dict[str, Any] = {}
        for listener in self.settings_listeners:
            follow_ups.update(listener(settings))
        if follow_ups:
            settings = self.settings_file.update(follow_ups)
        self.events.publish("settings", settings.to_dict())
        return settings

    def reset_settings(self) -> dict[str, Any]:
        """Every setting back to its default, except the port (it is the page's origin) and
        the settings only the file may change."""
        current = self.settings_file.load()
        kept = {name: getattr(current, name) for name in {"server_port", *Settings.file_only()}}
        defaults = Settings().with_changes(kept)
        self.settings_file.save(defaults)
        return self._settings_changed(defaults).to_dict()


ROUTES = (
    BridgeRoute("settings", "get_settings"),
    BridgeRoute("settings", "update_settings", body_as="changes"),
    BridgeRoute("settings/reset", "reset_settings", body_as=None),
)
