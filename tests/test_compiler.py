"""The WebGPU compiler's parts on the CPU (TVM's LLVM target), against numpy: the sampler and
logit-processor kernels WebLLM calls for every token, the converted weights (the network, built
for the CPU, continues a sentence the way the GGUF model does), and clear refusals of what it
cannot compile. The same kernels, built for WebGPU, are run by test_webgpu_compiled.py."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import tvm
from tvm import relax
from tvm.target import Target

from desktop_llm.compiler import CompileError, compile_gguf, sampler
from desktop_llm.compiler.build import pipeline
from desktop_llm.compiler.gguf_source import GGUFModel, UnsupportedModel
from desktop_llm.models.embedded import embedded_source
from desktop_llm.models.store import ModelStore

VOCAB = 3000  # not a power of two, like real vocabularies (49,152 pads to 65,536)


@pytest.fixture(scope="module")
def cpu_sampler():
    """Every sampler function, built from the same code as the model library's, for the CPU."""
    module = sampler.Sampler(VOCAB, gpu=False)
    mod, _ = module.export_tvm(spec=module.get_default_spec())
    mod = sampler.attach_inplace_kernels(mod, gpu=False)
    target = Target({"kind": "llvm"})
    with target:
        executable = tvm.compile(mod, target, relax_pipeline=pipeline(target))
    vm = relax.VirtualMachine(executable, tvm.cpu())

    class Functions:
        def __getitem__(self, name):
            if name.endswith("_inplace"):  # plain kernels of the library, not VM functions
                return vm.module.get_function(name, query_imports=True)
            return vm[name]

    return Functions()


def tensor(array):
    return tvm.runtime.tensor(np.ascontiguousarray(array), tvm.cpu())


def test_argsort_orders_by_probability_then_token_id(cpu_sampler):
    rng = np.random.default_rng(1)
    probs = rng.random((2, VOCAB), dtype=np.float32)
    probs[0, 100:140] = probs[0, 7]  # ties: the lower token id must come first
    probs[1, :] = 0.0
    probs[1, 2999] = 1.0  # greedy: one token has all the mass
    sorted_probs, sorted_ids = cpu_sampler["argsort_probs"](tensor(probs))
    expected = np.stack([np.lexsort((np.arange(VOCAB), -row)) for row in probs])
    assert np.array_equal(sorted_ids.numpy(), expected)
    assert np.array_equal(sorted_probs.numpy(), np.take_along_axis(probs, expected, axis=1))
    assert sorted_ids.numpy()[1, 0] == 2999


def test_softmax_with_temperature_matches_numpy(cpu_sampler):
    rng = np.random.default_rng(2)
    logits = rng.normal(0, 5, (1, 1, VOCAB)).astype(np.float32)
    for temperature in (1.0, 0.5, 1e-6):
        probs = cpu_sampler["softmax_with_temperature"](
            tensor(logits), tensor(np.array([temperature], np.float32))
        ).numpy()
        scaled = logits.astype(np.float64) / temperature
        expected = np.exp(scaled - scaled.max())
        expected /= expected.sum()
        assert np.allclose(probs, expected, atol=1e-6)
    # A temperature near 0 (WebLLM's greedy) leaves all the mass on the largest logit.
    assert probs.reshape(-1).argmax() == logits.reshape(-1).argmax()
    assert probs.max() == pytest.approx(1.0)


def test_sample_with_top_p_picks_where_the_uniform_sample_falls(cpu_sampler):
    probs = np.zeros((1, VOCAB), np.float32)
    probs[0, [5, 9, 42, 77]] = [0.5, 0.3, 0.15, 0.05]
    sorted_probs, sorted_ids = cpu_sampler["argsort_probs"](tensor(probs))

    def sample(uniform, top_p):
        return cpu_sampler["sample_with_top_p"](
            sorted_probs,
            sorted_ids,
            tensor(np.array([uniform], np.float32)),
            tensor(np.array([0], np.int32)),
            tensor(np.array([top_p], np.float32)),
        ).numpy()[0]

    assert [sample(u, 1.0) for u in (0.1, 0.6, 0.85, 0.99)] == [5, 9, 42, 77]
    # top_p 0.7 keeps 5 and 9 (0.8 of the mass), renormalised: 0.5/0.8 = 0.625 splits them.
    assert [sample(u, 0.7) for u in (0.6, 0.7, 0.99)] == [5, 9, 9]


def test_logit_bias_penalties_and_bitmask_change_logits_in_place(cpu_sampler):
    rng = np.random.default_rng(3)
    logits = rng.normal(0, 3, (1, VOCAB)).astype(np.float32)
    on_device = tensor(logits)
    ids = np.array([3, 50, 2999], np.int32)
    bias = np.array([1.5, -2.0, 10.0], np.float32)
    cpu_sampler["apply_logit_bias_inplace"](
        on_device, tensor(np.zeros(3, np.int32)), tensor(ids), tensor(bias)
    )
    expected = logits.copy()
    expected[0, ids] += bias
    assert np.allclose(on_device.numpy(), expected)

    counts = np.array([1, 4, 2], np.int32)
    presence, frequency, repetition = 0.5, 0.25, 1.3
    cpu_sampler["apply_penalty_inplace"](
        on_device,
        tensor(np.zeros(1, np.int32)),
        tensor(np.zeros(3, np.int32)),
        tensor(ids),
        tensor(counts),
        tensor(np.array([[presence, frequency, repetition]], np.float32)),
    )
    penalised = expected[0, ids] - (presence + counts * frequency)
    expected[0, ids] = np.where(penalised < 0, penalised * repetition, penalised / repetition)
    assert np.allclose(on_device.numpy(), expected, atol=1e-5)

    allowed = np.zeros(VOCAB, bool)
    allowed[[0, 31, 32, 2999]] = True
    words = np.packbits(allowed.reshape(-1, 8)[:, ::-1], axis=1).reshape(-1)
    words = np.pad(words, (0, (-len(words)) % 4)).view("<i4").reshape(1, -1)
    cpu_sampler["apply_bitmask_inplace"](on_device, tensor(np.zeros(1, np.int32)), tensor(words))
    result = on_device.numpy()[0]
    assert np.array_equal(result[allowed], expected[0, allowed])
    assert (result[~allowed] < -1e30).all()


def test_converted_weights_continue_a_sentence_like_the_gguf_model():
    """The whole network, built for the CPU from the compiler's own definition and weights: the
    greedy continuation of a prompt is the GGUF model's (Q/K permutation and tied embeddings
    undone right, the tokenizer splitting as llama.cpp does)."""
    from tokenizers import Tokenizer

    from desktop_llm.compiler.llama import LlamaForCausalLM

    source = GGUFModel(embedded_source())
    shape = source.shape()
    target = Target({"kind": "llvm"})
    model = LlamaForCausalLM(shape, target)
    mod, params = model.export_tvm(spec=model.get_default_spec())
    with target:
        executable = tvm.compile(mod, target, relax_pipeline=pipeline(target))
    vm = relax.VirtualMachine(executable, tvm.cpu())
    weights = dict(source.weights())
    packed = [tensor(weights[name]) for name, _ in params]
    tokenizer = Tokenizer.from_str(source.tokenizer_json())
    prompt = "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n"
    ids = tokenizer.encode(prompt).ids
    shapes = [tvm.runtime.ShapeTuple([n]) for n in (1, 512, 128, 16, 0)]
    cache = vm["create_tir_paged_kv_cache"](*shapes)
    tvm.get_global_func("vm.builtin.kv_state_add_sequence")(cache, 0)
    begin = tvm.get_global_func("vm.builtin.kv_state_begin_forward")
    end = tvm.get_global_func("vm.builtin.kv_state_end_forward")
    answer: list[int] = []
    step, function = ids, "prefill"
    while len(answer) < 8:
        embeddings = vm["embed"](tensor(np.array(step, np.int32)), packed).numpy()
        begin(cache, tvm.runtime.ShapeTuple([0]), tvm.runtime.ShapeTuple([len(step)]))
        logits, cache = vm[function](tensor(embeddings[None]), cache, packed)
        end(cache)
        step, function = [int(logits.numpy().reshape(-1).argmax())], "decode"
        answer.append(step[0])
    assert tokenizer.decode(answer).startswith("The capital of France is Paris.")


def make_gguf(path: Path, architecture: str) -> Path:
    import gguf

    writer = gguf.GGUFWriter(str(path), architecture)
    writer.add_block_count(1)
    writer.add_tensor("token_embd.weight", np.zeros((4, 8), np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def test_unsupported_files_are_refused_in_one_sentence(tmp_path: Path):
    store = ModelStore(tmp_path / "models")
    with pytest.raises(UnsupportedModel, match="only llama-family models"):
        compile_gguf(store, make_gguf(tmp_path / "phi.gguf", "phi2"))
    not_gguf = tmp_path / "notes.gguf"
    not_gguf.write_text("not a model")
    with pytest.raises(UnsupportedModel, match="not a readable GGUF file"):
        compile_gguf(store, not_gguf)
    with pytest.raises(CompileError, match="does not exist"):
        compile_gguf(store, tmp_path / "missing.gguf")
    assert store.list() == []
    leftovers = store.root / ".downloads"
    assert not leftovers.exists() or not any(leftovers.iterdir())


def test_cli_refuses_an_unsupported_gguf_without_a_traceback(tmp_path: Path):
    done = subprocess.run(
        [sys.executable, "-m", "desktop_llm", "models", "compile",
         str(make_gguf(tmp_path / "phi.gguf", "phi2"))],
        capture_output=True, text=True, env={"DESKTOP_LLM_HOME": str(tmp_path / "home"),
                                             "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert done.returncode == 1
    assert "only llama-family models" in done.stderr
    assert "Traceback" not in done.stderr


def start_compile(home: Path, gguf: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "desktop_llm", "models", "compile", str(gguf), "--id", "killed"],
        stderr=subprocess.PIPE, text=True, env={**os.environ, "DESKTOP_LLM_HOME": str(home)},
    )  # fmt: skip


def wait_for_step(process: subprocess.Popen, step: str) -> None:
    assert process.stderr is not None
    for line in process.stderr:
        if step in line:
            return
    raise AssertionError(f"the compiler ended before {step!r}")


def test_a_killed_or_interrupted_compile_adds_nothing(tmp_path: Path):
    """kill -9 while linking leaves no model in the store; Ctrl-C while linking stops at once
    with one sentence and cleans up its work folder."""
    home = tmp_path / "home"
    store = ModelStore(home / "data" / "models")
    killed = start_compile(home, embedded_source())
    wait_for_step(killed, "linking")
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    assert store.get("killed") is None

    interrupted = start_compile(home, embedded_source())
    wait_for_step(interrupted, "linking")
    started = time.monotonic()
    interrupted.send_signal(signal.SIGINT)
    _, rest = interrupted.communicate(timeout=30)
    assert time.monotonic() - started < 5
    assert interrupted.returncode == 130
    assert "Stopped; nothing was added" in rest and "Traceback" not in rest
    assert store.get("killed") is None
    assert not (store.root / ".downloads" / ".compile-killed").exists()


def test_the_web_runtime_is_built_once_per_machine_and_emcc_is_asked_for(monkeypatch, tmp_path):
    from desktop_llm.compiler import web_runtime

    objects = web_runtime.ensure()  # built by ./dev setup, or now
    stamps = [p.stat().st_mtime_ns for p in objects]
    assert web_runtime.ensure() == objects
    assert [p.stat().st_mtime_ns for p in objects] == stamps
    assert {p.name for p in objects} == {"wasm_runtime.o", "tvmjs_support.o", "webgpu_runtime.o"}

    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(web_runtime.RuntimeBuildError, match="sudo apt install emscripten"):
        web_runtime.emcc()
