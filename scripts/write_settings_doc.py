"""Write docs/settings.md from the settings schema (desktop_llm/settings.py)."""

from pathlib import Path

from desktop_llm.settings import reference_markdown

target = Path(__file__).resolve().parent.parent / "docs" / "settings.md"
target.write_text(reference_markdown(), encoding="utf-8")
print(f"wrote {target}")
