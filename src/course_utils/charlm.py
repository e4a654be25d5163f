"""Recurrent character language models (RNN / LSTM / GRU) with streaming perplexity and sampling.

The tokenizer, nanoGPT's 90/10 split and the batches come from :mod:`course_utils.chardata`
(shared with chapter 3); ``CharTokenizer`` and ``shakespeare_chars`` are re-exported here.
"""
from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from course_utils.chardata import CharData, CharTokenizer, char_data, shakespeare_chars

__all__ = ["CharData", "CharTokenizer", "char_data", "shakespeare_chars", "CharRNN",
           "streaming_nll", "streaming_perplexity", "sample", "PROFILE_SIZES"]


class CharRNN(nn.Module):
    """Embedding -> recurrent layers (``cell`` = "rnn", "lstm" or "gru") -> linear head over the vocabulary."""

    def __init__(self, vocab_size: int, hidden: int = 256, layers: int = 1, cell: str = "lstm",
                 embed: int | None = None, dropout: float = 0.0):
        super().__init__()
        cls = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}.get(cell)
        if cls is None:
            raise ValueError(f"cell must be 'rnn', 'lstm' or 'gru', not {cell!r}")
        self.cell = cell
        embed = embed or hidden
        self.emb = nn.Embedding(vocab_size, embed)
        self.rnn = cls(embed, hidden, num_layers=layers, batch_first=True,
                       dropout=dropout if layers > 1 else 0.0)
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(hidden, vocab_size)

    def forward(self, x: torch.Tensor, state=None):
        """Logits (batch, time, vocab) and the final recurrent state (pass it back in to continue)."""
        out, state = self.rnn(self.emb(x), state)
        return self.head(self.drop(out)), state


@torch.no_grad()
def streaming_nll(model: CharRNN, data, chunk: int = 256, device: torch.device | str = "cpu") -> float:
    """Mean negative log-likelihood (nats) of ``data[1:]``, each token given ALL tokens before it.

    The sequence is read in chunks and the recurrent state is carried across chunks, so the model
    sees the same unlimited history at every position (no window restarts).
    """
    data = torch.as_tensor(data, dtype=torch.long)
    if len(data) < 2:
        raise ValueError("need at least 2 tokens to score")
    was_training = model.training
    model.eval()
    state, total = None, 0.0
    for i in range(0, len(data) - 1, chunk):
        x = data[i: min(i + chunk, len(data) - 1)].unsqueeze(0).to(device)
        y = data[i + 1: i + 1 + x.size(1)].unsqueeze(0).to(device)
        logits, state = model(x, state)
        total += float(F.cross_entropy(logits.float().reshape(-1, logits.size(-1)), y.reshape(-1),
                                       reduction="sum"))
    model.train(was_training)
    return total / (len(data) - 1)


def streaming_perplexity(model: CharRNN, data, chunk: int = 256, device: torch.device | str = "cpu") -> float:
    """exp(:func:`streaming_nll`): perplexity over ``data[1:]``, comparable with an n-gram's."""
    return math.exp(streaming_nll(model, data, chunk, device))


@torch.no_grad()
def sample(model: CharRNN, prompt_ids: Sequence[int], length: int, temperature: float = 1.0,
             seed: int = 0, device: torch.device | str = "cpu") -> list[int]:
    """Sample ``length`` new ids after the prompt, one at a time, feeding back the recurrent state."""
    if not prompt_ids:
        raise ValueError("give at least one prompt token (e.g. the id of '\\n')")
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    g = torch.Generator(device="cpu").manual_seed(seed)
    was_training = model.training
    model.eval()
    logits, state = model(torch.tensor([list(prompt_ids)], device=device))
    out: list[int] = []
    for _ in range(length):
        probs = F.softmax(logits[0, -1].float().cpu() / temperature, dim=-1)
        nxt = int(torch.multinomial(probs, 1, generator=g))
        out.append(nxt)
        logits, state = model(torch.tensor([[nxt]], device=device), state)
    model.train(was_training)
    return out


# Sizes of the chapter-1 character models per profile (notebook 02 and benchmarks/charlm.py).
PROFILE_SIZES: dict[str, dict[str, float | int]] = {
    "ci": dict(hidden=64, embed=32, layers=1, dropout=0.0, block=64, batch=16, steps=200, lr=5e-3,
               warmup=10, ngram_max_n=6),
    "cpu": dict(hidden=256, embed=64, layers=1, dropout=0.0, block=128, batch=32, steps=2200,
                lr=4e-3, warmup=50, ngram_max_n=8),
    "gpu": dict(hidden=512, embed=128, layers=2, dropout=0.2, block=256, batch=64, steps=5000,
                lr=2e-3, warmup=100, ngram_max_n=8),
}
