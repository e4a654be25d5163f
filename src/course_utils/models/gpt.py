"""A small GPT (decoder-only Transformer) written for reading: pre-norm blocks, fused causal
attention (``F.scaled_dot_product_attention``), optional weight tying and a KV cache for decoding.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

# One layer's cache: keys and values of every position seen so far, each (batch, heads, T, head_dim).
KV = tuple[torch.Tensor, torch.Tensor]


@dataclass
class GPTConfig:
    """Shape of a :class:`GPT`: vocabulary, context length, depth, heads, width, dropout, tying."""

    vocab_size: int = 65
    block_size: int = 256
    n_layer: int = 6
    n_head: int = 6
    n_embd: int = 384
    dropout: float = 0.0
    bias: bool = False              # biases in Linear and LayerNorm (GPT-2 had them)
    tie_weights: bool = True        # the output layer shares the token-embedding matrix
    attention: str = "sdpa"         # "sdpa" (fused PyTorch kernel) or "plain" (explicit softmax)

    def __post_init__(self) -> None:
        if self.n_embd % self.n_head:
            raise ValueError(f"n_embd={self.n_embd} must be divisible by n_head={self.n_head}; "
                             "pick a width that is a multiple of the number of heads.")
        if self.attention not in ("sdpa", "plain"):
            raise ValueError(f"attention must be 'sdpa' or 'plain', not {self.attention!r}")
        if min(self.vocab_size, self.block_size, self.n_layer, self.n_head) < 1:
            raise ValueError("vocab_size, block_size, n_layer and n_head must all be >= 1")


def plain_causal_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """softmax(q k^T / sqrt(d) + causal mask) v, written out; queries are the last positions."""
    tq, tk = q.size(-2), k.size(-2)
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))
    # query i sits at absolute position tk - tq + i and may attend to keys 0..that position
    allowed = torch.ones(tq, tk, dtype=torch.bool, device=q.device).tril(diagonal=tk - tq)
    scores = scores.masked_fill(~allowed, float("-inf"))
    return torch.softmax(scores, dim=-1) @ v


class CausalSelfAttention(nn.Module):
    """Multi-head causal self-attention with one fused q/k/v projection."""

    def __init__(self, cfg: GPTConfig) -> None:
        super().__init__()
        self.n_head, self.dropout, self.kind = cfg.n_head, cfg.dropout, cfg.attention
        self.qkv = nn.Linear(cfg.n_embd, 3 * cfg.n_embd, bias=cfg.bias)
        self.proj = nn.Linear(cfg.n_embd, cfg.n_embd, bias=cfg.bias)
        self.resid_drop = nn.Dropout(cfg.dropout)

    def forward(self, x: torch.Tensor, past: KV | None = None) -> tuple[torch.Tensor, KV]:
        b, t, c = x.shape
        q, k, v = self.qkv(x).split(c, dim=2)
        q, k, v = (z.view(b, t, self.n_head, c // self.n_head).transpose(1, 2) for z in (q, k, v))
        if past is not None:
            k, v = torch.cat([past[0], k], dim=2), torch.cat([past[1], v], dim=2)
        if self.kind == "plain":
            y = plain_causal_attention(q, k, v)
        else:
            y = self._sdpa(q, k, v)
        y = y.transpose(1, 2).contiguous().view(b, t, c)
        return self.resid_drop(self.proj(y)), (k, v)

    def _sdpa(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        drop = self.dropout if self.training else 0.0
        t, tk = q.size(2), k.size(2)
        mask = None
        if 1 < t < tk:   # several new queries after a cache: bottom-right aligned causal mask
            mask = torch.ones(t, tk, dtype=torch.bool, device=q.device).tril(tk - t)
        # (t == 1 after a cache: the one new query may attend to every cached key, no mask)
        kw = dict(attn_mask=mask, dropout_p=drop, is_causal=t == tk)
        if q.device.type == "cpu" and torch.is_autocast_enabled("cpu"):
            # Under bf16 autocast on a CPU, PyTorch's fused attention kernel is several times
            # slower in bf16 than in fp32 (its backward most of all; see
            # benchmarks/gpt_vs_nanogpt.py), while the big matrix products gain from bf16.
            # So attention alone runs in fp32 here; the linear layers stay in bf16.
            with torch.autocast("cpu", enabled=False):
                y = F.scaled_dot_product_attention(q.float(), k.float(), v.float(), **kw)
            return y.to(torch.get_autocast_dtype("cpu"))
        return F.scaled_dot_product_attention(q, k, v, **kw)


class Block(nn.Module):
    """Pre-norm Transformer block: x + attn(ln(x)), then x + mlp(ln(x))."""

    def __init__(self, cfg: GPTConfig) -> None:
        super().__init__()
        self.ln1 = nn.LayerNorm(cfg.n_embd, bias=cfg.bias)
        self.attn = CausalSelfAttention(cfg)
        self.ln2 = nn.LayerNorm(cfg.n_embd, bias=cfg.bias)
        self.mlp = nn.Sequential(nn.Linear(cfg.n_embd, 4 * cfg.n_embd, bias=cfg.bias), nn.GELU(),
                                 nn.Linear(4 * cfg.n_embd, cfg.n_embd, bias=cfg.bias),
                                 nn.Dropout(cfg.dropout))

    def forward(self, x: torch.Tensor, past: KV | None = None) -> tuple[torch.Tensor, KV]:
        a, present = self.attn(self.ln1(x), past)
        x = x + a
        return x + self.mlp(self.ln2(x)), present


class GPT(nn.Module):
    """Decoder-only language model: ``model(idx)`` returns next-token logits (batch, T, vocab).

    With ``use_cache=True`` it returns ``(logits, cache)``; pass that cache back as ``past`` with
    only the new tokens to continue without recomputing the prefix (see course_utils.decoding).
    """

    def __init__(self, cfg: GPTConfig) -> None:
        super().__init__()
        self.config = cfg
        self.tok_emb = nn.Embedding(cfg.vocab_size, cfg.n_embd)
        self.pos_emb = nn.Embedding(cfg.block_size, cfg.n_embd)
        self.drop = nn.Dropout(cfg.dropout)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layer))
        self.ln_f = nn.LayerNorm(cfg.n_embd, bias=cfg.bias)
        self.head = nn.Linear(cfg.n_embd, cfg.vocab_size, bias=False)
        if cfg.tie_weights:
            self.head.weight = self.tok_emb.weight
        self.apply(self._init_weights)
        for name, p in self.named_parameters():   # GPT-2: scale residual projections by depth
            if name.endswith("attn.proj.weight") or name.endswith("mlp.2.weight"):
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * cfg.n_layer))

    @staticmethod
    def _init_weights(m: nn.Module) -> None:
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, mean=0.0, std=0.02)
        if isinstance(m, nn.Linear) and m.bias is not None:
            nn.init.zeros_(m.bias)

    def num_params(self, non_embedding: bool = False) -> int:
        """Parameter count (tied weights once); ``non_embedding`` drops the embedding tables."""
        n = sum(p.numel() for p in self.parameters())
        if non_embedding:
            n -= self.pos_emb.weight.numel()
            n -= self.tok_emb.weight.numel() if self.config.tie_weights else 0
        return n

    def forward(self, idx: torch.Tensor, past: list[KV] | None = None,
                use_cache: bool = False) -> torch.Tensor | tuple[torch.Tensor, list[KV]]:
        """Logits for every position of ``idx`` (batch, T); positions continue after ``past``."""
        if idx.dim() != 2:
            raise ValueError(f"idx must be (batch, T) token ids, got shape {tuple(idx.shape)}")
        start = past[0][0].size(2) if past else 0
        t = idx.size(1)
        if start + t > self.config.block_size:
            raise ValueError(f"{start + t} positions exceed block_size={self.config.block_size}; "
                             "crop the input to the last block_size tokens (decoding does this).")
        pos = torch.arange(start, start + t, device=idx.device)
        x = self.drop(self.tok_emb(idx) + self.pos_emb(pos))
        presents: list[KV] = []
        for i, block in enumerate(self.blocks):
            x, kv = block(x, past[i] if past else None)
            presents.append(kv)
        logits = self.head(self.ln_f(x))
        return (logits, presents) if use_cache else logits

    def flops_per_token(self) -> float:
        """Training FLOPs per token, 6N + 12 L T d (Kaplan et al. 2020, with attention)."""
        c = self.config
        return 6 * self.num_params(non_embedding=True) + 12 * c.n_layer * c.block_size * c.n_embd
