"""The llama-family transformer, written with TVM's `relax.frontend.nn`, exporting the functions a
WebLLM model library provides:

    embed(input_ids[seq])                          -> embeddings[seq, hidden]
    prefill(embeddings[1, seq, hidden], kv_cache)  -> (logits[1, 1, vocab], kv_cache)
    decode(embeddings[1, 1, hidden], kv_cache)     -> (logits[1, 1, vocab], kv_cache)
    create_tir_paged_kv_cache(max_batch_size, max_total_seq_len, prefill_chunk_size,
                              page_size, support_sliding_window) -> kv_cache

Attention runs in TVM's paged KV cache (`nn.llm.TIRPagedKVCache`), which also applies the
rotary embedding, so Q and K weights are in Hugging Face's row order (see gguf_source).
"""

from __future__ import annotations

from typing import Any

from tvm import relax as rx
from tvm import te, tirx
from tvm.relax.frontend import nn
from tvm.relax.frontend.nn import Tensor, op
from tvm.relax.frontend.nn.llm.kv_cache import PagedKVCache, RopeMode, TIRPagedKVCache
from tvm.target import Target

from desktop_llm.compiler.gguf_source import LlamaShape
from desktop_llm.compiler.sampler import Sampler


class _Attention(nn.Module):
    def __init__(self, shape: LlamaShape):
        self.num_heads = shape.num_heads
        self.num_kv_heads = shape.num_kv_heads
        self.head_dim = shape.head_dim
        width = (shape.num_heads + 2 * shape.num_kv_heads) * shape.head_dim
        self.qkv_proj = nn.Linear(shape.hidden_size, width, bias=False)
        self.o_proj = nn.Linear(shape.num_heads * shape.head_dim, shape.hidden_size, bias=False)

    def forward(self, x: Tensor, kv_cache: PagedKVCache, layer_id: int) -> Tensor:
        batch, length, _ = x.shape
        qkv = op.reshape(
            self.qkv_proj(x),
            (batch, length, self.num_heads + 2 * self.num_kv_heads, self.head_dim),
        )
        out = kv_cache.attention_with_fused_qkv(
            layer_id, qkv, self.num_heads, sm_scale=self.head_dim**-0.5
        )
        return self.o_proj(op.reshape(out, (batch, length, self.num_heads * self.head_dim)))


class _MLP(nn.Module):
    def __init__(self, shape: LlamaShape):
        self.gate_up_proj = nn.Linear(shape.hidden_size, 2 * shape.intermediate_size, bias=False)
        self.down_proj = nn.Linear(shape.intermediate_size, shape.hidden_size, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        gate, up = op.split(self.gate_up_proj(x), 2, axis=-1)
        return self.down_proj(op.silu(gate) * up)


class _Layer(nn.Module):
    def __init__(self, shape: LlamaShape):
        self.self_attn = _Attention(shape)
        self.mlp = _MLP(shape)
        self.input_layernorm = nn.RMSNorm(shape.hidden_size, -1, shape.rms_norm_eps, bias=False)
        self.post_attention_layernorm = nn.RMSNorm(
            shape.hidden_size, -1, shape.rms_norm_eps, bias=False
        )

    def forward(self, x: Tensor, kv_cache: PagedKVCache, layer_id: int) -> Tensor:
        x = x + self.self_attn(self.input_layernorm(x), kv_cache, layer_id)
        return x + self.mlp(self.post_attention_layernorm(x))


class _Body(nn.Module):
    def __init__(self, shape: LlamaShape):
        self.embed_tokens = nn.Embedding(shape.vocab_size, shape.hidden_size)
        self.layers = nn.ModuleList([_Layer(shape) for _ in range(shape.num_layers)])
        self.norm = nn.RMSNorm(shape.hidden_size, -1, shape.rms_norm_eps, bias=False)

    def forward(self, x: Tensor, kv_cache: PagedKVCache) -> Tensor:
        for layer_id, layer in enumerate(self.layers):
            x = layer(x, kv_cache, layer_id)
        return self.norm(x)


class LlamaForCausalLM(Sampler):
    def __init__(self, shape: LlamaShape, target: Target):
        super().__init__(shape.vocab_size, gpu=target.kind.name != "llvm")
        self.shape = shape
        self.target = target
        self.model = _Body(shape)
        if not shape.tie_embeddings:
            self.lm_head = nn.Linear(shape.hidden_size, shape.vocab_size, bias=False)

    def _logits(self, hidden: Tensor) -> Tensor:
        if self.shape.tie_embeddings:
            return op.matmul(hidden, op.permute_dims(self.model.embed_tokens.weight))
        return self.lm_head(hidden)

    def embed(self, input_ids: Tensor) -> Tensor:
        return self.model.embed_tokens(input_ids)

    def prefill(self, embeddings: Tensor, kv_cache: PagedKVCache) -> tuple[Tensor, PagedKVCache]:
        hidden = self.model(embeddings, kv_cache)
        return self._logits(_last_token(hidden)), kv_cache

    def decode(self, embeddings: Tensor, kv_cache: PagedKVCache) -> tuple[Tensor, PagedKVCache]:
        return self._logits(self.model(embeddings, kv_cache)), kv_cache

    def create_tir_paged_kv_cache(
        self,
        max_batch_size: tirx.Var,
        max_total_seq_len: tirx.Var,
        prefill_chunk_size: tirx.Var,
        page_size: tirx.Var,
        support_sliding_window: tirx.Var,
    ) -> PagedKVCache:
        shape = self.shape
        return TIRPagedKVCache(
            attn_kind="mha",
            max_batch_size=max_batch_size,
            max_total_seq_len=max_total_seq_len,
            prefill_chunk_size=prefill_chunk_size,
            page_size=page_size,
            support_sliding_window=support_sliding_window,
            layer_partition=rx.ShapeExpr([0, shape.num_layers]),
            num_hidden_layers=shape.num_layers,
            num_attention_heads=shape.num_heads,
            num_key_value_heads=shape.num_kv_heads,
            qk_head_dim=shape.head_dim,
            v_head_dim=shape.head_dim,
            mla_original_qk_head_dim=0,
            mla_original_v_head_dim=0,
            rope_mode=RopeMode.NORMAL,
            rope_scale=1,
            rope_theta=shape.rope_theta,
            rope_scaling={},
            rope_ext_factors=rx.prim_value(0),
            rotary_dim=shape.head_dim,
            enable_disaggregation=False,
            dtype="float32",
            target=self.target,
        )

    def get_default_spec(self) -> Any:
        hidden = self.shape.hidden_size
        packed = {"$": {"param_mode": "packed", "effect_mode": "none"}}
        return nn.spec.ModuleSpec.from_raw(
            {
                "embed": {"input_ids": nn.spec.Tensor(["seq_len"], "int32"), **packed},
                "prefill": {
                    "embeddings": nn.spec.Tensor([1, "seq_len", hidden], "float32"),
                    "kv_cache": nn.spec.Object(object_type=PagedKVCache),
                    **packed,
                },
                "decode": {
                    "embeddings": nn.spec.Tensor([1, 1, hidden], "float32"),
                    "kv_cache": nn.spec.Object(object_type=PagedKVCache),
                    **packed,
                },
                "create_tir_paged_kv_cache": {
                    "max_batch_size": int,
                    "max_total_seq_len": int,
                    "prefill_chunk_size": int,
                    "page_size": int,
                    "support_sliding_window": int,
                    "$": {"param_mode": "none", "effect_mode": "none"},
                },
                **self.sampler_spec(),
            },
            self,
        )


def _last_token(hidden: Tensor) -> Tensor:
    """hidden[:, -1:, :]: only the last position's logits are needed after a prefill."""
    return op.tensor_expr_op(
        lambda x: te.compute((x.shape[0], 1, x.shape[2]), lambda b, _, k: x[b, x.shape[1] - 1, k]),
        "last_token",
        [hidden],
    )
