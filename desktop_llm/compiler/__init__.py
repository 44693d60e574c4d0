"""`desktop-llm models compile FILE.gguf`: any llama-family GGUF becomes a WebGPU model that
WebLLM runs, without mlc-llm. Needs the `compile` extra (apache-tvm, gguf, tokenizers) and
emscripten. What it writes into the model store:

    <data>/models/<name>-f32-webgpu/
    ├── model.json               the store's manifest, with the WebLLM record
    ├── mlc-chat-config.json     chat template, stop tokens, context window, sampling defaults
    ├── tokenizer.json           built from the GGUF's vocabulary and merges
    ├── tensor-cache.json        the weights' names, shapes and places in the shards
    ├── params_shard_*.bin       float32 weights (dequantized from the GGUF), 32 MB each
    └── <name>-f32-webgpu.wasm   the model library: WebGPU kernels and the TVM web runtime

How: gguf_source reads the file, llama defines the network (and sampler the functions WebLLM
samples with), build compiles it for WebGPU and links it with web_runtime. docs/webgpu-compile.md
says what is supported and why.
"""

from __future__ import annotations

import contextlib
import io
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from desktop_llm.models.store import ModelEntry, ModelStore, sha256_of

DEFAULT_CONTEXT = 2048  # tokens; the KV cache is float32 (46 KB per token for SmolLM2-135M)


class CompileError(RuntimeError):
    """The model could not be compiled; the message says why in one sentence."""


def model_id_for(gguf: Path) -> str:
    stem = re.sub(r"\.(Q\d\w*|F16|F32|BF16)$", "", gguf.stem, flags=re.IGNORECASE)
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", stem).strip("-.").lower()
    return f"{slug[:80] or 'model'}-f32-webgpu"


def compile_gguf(
    store: ModelStore,
    gguf: Path,
    context_window: int = DEFAULT_CONTEXT,
    model_id: str | None = None,
    log: Callable[[str], None] = lambda _: None,
) -> ModelEntry:
    """Compile `gguf` into a WebGPU model in `store`; returns its entry. Nothing is added to the
    store unless every step succeeded."""
    from desktop_llm.compiler.gguf_source import GGUFModel, dump_json, tokenizer_info

    if not gguf.is_file():
        raise CompileError(f"{gguf} does not exist.")
    model_id = model_id or model_id_for(gguf)
    if store.get(model_id) is not None:
        raise CompileError(f"A model named {model_id} is already in the store.")
    source = GGUFModel(gguf)
    shape = source.shape()
    context_window = min(context_window, shape.context_window)
    chat = source.chat_format()  # refuses unknown templates before the long steps

    work = store.work_dir(f"compile-{model_id}")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    try:
        library = f"{model_id}.wasm"
        from desktop_llm.compiler.build import compile_library

        names = compile_library(shape, context_window, work / library, log)
        log("converting the weights to float32")
        weights = _write_weights(source, work, names)
        (work / "tokenizer.json").write_text(source.tokenizer_json(), encoding="utf-8")
        config = _chat_config(source, shape, chat, context_window, tokenizer_info())
        (work / "mlc-chat-config.json").write_text(dump_json(config), encoding="utf-8")
        files = sorted(p.name for p in work.iterdir() if p.is_file())
        entry = ModelEntry(
            id=model_id,
            name=f"{source.name} (WebGPU, compiled here)",
            engine="webllm",
            files=files,
            size=sum((work / name).stat().st_size for name in files),
            context_window=context_window,
            license=str(source.field("general.license") or ""),
            source=str(gguf),
            webllm={
                "model_lib_file": library,
                "overrides": {"context_window_size": context_window},
                "required_features": [],
                "low_resource_required": False,
                "vram_required_MB": round(
                    (weights + _kv_cache_bytes(shape, context_window)) / 2**20
                ),
            },
        )
        log("checking and adding the model to the store")
        entry.sha256 = {name: sha256_of(work / name) for name in files}
        return store.register_folder(entry, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _write_weights(source: Any, folder: Path, names: list[str]) -> int:
    """Write the tensor cache in the order the model library names its parameters; returns
    the bytes of weights."""
    from tvm.contrib.tvmjs import dump_tensor_cache

    weights = dict(source.weights())
    missing = [name for name in names if name not in weights]
    if missing:
        raise CompileError(f"the GGUF file has no weights for {', '.join(missing[:3])}.")
    with contextlib.redirect_stdout(io.StringIO()):  # it prints its progress
        dump_tensor_cache(
            ((name, weights[name]) for name in names),
            str(folder),
            encode_format="raw",
            show_progress=False,
        )
    return sum(weights[name].nbytes for name in names)


def _kv_cache_bytes(shape: Any, context_window: int) -> int:
    return 2 * shape.num_layers * shape.num_kv_heads * shape.head_dim * 4 * context_window


def _chat_config(
    source: Any,
    shape: Any,
    chat: dict[str, Any],
    context_window: int,
    tokenizer: dict[str, Any],
) -> dict[str, Any]:
    from desktop_llm.compiler.build import PREFILL_CHUNK_SIZE

    return {
        "version": "0.1.0",
        "model_type": "llama",
        "quantization": "q0f32",
        "model_config": shape.to_dict(),
        "vocab_size": shape.vocab_size,
        "context_window_size": context_window,
        "sliding_window_size": -1,
        "prefill_chunk_size": PREFILL_CHUNK_SIZE,
        "attention_sink_size": -1,
        "tensor_parallel_shards": 1,
        "temperature": 0.7,
        "top_p": 0.95,
        "repetition_penalty": 1.0,
        "frequency_penalty": 0.0,
        "presence_penalty": 0.0,
        "bos_token_id": int(source.field("tokenizer.ggml.bos_token_id", 1)),
        "eos_token_id": int(source.field("tokenizer.ggml.eos_token_id", 2)),
        "tokenizer_files": ["tokenizer.json"],
        "tokenizer_info": tokenizer,
        "conv_template": chat,
        "compiled_by": "desktop-llm",
    }


__all__ = ["CompileError", "compile_gguf", "model_id_for"]
