"""From the model definition to a WebLLM model library (.wasm): compile for the `webgpu` target
with a wasm32 host, then link the host code with the TVM web runtime (web_runtime.py).

The model's host code comes out of TVM's LLVM as wasm object files, and Debian's emscripten
links them: its clang cannot read the newer LLVM's bitcode, but object files link fine.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import tvm
from tvm import relax
from tvm.target import Target

from desktop_llm.compiler import web_runtime
from desktop_llm.compiler.gguf_source import LlamaShape
from desktop_llm.compiler.llama import LlamaForCausalLM
from desktop_llm.compiler.sampler import attach_inplace_kernels

PREFILL_CHUNK_SIZE = 128  # tokens per prefill call; WebLLM splits longer prompts
WASM_HOST = {"kind": "llvm", "mtriple": "wasm32-unknown-unknown-wasm"}


class LinkError(RuntimeError):
    """emcc failed to link the model library; the message carries its output."""


def webgpu_target() -> Target:
    return Target({"kind": "webgpu"}, host=WASM_HOST)


def model_module(
    shape: LlamaShape, target: Target, context_window: int
) -> tuple[tvm.IRModule, list[str]]:
    """The whole model library as one IRModule, and its parameter names in order."""
    model = LlamaForCausalLM(shape, target)
    mod, params = model.export_tvm(spec=model.get_default_spec())
    mod = attach_inplace_kernels(mod, gpu=target.kind.name != "llvm")
    names = [name for name, _ in params]
    metadata = {
        "model_type": "llama",
        "quantization": "q0f32",
        "context_window_size": context_window,
        "sliding_window_size": -1,
        "attention_sink_size": -1,
        "prefill_chunk_size": PREFILL_CHUNK_SIZE,
        "tensor_parallel_shards": 1,
        "pipeline_parallel_stages": 1,
        "kv_state_kind": "kv_cache",
        "max_batch_size": 1,
        "params": [
            {"name": name, "shape": list(param.shape), "dtype": param.dtype, "preprocs": []}
            for name, param in params
        ],
    }
    builder = relax.BlockBuilder(mod)
    with builder.function("_metadata", params=[]):
        builder.emit_func_output(tvm.ir.StringImm(json.dumps(metadata)))
    return builder.get(), names


def compile_library(
    shape: LlamaShape,
    context_window: int,
    output: Path,
    log: Callable[[str], None] = lambda _: None,
) -> list[str]:
    """Compile and link the model library into `output`; returns the parameter names."""
    target = webgpu_target()
    mod, names = model_module(shape, target, context_window)
    log("compiling the model for WebGPU")
    with target:
        executable = tvm.compile(mod, target, relax_pipeline=pipeline(target))
    runtime = web_runtime.ensure(log)
    log("linking the model library")
    executable.export_library(str(output), fcompile=_linker(runtime))
    return names


def pipeline(target: Target) -> tvm.transform.Pass:
    """TVM's pipeline for the target without RewriteDataflowReshape, which can only analyse
    kernels written as schedulable blocks and stops at the hand-written sampler kernels
    (it only saves copies of reshapes)."""
    from tvm.relax.backend import cpu_generic, gpu_generic

    stock = cpu_generic.pipeline if target.kind.name == "llvm" else gpu_generic
    lower = [
        p for p in stock.dataflow_lower_passes(target) if p.info.name != "RewriteDataflowReshape"
    ]
    return tvm.transform.Sequential(
        stock.library_dispatch_passes(target)
        + stock.legalize_passes(target)
        + lower
        + stock.finalize_passes(target)
    )


def _linker(runtime_objects: list[Path]) -> Callable[..., None]:
    def link(output: str, objects: list[str], options: Any = None, **_: Any) -> None:
        with tempfile.TemporaryDirectory(prefix="desktop-llm-link-") as scratch:
            command = [
                web_runtime.emcc(),
                "-O3",
                "--no-entry",
                "-s", "WASM_BIGINT=1",
                "-s", "ERROR_ON_UNDEFINED_SYMBOLS=0",
                "-s", "STANDALONE_WASM=1",
                "-s", "ALLOW_MEMORY_GROWTH=1",
                "-s", "TOTAL_MEMORY=160MB",
                "-o", output,
                *[str(p) for p in runtime_objects],
                *objects,
            ]  # fmt: skip
            done = subprocess.run(command, cwd=scratch, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise LinkError(f"linking the model library failed:\n{done.stdout}{done.stderr}")

    link.object_format = "o"  # type: ignore[attr-defined]
    return link
