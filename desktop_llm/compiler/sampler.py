"""The sampling and logit-processing functions WebLLM calls on a model library, for every token:

    softmax_with_temperature(logits[b, n, vocab], temperature[b])       -> probs[b, n, vocab]
    argsort_probs(probs[b, vocab])            -> (sorted_probs[b, vocab], sorted_ids[b, vocab])
    sample_with_top_p(sorted_probs, sorted_ids, uniform[s], sample_rows[s], top_p[b]) -> ids[s]
    apply_logit_bias_inplace(logits[b, vocab], rows[t], token_ids[t], bias[t])
    apply_penalty_inplace(logits[b, vocab], seq_rows[q], rows[t], token_ids[t], counts[t],
                          penalties[q, 3])       presence, frequency, repetition per sequence
    apply_bitmask_inplace(logits[b, vocab], seq_rows[q], bitmask[b, ceil(vocab / 32)])

The in-place functions change `logits` and return nothing, as WebLLM expects.

TVM's own GPU argsort binds blockIdx.z, which its WebGPU code generator rejects, so
`argsort_probs` is a bitonic sort written here: the row is padded to a power of two with -inf,
then log2(n) * (log2(n) + 1) / 2 compare-and-swap passes run, one kernel launch each, with
every thread ordering one pair. Order: larger probability first, then smaller token id, so
ties come out as a stable descending sort would give them.

Every kernel is written once and built two ways: with GPU thread bindings for the model library,
and as plain loops (`gpu=False`) so that the tests can run the same code on the CPU against numpy.
"""

from __future__ import annotations

from typing import Any

import tvm
from tvm import tirx
from tvm.relax.frontend import nn
from tvm.relax.frontend.nn import Tensor, op
from tvm.script import tirx as T

THREADS = 256  # threads per workgroup; WebGPU guarantees at least 256


def _loops(gpu: bool) -> Any:
    def loop(extent: Any, thread: str) -> Any:
        return T.thread_binding(extent, thread=thread) if gpu else T.serial(extent)

    return loop


def padded_width(vocab_size: int) -> int:
    return 1 << max(1, (vocab_size - 1).bit_length())


def argsort_kernel(vocab_size: int, gpu: bool = True) -> tirx.PrimFunc:
    """argsort(probs, descending) into (sorted_probs, sorted_ids), using two scratch rows of
    the padded width that the caller allocates."""
    loop = _loops(gpu)
    width = padded_width(vocab_size)
    stages = width.bit_length() - 1
    pairs = width // 2

    @T.prim_func
    def argsort_probs_bitonic(
        var_probs: T.handle,
        var_sorted_probs: T.handle,
        var_sorted_ids: T.handle,
        var_keys: T.handle,
        var_ids: T.handle,
    ):
        T.func_attr({"tirx.is_scheduled": True, "tirx.noalias": True, "op_pattern": 8})
        batch = T.int32()
        probs = T.match_buffer(var_probs, (batch, vocab_size), "float32")
        sorted_probs = T.match_buffer(var_sorted_probs, (batch, vocab_size), "float32")
        sorted_ids = T.match_buffer(var_sorted_ids, (batch, vocab_size), "int32")
        keys = T.match_buffer(var_keys, (batch, width), "float32")
        ids = T.match_buffer(var_ids, (batch, width), "int32")
        for bx in loop(batch * (width // THREADS), "blockIdx.x"):
            for tx in loop(THREADS, "threadIdx.x"):
                row: T.let[T.int32] = bx // (width // THREADS)
                col: T.let[T.int32] = bx % (width // THREADS) * THREADS + tx
                keys[row, col] = T.if_then_else(
                    col < vocab_size, probs[row, T.min(col, vocab_size - 1)], T.min_value("float32")
                )
                ids[row, col] = col
        for stage in T.serial(stages):
            for step in T.serial(stage + 1):
                for bx in loop(batch * (pairs // THREADS), "blockIdx.x"):
                    for tx in loop(THREADS, "threadIdx.x"):
                        row: T.let[T.int32] = bx // (pairs // THREADS)
                        pair: T.let[T.int32] = bx % (pairs // THREADS) * THREADS + tx
                        gap: T.let[T.int32] = T.shift_left(1, stage - step)
                        first: T.let[T.int32] = pair // gap * gap * 2 + pair % gap
                        second: T.let[T.int32] = first + gap
                        descending: T.let[T.bool] = (
                            T.bitwise_and(first, T.shift_left(2, stage)) == 0
                        )
                        second_first: T.let[T.bool] = keys[row, second] > keys[row, first] or (
                            keys[row, second] == keys[row, first]
                            and ids[row, second] < ids[row, first]
                        )
                        if T.Cast("int32", second_first) == T.Cast("int32", descending):
                            key: T.let[T.float32] = keys[row, first]
                            index: T.let[T.int32] = ids[row, first]
                            keys[row, first] = keys[row, second]
                            ids[row, first] = ids[row, second]
                            keys[row, second] = key
                            ids[row, second] = index
        for bx in loop(batch * ((vocab_size + THREADS - 1) // THREADS), "blockIdx.x"):
            for tx in loop(THREADS, "threadIdx.x"):
                row: T.let[T.int32] = bx // ((vocab_size + THREADS - 1) // THREADS)
                col: T.let[T.int32] = bx % ((vocab_size + THREADS - 1) // THREADS) * THREADS + tx
                if col < vocab_size:
                    sorted_probs[row, col] = keys[row, col]
                    sorted_ids[row, col] = ids[row, col]

    return argsort_probs_bitonic


def logit_bias_kernel(gpu: bool = True) -> tirx.PrimFunc:
    loop = _loops(gpu)

    @T.prim_func
    def apply_logit_bias_inplace(
        var_logits: T.handle, var_rows: T.handle, var_token_ids: T.handle, var_bias: T.handle
    ):
        T.func_attr(
            {
                "global_symbol": "apply_logit_bias_inplace",
                "tirx.is_scheduled": True,
                "op_pattern": 8,
            }
        )
        batch, vocab, count = T.int32(), T.int32(), T.int32()
        logits = T.match_buffer(var_logits, (batch, vocab), "float32")
        rows = T.match_buffer(var_rows, (count,), "int32")
        token_ids = T.match_buffer(var_token_ids, (count,), "int32")
        bias = T.match_buffer(var_bias, (count,), "float32")
        for bx in loop((count + THREADS - 1) // THREADS, "blockIdx.x"):
            for tx in loop(THREADS, "threadIdx.x"):
                if bx * THREADS + tx < count:
                    i: T.let[T.int32] = bx * THREADS + tx
                    logits[rows[i], token_ids[i]] = logits[rows[i], token_ids[i]] + bias[i]

    return apply_logit_bias_inplace


def penalty_kernel(gpu: bool = True) -> tirx.PrimFunc:
    loop = _loops(gpu)

    @T.prim_func
    def apply_penalty_inplace(
        var_logits: T.handle,
        var_seq_rows: T.handle,
        var_rows: T.handle,
        var_token_ids: T.handle,
        var_counts: T.handle,
        var_penalties: T.handle,
    ):
        T.func_attr(
            {"global_symbol": "apply_penalty_inplace", "tirx.is_scheduled": True, "op_pattern": 8}
        )
        batch, vocab, seqs, count = T.int32(), T.int32(), T.int32(), T.int32()
        logits = T.match_buffer(var_logits, (batch, vocab), "float32")
        seq_rows = T.match_buffer(var_seq_rows, (seqs,), "int32")
        rows = T.match_buffer(var_rows, (count,), "int32")
        token_ids = T.match_buffer(var_token_ids, (count,), "int32")
        counts = T.match_buffer(var_counts, (count,), "int32")
        penalties = T.match_buffer(var_penalties, (seqs, 3), "float32")
        for bx in loop((count + THREADS - 1) // THREADS, "blockIdx.x"):
            for tx in loop(THREADS, "threadIdx.x"):
                if bx * THREADS + tx < count:
                    i: T.let[T.int32] = bx * THREADS + tx
                    seq: T.let[T.int32] = rows[i]
                    row: T.let[T.int32] = seq_rows[seq]
                    value: T.let[T.float32] = logits[row, token_ids[i]] - (
                        penalties[seq, 0] + T.Cast("float32", counts[i]) * penalties[seq, 1]
                    )
                    logits[row, token_ids[i]] = T.if_then_else(
                        value < T.float32(0), value * penalties[seq, 2], value / penalties[seq, 2]
                    )

    return apply_penalty_inplace


def bitmask_kernel(gpu: bool = True) -> tirx.PrimFunc:
    loop = _loops(gpu)

    @T.prim_func
    def apply_bitmask_inplace(var_logits: T.handle, var_seq_rows: T.handle, var_bitmask: T.handle):
        T.func_attr(
            {"global_symbol": "apply_bitmask_inplace", "tirx.is_scheduled": True, "op_pattern": 8}
        )
        batch, vocab, seqs = T.int32(), T.int32(), T.int32()
        logits = T.match_buffer(var_logits, (batch, vocab), "float32")
        seq_rows = T.match_buffer(var_seq_rows, (seqs,), "int32")
        bitmask = T.match_buffer(var_bitmask, (batch, (vocab + 31) // 32), "int32")
        for bx in loop((seqs * vocab + THREADS - 1) // THREADS, "blockIdx.x"):
            for tx in loop(THREADS, "threadIdx.x"):
                if bx * THREADS + tx < seqs * vocab:
                    row: T.let[T.int32] = seq_rows[(bx * THREADS + tx) // vocab]
                    token: T.let[T.int32] = (bx * THREADS + tx) % vocab
                    allowed: T.let[T.int32] = T.bitwise_and(
                        T.shift_right(bitmask[row, token // 32], token % 32), 1
                    )
                    if allowed == 0:
                        logits[row, token] = T.min_value("float32")

    return apply_bitmask_inplace


class Sampler(nn.Module):
    """The relax-level sampler functions (a model inherits them, so that one export holds both);
    the in-place ones are plain kernels (see attach_inplace_kernels)."""

    def __init__(self, vocab_size: int, gpu: bool = True):
        self.vocab_size = vocab_size
        self.gpu = gpu

    def softmax_with_temperature(self, logits: Tensor, temperature: Tensor) -> Tensor:
        batch = logits.shape[0]
        return op.softmax(logits / op.reshape(temperature, (batch, 1, 1)), axis=-1)

    def argsort_probs(self, probs: Tensor) -> tuple[Tensor, Tensor]:
        batch = probs.shape[0]
        width = padded_width(self.vocab_size)
        outputs = op.tensor_ir_op(
            argsort_kernel(self.vocab_size, self.gpu),
            "argsort_probs_bitonic",
            args=[probs],
            out=[
                Tensor.placeholder([batch, self.vocab_size], "float32"),
                Tensor.placeholder([batch, self.vocab_size], "int32"),
                Tensor.placeholder([batch, width], "float32"),
                Tensor.placeholder([batch, width], "int32"),
            ],
        )
        return outputs[0], outputs[1]

    def sample_with_top_p(
        self,
        sorted_probs: Tensor,
        sorted_ids: Tensor,
        uniform_samples: Tensor,
        sample_rows: Tensor,
        top_p: Tensor,
    ) -> Tensor:
        batch = sorted_probs.shape[0]
        samples = uniform_samples.shape[0]
        top_k = op.full([batch, 1], self.vocab_size, dtype="int32")
        chosen = op.sample_top_p_top_k_from_sorted_prob(
            sorted_probs,
            sorted_ids,
            op.reshape(top_p, (batch, 1)),
            top_k,
            op.reshape(uniform_samples, (samples, 1)),
            op.reshape(sample_rows, (samples, 1)),
        )
        return op.reshape(chosen, (samples,))

    def get_default_spec(self) -> Any:
        return nn.spec.ModuleSpec.from_raw(self.sampler_spec(), self)

    def sampler_spec(self) -> dict[str, Any]:
        plain = {"$": {"param_mode": "none", "effect_mode": "none"}}
        vocab = self.vocab_size
        return {
            "softmax_with_temperature": {
                "logits": nn.spec.Tensor(["batch_size", "num_positions", vocab], "float32"),
                "temperature": nn.spec.Tensor(["batch_size"], "float32"),
                **plain,
            },
            "argsort_probs": {"probs": nn.spec.Tensor(["batch_size", vocab], "float32"), **plain},
            "sample_with_top_p": {
                "sorted_probs": nn.spec.Tensor(["batch_size", vocab], "float32"),
                "sorted_ids": nn.spec.Tensor(["batch_size", vocab], "int32"),
                "uniform_samples": nn.spec.Tensor(["num_samples"], "float32"),
                "sample_rows": nn.spec.Tensor(["num_samples"], "int32"),
                "top_p": nn.spec.Tensor(["batch_size"], "float32"),
                **plain,
            },
        }


def attach_inplace_kernels(mod: tvm.IRModule, gpu: bool = True) -> tvm.IRModule:
    """Add the three in-place logit processors, which are kernels, not relax functions."""
    mod["apply_logit_bias_inplace"] = logit_bias_kernel(gpu)
    mod["apply_penalty_inplace"] = penalty_kernel(gpu)
    mod["apply_bitmask_inplace"] = bitmask_kernel(gpu)
    return mod
