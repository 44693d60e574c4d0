"""What the compiler reads from a GGUF file: the model's shape, its weights in the layout the
WebGPU model expects, its tokenizer and its chat format.

Only `general.architecture` = "llama" with a byte-level BPE vocabulary (Llama 3.x, SmolLM,
SmolLM2) is supported; anything else raises `UnsupportedModel` with the reason in one sentence.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

# Weight types the converter can turn into float32 (the gguf package dequantizes them).
SUPPORTED_TYPES = (
    *("F32", "F16", "BF16", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0"),
    *("Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K", "IQ4_NL", "IQ4_XS"),
)
# llama.cpp's token types: 3 is a control token (<|im_start|> and the like), 4 user-defined.
_SPECIAL_TOKEN_TYPES = (3, 4)


class UnsupportedModel(ValueError):
    """The GGUF file is not a model this compiler can build; the message says why."""


@dataclass(frozen=True)
class LlamaShape:
    vocab_size: int
    hidden_size: int
    intermediate_size: int
    num_layers: int
    num_heads: int
    num_kv_heads: int
    head_dim: int
    rms_norm_eps: float
    rope_theta: float
    context_window: int
    tie_embeddings: bool

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class GGUFModel:
    """A llama-family GGUF file, opened read-only (the file is memory-mapped, not loaded)."""

    def __init__(self, path: Path):
        import gguf

        self.path = path
        try:
            self._reader = gguf.GGUFReader(path)
        except (ValueError, OSError) as exc:
            raise UnsupportedModel(f"{path.name} is not a readable GGUF file ({exc}).") from exc
        self._tensors = {t.name: t for t in self._reader.tensors}
        architecture = self.field("general.architecture")
        if architecture != "llama":
            raise UnsupportedModel(
                f"{path.name} is a {architecture!r} model; only llama-family models "
                "(Llama 3, SmolLM) can be compiled for WebGPU so far."
            )
        if self.field("tokenizer.ggml.model") != "gpt2":
            raise UnsupportedModel(
                f"{path.name} uses a {self.field('tokenizer.ggml.model')!r} tokenizer; only "
                "byte-level BPE vocabularies (as in Llama 3, SmolLM, Qwen) are supported so far."
            )
        for tensor in self._reader.tensors:
            if tensor.tensor_type.name not in SUPPORTED_TYPES:
                raise UnsupportedModel(
                    f"{path.name} stores {tensor.name} as {tensor.tensor_type.name}, which the "
                    f"converter cannot read (it reads {', '.join(SUPPORTED_TYPES)})."
                )

    def field(self, key: str, default: Any = None) -> Any:
        field = self._reader.fields.get(key)
        return default if field is None else field.contents()

    @property
    def name(self) -> str:
        return str(self.field("general.name") or self.path.stem)

    def shape(self) -> LlamaShape:
        hidden = int(self.field("llama.embedding_length"))
        heads = int(self.field("llama.attention.head_count"))
        head_dim = int(self.field("llama.rope.dimension_count", hidden // heads))
        if head_dim * heads != hidden:
            raise UnsupportedModel(f"{self.path.name} has a head size this compiler cannot handle.")
        return LlamaShape(
            vocab_size=len(self.field("tokenizer.ggml.tokens")),
            hidden_size=hidden,
            intermediate_size=int(self.field("llama.feed_forward_length")),
            num_layers=int(self.field("llama.block_count")),
            num_heads=heads,
            num_kv_heads=int(self.field("llama.attention.head_count_kv", heads)),
            head_dim=head_dim,
            rms_norm_eps=float(self.field("llama.attention.layer_norm_rms_epsilon", 1e-5)),
            rope_theta=float(self.field("llama.rope.freq_base", 10000.0)),
            context_window=int(self.field("llama.context_length", 4096)),
            tie_embeddings="output.weight" not in self._tensors,
        )

    def _float32(self, name: str) -> np.ndarray:
        """One tensor as float32, [out, in] as in PyTorch (GGUF lists dimensions the other way)."""
        from gguf.quants import dequantize

        tensor = self._tensors[name]
        rows = [int(n) for n in reversed(tensor.shape.tolist())]
        values = dequantize(tensor.data, tensor.tensor_type)
        return np.ascontiguousarray(values.reshape(rows).astype(np.float32, copy=False))

    def _unpermute(self, weight: np.ndarray, heads: int) -> np.ndarray:
        """Undo the row order llama.cpp's converter gives Q and K (interleaved rotary halves)
        back to the order the rotary embedding of the compiled model expects."""
        rows, columns = weight.shape
        half = rows // heads // 2
        return weight.reshape(heads, half, 2, columns).swapaxes(1, 2).reshape(rows, columns)

    def weights(self) -> Iterator[tuple[str, np.ndarray]]:
        """(name, float32 array) for every parameter of `desktop_llm.compiler.llama`, in order."""
        shape = self.shape()
        yield "model.embed_tokens.weight", self._float32("token_embd.weight")
        for i in range(shape.num_layers):
            prefix, block = f"model.layers.{i}", f"blk.{i}"
            q = self._unpermute(self._float32(f"{block}.attn_q.weight"), shape.num_heads)
            k = self._unpermute(self._float32(f"{block}.attn_k.weight"), shape.num_kv_heads)
            v = self._float32(f"{block}.attn_v.weight")
            yield f"{prefix}.self_attn.qkv_proj.weight", np.concatenate([q, k, v])
            yield f"{prefix}.self_attn.o_proj.weight", self._float32(f"{block}.attn_output.weight")
            gate = self._float32(f"{block}.ffn_gate.weight")
            up = self._float32(f"{block}.ffn_up.weight")
            yield f"{prefix}.mlp.gate_up_proj.weight", np.concatenate([gate, up])
            yield f"{prefix}.mlp.down_proj.weight", self._float32(f"{block}.ffn_down.weight")
            yield f"{prefix}.input_layernorm.weight", self._float32(f"{block}.attn_norm.weight")
            yield (
                f"{prefix}.post_attention_layernorm.weight",
                self._float32(f"{block}.ffn_norm.weight"),
            )
        yield "model.norm.weight", self._float32("output_norm.weight")
        if not shape.tie_embeddings:
            yield "lm_head.weight", self._float32("output.weight")

    def tokenizer_json(self) -> str:
        """A Hugging Face tokenizer.json for the GGUF's vocabulary: byte-level BPE with its
        merges, single digits split (as llama.cpp's pre-tokenizers for these models do), and
        control tokens as special tokens."""
        from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, pre_tokenizers

        tokens = [str(t) for t in self.field("tokenizer.ggml.tokens")]
        types = list(self.field("tokenizer.ggml.token_type") or [1] * len(tokens))
        merges = [_pair(str(m)) for m in self.field("tokenizer.ggml.merges")]
        vocab = {token: i for i, token in enumerate(tokens)}
        tokenizer = Tokenizer(models.BPE(vocab=vocab, merges=merges, fuse_unk=False))
        # GPT-2's split, with digits one at a time: the "smollm" and "llama-bpe" pre-tokenizers.
        digits = pre_tokenizers.Split(Regex(r"\p{N}"), behavior="isolated")
        if self.field("tokenizer.ggml.pre") in ("llama-bpe", "llama3", "dbrx", "smaug-bpe"):
            digits = pre_tokenizers.Split(Regex(r"\p{N}{1,3}"), behavior="isolated")
        tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
            [digits, pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)]
        )
        tokenizer.decoder = decoders.ByteLevel()
        tokenizer.add_special_tokens(
            [
                AddedToken(token, special=True, normalized=False)
                for token, kind in zip(tokens, types, strict=False)
                if kind in _SPECIAL_TOKEN_TYPES
            ]
        )
        return str(tokenizer.to_str())

    def chat_format(self) -> dict[str, Any]:
        """WebLLM's conversation template for the GGUF's chat template, recognised by its
        markers (ChatML or Llama 3)."""
        template = str(self.field("tokenizer.chat_template") or "")
        tokens = [str(t) for t in self.field("tokenizer.ggml.tokens")]
        eos = int(self.field("tokenizer.ggml.eos_token_id", 2))

        def token_id(text: str) -> int:
            return tokens.index(text) if text in tokens else eos

        if "<|im_start|>" in template:
            return {
                "name": "chatml",
                "system_template": "<|im_start|>system\n{system_message}<|im_end|>\n",
                "system_message": _default_system_message(template),
                "roles": {"user": "<|im_start|>user", "assistant": "<|im_start|>assistant"},
                "role_templates": {"user": "{user_message}", "assistant": "{assistant_message}"},
                "seps": ["<|im_end|>\n"],
                "role_content_sep": "\n",
                "role_empty_sep": "\n",
                "stop_str": ["<|im_end|>"],
                "stop_token_ids": sorted({eos, token_id("<|im_end|>")}),
                "add_role_after_system_message": True,
            }
        if "<|start_header_id|>" in template:
            return {
                "name": "llama-3",
                "system_template": (
                    "<|start_header_id|>system<|end_header_id|>\n\n{system_message}<|eot_id|>"
                ),
                "system_message": "You are a helpful, respectful and honest assistant.",
                "system_prefix_token_ids": [token_id("<|begin_of_text|>")],
                "roles": {
                    "user": "<|start_header_id|>user",
                    "assistant": "<|start_header_id|>assistant",
                },
                "role_templates": {"user": "{user_message}", "assistant": "{assistant_message}"},
                "seps": ["<|eot_id|>"],
                "role_content_sep": "<|end_header_id|>\n\n",
                "role_empty_sep": "<|end_header_id|>\n\n",
                "stop_str": ["<|eot_id|>"],
                "stop_token_ids": sorted({eos, token_id("<|eot_id|>")}),
                "add_role_after_system_message": True,
            }
        raise UnsupportedModel(
            f"{self.path.name} has a chat template the compiler does not know; ChatML "
            "(<|im_start|>) and Llama 3 (<|start_header_id|>) templates are supported so far."
        )


def _pair(merge: str) -> tuple[str, str]:
    first, _, second = merge.partition(" ")
    return first, second


def _default_system_message(template: str) -> str:
    """The system message a ChatML template inserts when the conversation has none."""
    marker = "<|im_start|>system\n"
    start = template.find(marker)
    if start < 0:
        return ""
    end = template.find("<|im_end|>", start)
    return template[start + len(marker) : end] if end > start else ""


def tokenizer_info() -> dict[str, Any]:
    """How WebLLM post-processes this vocabulary's token table (byte-level BPE)."""
    return {
        "token_postproc_method": "byte_level",
        "prepend_space_in_encode": False,
        "strip_space_in_decode": False,
    }


def dump_json(data: dict[str, Any]) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False)
