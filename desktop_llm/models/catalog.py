"""The models a user can download: GPU models from the installed WebLLM's own records, CPU models
(GGUF) from the hub.

GPU records are read from `webllm_prebuilt.json`, which `npm run build` exports from the installed
`@mlc-ai/web-llm` (ui/scripts/export-webllm-catalog.mjs), so a model library always matches the
runtime the page ships. This module only chooses which of them to offer and adds what the
records lack: a readable name, the download size, the licence.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from functools import cache
from typing import Any

from desktop_llm.constants import ENV_MODEL_LIB_ENDPOINT, MODEL_LIB_HOST, PACKAGE_DIR

WEBLLM_PREBUILT = PACKAGE_DIR / "models" / "webllm_prebuilt.json"
HUB_PREFIX = "https://huggingface.co/"

# The files of an MLC model that WebLLM reads; READMEs and the like are not fetched.
MLC_FILES = (
    "mlc-chat-config.json",
    "tensor-cache.json",
    "ndarray-cache.json",
    "params_shard_*.bin",
    "tokenizer.json",
    "tokenizer.model",
    "tokenizer_config.json",
    "vocab.json",
    "merges.txt",
    "added_tokens.json",
)

# Curated GPU families, small to large: (WebLLM id prefix, name, billions of parameters, licence).
_GPU_FAMILIES = (
    ("SmolLM2-360M-Instruct", "SmolLM2 360M Instruct", 0.36, "Apache-2.0"),
    ("Qwen2.5-0.5B-Instruct", "Qwen2.5 0.5B Instruct", 0.49, "Apache-2.0"),
    ("Llama-3.2-1B-Instruct", "Llama 3.2 1B Instruct", 1.24, "Llama 3.2 Community License"),
    ("Qwen2.5-1.5B-Instruct", "Qwen2.5 1.5B Instruct", 1.54, "Apache-2.0"),
    ("gemma-2-2b-it", "Gemma 2 2B Instruct", 2.61, "Gemma Terms of Use"),
    ("Llama-3.2-3B-Instruct", "Llama 3.2 3B Instruct", 3.21, "Llama 3.2 Community License"),
    ("Phi-3.5-mini-instruct", "Phi-3.5 mini Instruct", 3.82, "MIT"),
    ("Llama-3.1-8B-Instruct", "Llama 3.1 8B Instruct", 8.03, "Llama 3.1 Community License"),
)
_QUANTIZATIONS = {
    "q4f16_1": "4-bit, 16-bit float shaders",
    "q4f32_1": "4-bit, 32-bit float shaders",
}

# CPU models for wllama: single GGUF files under 2 GB (the largest a wasm build reads in one file);
# sizes as the hub listed them.
_GGUF_MODELS = (
    (
        "smollm2-360m-instruct-q8_0",
        "SmolLM2 360M Instruct (Q8_0)",
        "HuggingFaceTB/SmolLM2-360M-Instruct-GGUF",
        "smollm2-360m-instruct-q8_0.gguf",
        386_404_992,
        8192,
        "Apache-2.0",
    ),
    (
        "qwen2.5-0.5b-instruct-q4_k_m",
        "Qwen2.5 0.5B Instruct (Q4_K_M)",
        "Qwen/Qwen2.5-0.5B-Instruct-GGUF",
        "qwen2.5-0.5b-instruct-q4_k_m.gguf",
        491_400_032,
        32768,
        "Apache-2.0",
    ),
    (
        "qwen2.5-1.5b-instruct-q4_k_m",
        "Qwen2.5 1.5B Instruct (Q4_K_M)",
        "Qwen/Qwen2.5-1.5B-Instruct-GGUF",
        "qwen2.5-1.5b-instruct-q4_k_m.gguf",
        1_117_320_736,
        32768,
        "Apache-2.0",
    ),
    (
        "llama-3.2-1b-instruct-q4_k_m",
        "Llama 3.2 1B Instruct (Q4_K_M)",
        "bartowski/Llama-3.2-1B-Instruct-GGUF",
        "Llama-3.2-1B-Instruct-Q4_K_M.gguf",
        807_694_464,
        131072,
        "Llama 3.2 Community License",
    ),
)


@dataclass
class CatalogEntry:
    """One downloadable model. `download_size` is approximate (for MLC models, 4.5 bits per
    parameter); the exact size is known once the hub lists the files, before anything is fetched."""

    id: str
    name: str
    engine: str  # "wllama" or "webllm", as in ModelEntry
    repo: str  # the hub repository
    files: tuple[str, ...]  # names or glob patterns of the files the engine needs
    download_size: int
    memory_mb: int  # what loading it takes: VRAM for GPU models, RAM for CPU models
    context_window: int
    license: str
    required_features: list[str] = field(default_factory=list)
    revision: str = "main"
    model_lib_url: str = ""  # GPU models: the WebLLM model library (not on the hub)
    webllm: dict[str, Any] | None = None  # GPU models: WebLLM's record, URLs left out
    alternative: str = ""  # the closest model without shader-f16 (the q4f32 twin of a q4f16)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["files"] = list(self.files)
        return data


def catalog() -> list[CatalogEntry]:
    return [*_gpu_entries(), *_gguf_entries()]


def find(model_id: str) -> CatalogEntry | None:
    return next((entry for entry in catalog() if entry.id == model_id), None)


def model_lib_url(url: str) -> str:
    """Where to fetch a model library; DESKTOP_LLM_MODEL_LIB_ENDPOINT replaces its host."""
    endpoint = os.environ.get(ENV_MODEL_LIB_ENDPOINT, "").rstrip("/")
    if endpoint and url.startswith(MODEL_LIB_HOST):
        return endpoint + url[len(MODEL_LIB_HOST) :]
    return url


@cache
def _webllm_records() -> dict[str, dict[str, Any]]:
    data = json.loads(WEBLLM_PREBUILT.read_text(encoding="utf-8"))
    return {record["model_id"]: record for record in data["model_list"]}


def _gpu_entries() -> list[CatalogEntry]:
    records = _webllm_records()
    entries = []
    for prefix, name, billions, licence in _GPU_FAMILIES:
        for quantization, description in _QUANTIZATIONS.items():
            record = records.get(f"{prefix}-{quantization}-MLC")
            if record is None:
                continue
            twin = f"{prefix}-q4f32_1-MLC" if quantization == "q4f16_1" else ""
            entries.append(_gpu_entry(record, f"{name} ({description})", billions, licence, twin))
    return entries


def _gpu_entry(
    record: dict[str, Any], name: str, billions: float, licence: str, twin: str
) -> CatalogEntry:
    if not record["model"].startswith(HUB_PREFIX):
        raise ValueError(f"{record['model_id']}: not a hub model ({record['model']})")
    lib_file = record["model_lib"].rsplit("/", 1)[1]
    kept = {k: v for k, v in record.items() if k not in ("model", "model_lib", "model_id")}
    return CatalogEntry(
        id=record["model_id"],
        name=name,
        engine="webllm",
        repo=record["model"][len(HUB_PREFIX) :].rstrip("/"),
        files=MLC_FILES,
        download_size=int(billions * 1e9 * 4.5 / 8),
        memory_mb=round(record.get("vram_required_MB", 0)),
        context_window=record.get("overrides", {}).get("context_window_size", 4096),
        license=licence,
        # WebLLM refuses f16 weights without shader-f16 whether or not the record says so.
        required_features=sorted(
            {*record.get("required_features", []), *(["shader-f16"] if "f16" in lib_file else [])}
        ),
        model_lib_url=record["model_lib"],
        webllm={**kept, "model_lib_file": lib_file},
        alternative=twin,
    )


def _gguf_entries() -> list[CatalogEntry]:
    return [
        CatalogEntry(
            id=model_id,
            name=name,
            engine="wllama",
            repo=repo,
            files=(filename,),
            download_size=size,
            memory_mb=round(size * 1.2 / 2**20) + 200,  # weights, KV cache and runtime
            context_window=context,
            license=licence,
        )
        for model_id, name, repo, filename, size, context, licence in _GGUF_MODELS
    ]
