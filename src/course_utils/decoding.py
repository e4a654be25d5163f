"""Decoding: turning next-token logits into text. Greedy, temperature, top-k, top-p (nucleus)
sampling and beam search, with an optional KV cache so each new token costs one position.

Works with any model whose ``model(idx)`` returns logits (batch, T, vocab); the KV cache needs
``model(idx, past=cache, use_cache=True) -> (logits, cache)`` as in :class:`course_utils.models.GPT`.
"""
from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn


def filter_top_k(logits: torch.Tensor, k: int) -> torch.Tensor:
    """Keep the ``k`` largest logits in the last dimension, set the rest to -inf."""
    if k < 1:
        raise ValueError(f"top_k must be >= 1, got {k}")
    k = min(k, logits.size(-1))
    kth = torch.topk(logits, k, dim=-1).values[..., -1:]
    return logits.masked_fill(logits < kth, float("-inf"))


def filter_top_p(logits: torch.Tensor, p: float) -> torch.Tensor:
    """Nucleus filter: keep the smallest set of most likely tokens whose probability mass is >= p."""
    if not 0.0 < p <= 1.0:
        raise ValueError(f"top_p must be in (0, 1], got {p}")
    sorted_logits, order = torch.sort(logits, dim=-1, descending=True)
    probs = torch.softmax(sorted_logits.float(), dim=-1)
    mass_before = probs.cumsum(dim=-1) - probs       # mass of the tokens ranked above each token
    drop_sorted = mass_before >= p                   # the set is already complete without it
    drop = drop_sorted.scatter(-1, order, drop_sorted)
    return logits.masked_fill(drop, float("-inf"))


def next_token_logits(model: nn.Module, idx: torch.Tensor, cache: Any, use_cache: bool,
                      block_size: int | None) -> tuple[torch.Tensor, Any]:
    """Logits for the position after ``idx`` and the updated cache (None without a cache)."""
    if not use_cache:
        window = idx if block_size is None else idx[:, -block_size:]
        out = model(window)
        return (out[0] if isinstance(out, tuple) else out)[:, -1, :], None
    seen = cache[0][0].size(2) if cache else 0
    if cache is None or (block_size is not None and seen + 1 > block_size):
        window = idx if block_size is None else idx[:, -block_size:]
        logits, cache = model(window, use_cache=True)   # (re)fill the cache from the window
    else:
        logits, cache = model(idx[:, -1:], past=cache, use_cache=True)  # only the newest token
    return logits[:, -1, :], cache


def pick_next(logits: torch.Tensor, *, temperature: float = 1.0, top_k: int | None = None,
              top_p: float | None = None, greedy: bool = False,
              generator: torch.Generator | None = None) -> torch.Tensor:
    """Next token ids (batch, 1) from last-position logits (batch, vocab): the argmax if greedy or
    temperature == 0, else a sample after temperature, top-k and top-p filtering."""
    logits = logits.float()
    if greedy or temperature == 0:
        return logits.argmax(dim=-1, keepdim=True)
    logits = logits / temperature
    if top_k is not None:
        logits = filter_top_k(logits, top_k)
    if top_p is not None:
        logits = filter_top_p(logits, top_p)
    return torch.multinomial(torch.softmax(logits, dim=-1), 1, generator=generator)


@torch.no_grad()
def generate(model: nn.Module, idx: torch.Tensor, max_new_tokens: int, *, temperature: float = 1.0,
             top_k: int | None = None, top_p: float | None = None, greedy: bool = False,
             use_cache: bool = True, generator: torch.Generator | None = None) -> torch.Tensor:
    """Append ``max_new_tokens`` tokens to ``idx`` (batch, T); greedy if asked or temperature == 0."""
    if idx.dim() != 2 or idx.size(1) == 0:
        raise ValueError("idx must be a non-empty (batch, T) tensor of token ids; wrap a 1-d prompt "
                         "with prompt[None, :]")
    if temperature < 0:
        raise ValueError(f"temperature must be >= 0, got {temperature}")
    was_training = model.training
    model.eval()
    block_size = getattr(getattr(model, "config", None), "block_size", None)
    cache = None
    for _ in range(max_new_tokens):
        logits, cache = next_token_logits(model, idx, cache, use_cache, block_size)
        nxt = pick_next(logits, temperature=temperature, top_k=top_k, top_p=top_p, greedy=greedy,
                        generator=generator)
        idx = torch.cat([idx, nxt], dim=1)
    model.train(was_training)
    return idx


@torch.no_grad()
def beam_search(model: nn.Module, idx: torch.Tensor, max_new_tokens: int, beam_width: int = 4,
                length_penalty: float = 0.0) -> tuple[torch.Tensor, float]:
    """Keep the ``beam_width`` best partial continuations by total log-probability; return the
    best sequence (1, T + new) and its score (sum of log-probs / length**length_penalty)."""
    if idx.dim() != 2 or idx.size(0) != 1:
        raise ValueError("beam_search takes one prompt of shape (1, T)")
    if beam_width < 1:
        raise ValueError(f"beam_width must be >= 1, got {beam_width}")
    was_training = model.training
    model.eval()
    block_size = getattr(getattr(model, "config", None), "block_size", None)
    beams, scores = idx, torch.zeros(1, device=idx.device)
    for _ in range(max_new_tokens):
        logits, _ = next_token_logits(model, beams, None, False, block_size)
        logp = F.log_softmax(logits.float(), dim=-1)           # (beams, vocab)
        total = (scores[:, None] + logp).view(-1)
        scores, flat = torch.topk(total, min(beam_width, total.numel()))
        vocab = logp.size(-1)
        beams = torch.cat([beams[flat // vocab], (flat % vocab)[:, None]], dim=1)
    model.train(was_training)
    best = int(scores.argmax())
    return beams[best:best + 1], float(scores[best]) / max(1, max_new_tokens) ** length_penalty


@torch.no_grad()
def sequence_logprob(model: nn.Module, idx: torch.Tensor, prompt_len: int) -> float:
    """Total log-probability the model gives to the tokens after the first ``prompt_len``
    (each token scored with at most ``block_size`` tokens of context, as it was generated)."""
    was_training = model.training
    model.eval()
    block_size = getattr(getattr(model, "config", None), "block_size", None)
    if block_size is None or idx.size(1) <= block_size:     # one pass scores every position
        out = model(idx)
        logp = F.log_softmax((out[0] if isinstance(out, tuple) else out).float()[:, :-1], dim=-1)
        model.train(was_training)
        return float(logp.gather(-1, idx[:, 1:, None])[:, prompt_len - 1:].sum())
    total = 0.0
    for t in range(prompt_len, idx.size(1)):
        logits, _ = next_token_logits(model, idx[:, :t], None, False, block_size)
        total += float(F.log_softmax(logits.float(), dim=-1).gather(-1, idx[:, t:t + 1]).sum())
    model.train(was_training)
    return total
