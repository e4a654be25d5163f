"""Attention written from the formula: scaled dot-product attention, masks, multi-head attention,
sinusoidal positions and rotary embeddings (RoPE).

Masks are boolean and **True means "may attend"** everywhere in this module (PyTorch's
``nn.MultiheadAttention`` uses the opposite convention; pass ``~mask`` there). Scores have shape
``(..., n_queries, n_keys)``; a mask must broadcast to that shape, e.g. ``causal_mask(n)`` of shape
``(n, n)``, ``padding_mask(lengths)`` of shape ``(batch, 1, 1, n)``, or their ``&``.
"""
from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import Tensor, nn

__all__ = [
    "scaled_dot_product_attention", "causal_mask", "padding_mask", "split_heads", "merge_heads",
    "MultiHeadAttention", "sinusoidal_positional_encoding", "apply_rope", "apply_rope_half",
]


def _check_qkv(q: Tensor, k: Tensor, v: Tensor) -> None:
    """Raise a ValueError that says what to fix when q, k, v do not fit together."""
    for name, t in (("q", q), ("k", k), ("v", v)):
        if not isinstance(t, Tensor):
            raise ValueError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
        if t.ndim < 2:
            raise ValueError(f"{name} must have shape (..., seq_len, dim), got {tuple(t.shape)}")
    if not (q.dtype == k.dtype == v.dtype) or not q.dtype.is_floating_point:
        raise ValueError(f"q, k, v must share one floating-point dtype, got {q.dtype}, {k.dtype}, {v.dtype}; "
                         "convert them with .to(torch.float32) (or float64)")
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(f"q and k must have the same last dimension d_k, got q {tuple(q.shape)} and "
                         f"k {tuple(k.shape)}")
    if k.shape[:-1] != v.shape[:-1]:
        raise ValueError(f"k and v must have the same leading shape (..., n_keys), got k {tuple(k.shape)} "
                         f"and v {tuple(v.shape)}")
    if q.shape[:-2] != k.shape[:-2]:
        raise ValueError(f"q and k must have the same batch dimensions, got q {tuple(q.shape)} and "
                         f"k {tuple(k.shape)}")


def scaled_dot_product_attention(q: Tensor, k: Tensor, v: Tensor,
                                 mask: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """Return ``(softmax(q k^T / sqrt(d_k)) v, weights)`` for q ``(..., n_q, d_k)``, k ``(..., n_k, d_k)``, v ``(..., n_k, d_v)``.

    ``mask`` is boolean, broadcastable to ``(..., n_q, n_k)``; **True = may attend**, False = blocked.
    A fully masked query row (it may attend to nothing) gets all-zero weights and an all-zero output
    instead of NaN (PyTorch's own kernels may return NaN or zeros there).
    """
    _check_qkv(q, k, v)
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if mask is None:
        weights = torch.softmax(scores, dim=-1)
        return weights @ v, weights
    if not isinstance(mask, Tensor) or mask.dtype != torch.bool:
        raise ValueError("mask must be a boolean tensor with True = may attend; convert a 0/1 mask with "
                         "mask.bool(), or an additive float mask (0 / -inf) with mask == 0")
    try:
        shape = torch.broadcast_shapes(mask.shape, scores.shape)
    except RuntimeError:
        shape = None
    if shape != scores.shape:
        raise ValueError(f"mask of shape {tuple(mask.shape)} does not broadcast to the scores' shape "
                         f"{tuple(scores.shape)} (..., n_queries, n_keys)")
    scores = scores.masked_fill(~mask, float("-inf"))
    weights = torch.softmax(scores, dim=-1)
    weights = weights.masked_fill(~mask, 0.0)  # a fully masked row is all NaN here: make it zeros
    return weights @ v, weights


def causal_mask(n: int, device: torch.device | str | None = None) -> Tensor:
    """Boolean ``(n, n)`` mask, True where key j <= query i: each position sees itself and the past."""
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"causal_mask needs a positive int length, got {n!r}")
    return torch.ones(n, n, dtype=torch.bool, device=device).tril()


def padding_mask(lengths_or_attention_mask: Tensor | Sequence[int], max_len: int | None = None) -> Tensor:
    """Boolean ``(batch, 1, 1, n)`` mask, True on real tokens, from lengths or a 0/1 ``(batch, n)`` attention mask.

    The two singleton dimensions broadcast over heads and queries of ``(batch, heads, n_q, n)`` scores.
    """
    x = torch.as_tensor(lengths_or_attention_mask)
    if x.ndim == 2:
        if max_len is not None and max_len != x.shape[1]:
            raise ValueError(f"max_len={max_len} disagrees with the attention mask's length {x.shape[1]}")
        if not ((x == 0) | (x == 1)).all():
            raise ValueError("an attention mask must contain only 0 (padding) and 1 (token)")
        keep = x.bool()
    elif x.ndim == 1:
        if x.dtype.is_floating_point or x.dtype == torch.bool or (x < 0).any():
            raise ValueError(f"lengths must be non-negative integers, got {x.tolist()}")
        n = int(x.max()) if max_len is None else max_len
        if int(x.max()) > n:
            raise ValueError(f"a length {int(x.max())} exceeds max_len={n}")
        keep = torch.arange(n, device=x.device)[None, :] < x[:, None]
    else:
        raise ValueError("pass a 1-D sequence of lengths or a 2-D (batch, n) 0/1 attention mask, "
                         f"got shape {tuple(x.shape)}")
    return keep[:, None, None, :]


def split_heads(x: Tensor, num_heads: int) -> Tensor:
    """``(batch, n, d_model)`` -> ``(batch, heads, n, d_model // heads)``."""
    b, n, d = x.shape
    if d % num_heads:
        raise ValueError(f"d_model={d} is not divisible by num_heads={num_heads}")
    return x.view(b, n, num_heads, d // num_heads).transpose(1, 2)


def merge_heads(x: Tensor) -> Tensor:
    """``(batch, heads, n, d_head)`` -> ``(batch, n, heads * d_head)``: the inverse of :func:`split_heads`."""
    b, h, n, dh = x.shape
    return x.transpose(1, 2).reshape(b, n, h * dh)


class MultiHeadAttention(nn.Module):
    """Multi-head attention with its own q/k/v/output projections; inputs are ``(batch, n, d_model)``."""

    def __init__(self, d_model: int, num_heads: int, bias: bool = True, dropout: float = 0.0) -> None:
        super().__init__()
        if d_model % num_heads:
            raise ValueError(f"d_model={d_model} is not divisible by num_heads={num_heads}")
        self.d_model, self.num_heads = d_model, num_heads
        self.q_proj = nn.Linear(d_model, d_model, bias=bias)
        self.k_proj = nn.Linear(d_model, d_model, bias=bias)
        self.v_proj = nn.Linear(d_model, d_model, bias=bias)
        self.out_proj = nn.Linear(d_model, d_model, bias=bias)
        self.dropout = nn.Dropout(dropout)

    def forward(self, query: Tensor, key: Tensor | None = None, value: Tensor | None = None,
                mask: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Return ``(output (batch, n_q, d_model), weights (batch, heads, n_q, n_k))``; key/value default to query (self-attention)."""
        key = query if key is None else key
        value = key if value is None else value
        q = split_heads(self.q_proj(query), self.num_heads)
        k = split_heads(self.k_proj(key), self.num_heads)
        v = split_heads(self.v_proj(value), self.num_heads)
        _, weights = scaled_dot_product_attention(q, k, v, mask)
        context = self.dropout(weights) @ v
        return self.out_proj(merge_heads(context)), weights

    @torch.no_grad()
    def copy_from_torch(self, mha: nn.MultiheadAttention) -> "MultiHeadAttention":
        """Copy the weights of a ``torch.nn.MultiheadAttention`` (same d_model and heads) into this module."""
        if mha.embed_dim != self.d_model or mha.num_heads != self.num_heads or mha.in_proj_weight is None:
            raise ValueError("need an nn.MultiheadAttention with the same embed_dim and num_heads and "
                             "kdim == vdim == embed_dim")
        for i, proj in enumerate((self.q_proj, self.k_proj, self.v_proj)):
            proj.weight.copy_(mha.in_proj_weight[i * self.d_model:(i + 1) * self.d_model])
            if proj.bias is not None and mha.in_proj_bias is not None:
                proj.bias.copy_(mha.in_proj_bias[i * self.d_model:(i + 1) * self.d_model])
        self.out_proj.weight.copy_(mha.out_proj.weight)
        if self.out_proj.bias is not None and mha.out_proj.bias is not None:
            self.out_proj.bias.copy_(mha.out_proj.bias)
        return self


def sinusoidal_positional_encoding(n: int, d: int, base: float = 10000.0,
                                   dtype: torch.dtype | None = None) -> Tensor:
    """``(n, d)`` table of Vaswani et al.: PE[p, 2i] = sin(p / base^(2i/d)), PE[p, 2i+1] = cos(same).

    Computed in float64 and returned in ``dtype`` (default: torch's default dtype, usually float32)."""
    if n < 1 or d < 2 or d % 2:
        raise ValueError(f"need n >= 1 and an even d >= 2, got n={n}, d={d}")
    pos = torch.arange(n, dtype=torch.float64)[:, None]
    angle = pos / base ** (torch.arange(0, d, 2, dtype=torch.float64) / d)
    pe = torch.empty(n, d, dtype=torch.float64)
    pe[:, 0::2], pe[:, 1::2] = torch.sin(angle), torch.cos(angle)
    return pe.to(dtype or torch.get_default_dtype())


def apply_rope(x: Tensor, positions: Tensor | None = None, base: float = 10000.0) -> Tensor:
    """Rotate each pair (x[2i], x[2i+1]) of ``x (..., n, d)`` by angle position * base^(-2i/d) (RoPE, Su et al.).

    ``positions`` (length n) defaults to 0..n-1. After rotation, q_m . k_n depends only on m - n.
    """
    n, d = x.shape[-2], x.shape[-1]
    if d % 2:
        raise ValueError(f"RoPE rotates pairs of features: the last dimension must be even, got {d}")
    pos = torch.arange(n, device=x.device) if positions is None else torch.as_tensor(positions, device=x.device)
    if pos.shape != (n,):
        raise ValueError(f"positions must have shape ({n},), got {tuple(pos.shape)}")
    inv_freq = base ** (-torch.arange(0, d, 2, device=x.device, dtype=torch.float64) / d)
    angle = pos.to(torch.float64)[:, None] * inv_freq  # (n, d/2)
    cos, sin = angle.cos().to(x.dtype), angle.sin().to(x.dtype)
    x1, x2 = x[..., 0::2], x[..., 1::2]
    out = torch.empty_like(x)
    out[..., 0::2] = x1 * cos - x2 * sin
    out[..., 1::2] = x1 * sin + x2 * cos
    return out


def apply_rope_half(x: Tensor, positions: Tensor | None = None, base: float = 10000.0) -> Tensor:
    """RoPE in the rotate-half layout of Llama and Hugging Face: pair i is (x[i], x[i + d/2]), not
    (x[2i], x[2i+1]) as in :func:`apply_rope`; same angles, so the two agree after permuting features."""
    d = x.shape[-1]
    if d % 2:
        raise ValueError(f"RoPE rotates pairs of features: the last dimension must be even, got {d}")
    pairs = torch.stack([x[..., : d // 2], x[..., d // 2:]], dim=-1).flatten(-2)   # to interleaved
    out = apply_rope(pairs, positions, base)
    return torch.cat([out[..., 0::2], out[..., 1::2]], dim=-1)                     # and back
