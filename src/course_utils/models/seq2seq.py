"""A small encoder-decoder Transformer (Vaswani et al. 2017) for translation, built from the
chapter-2 blocks in :mod:`course_utils.attention`, with greedy and beam-search decoding.

The decoder keeps the cross-attention weights of its last forward pass (``cross_attention``),
so a notebook can draw which source tokens each generated token looked at.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from course_utils.attention import MultiHeadAttention, causal_mask, sinusoidal_positional_encoding


@dataclass
class Seq2SeqConfig:
    """Sizes of :class:`Seq2SeqTransformer`; vocabularies share the ids pad=0, bos=1, eos=2."""

    src_vocab: int
    tgt_vocab: int
    d_model: int = 128
    n_heads: int = 4
    n_encoder_layers: int = 2
    n_decoder_layers: int = 2
    d_ff: int = 512
    dropout: float = 0.1
    max_len: int = 64
    pad_id: int = 0
    bos_id: int = 1
    eos_id: int = 2

    def __post_init__(self) -> None:
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model={self.d_model} must be divisible by n_heads={self.n_heads}")
        if min(self.src_vocab, self.tgt_vocab) <= max(self.pad_id, self.bos_id, self.eos_id):
            raise ValueError("vocabularies must contain the special ids pad, bos and eos")


class FeedForward(nn.Sequential):
    """Position-wise MLP: Linear -> GELU -> Linear -> Dropout."""

    def __init__(self, d_model: int, d_ff: int, dropout: float) -> None:
        super().__init__(nn.Linear(d_model, d_ff), nn.GELU(), nn.Linear(d_ff, d_model), nn.Dropout(dropout))


class EncoderLayer(nn.Module):
    """Pre-norm encoder layer: self-attention over the source, then the MLP, each with a residual."""

    def __init__(self, cfg: Seq2SeqConfig) -> None:
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(cfg.d_model), nn.LayerNorm(cfg.d_model)
        self.attn = MultiHeadAttention(cfg.d_model, cfg.n_heads, dropout=cfg.dropout)
        self.ff = FeedForward(cfg.d_model, cfg.d_ff, cfg.dropout)
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, x: Tensor, src_mask: Tensor) -> Tensor:
        h = self.ln1(x)
        x = x + self.drop(self.attn(h, h, h, src_mask)[0])
        return x + self.ff(self.ln2(x))


class DecoderLayer(nn.Module):
    """Pre-norm decoder layer: causal self-attention, cross-attention to the encoder, the MLP."""

    def __init__(self, cfg: Seq2SeqConfig) -> None:
        super().__init__()
        self.ln1, self.ln2, self.ln3 = (nn.LayerNorm(cfg.d_model) for _ in range(3))
        self.self_attn = MultiHeadAttention(cfg.d_model, cfg.n_heads, dropout=cfg.dropout)
        self.cross_attn = MultiHeadAttention(cfg.d_model, cfg.n_heads, dropout=cfg.dropout)
        self.ff = FeedForward(cfg.d_model, cfg.d_ff, cfg.dropout)
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, y: Tensor, memory: Tensor, tgt_mask: Tensor, src_mask: Tensor) -> tuple[Tensor, Tensor]:
        h = self.ln1(y)
        y = y + self.drop(self.self_attn(h, h, h, tgt_mask)[0])
        out, weights = self.cross_attn(self.ln2(y), memory, memory, src_mask)
        y = y + self.drop(out)
        return y + self.ff(self.ln3(y)), weights


class Seq2SeqTransformer(nn.Module):
    """Encoder-decoder Transformer: ``forward(src, tgt_in) -> logits (batch, tgt_len, tgt_vocab)``."""

    def __init__(self, cfg: Seq2SeqConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.src_emb = nn.Embedding(cfg.src_vocab, cfg.d_model, padding_idx=cfg.pad_id)
        self.tgt_emb = nn.Embedding(cfg.tgt_vocab, cfg.d_model, padding_idx=cfg.pad_id)
        self.register_buffer("pos", sinusoidal_positional_encoding(cfg.max_len, cfg.d_model), persistent=False)
        self.drop = nn.Dropout(cfg.dropout)
        self.encoder = nn.ModuleList(EncoderLayer(cfg) for _ in range(cfg.n_encoder_layers))
        self.decoder = nn.ModuleList(DecoderLayer(cfg) for _ in range(cfg.n_decoder_layers))
        self.ln_enc, self.ln_dec = nn.LayerNorm(cfg.d_model), nn.LayerNorm(cfg.d_model)
        self.head = nn.Linear(cfg.d_model, cfg.tgt_vocab)
        self.cross_attention: list[Tensor] = []   # per decoder layer: (batch, heads, tgt_len, src_len)

    def _embed(self, emb: nn.Embedding, ids: Tensor) -> Tensor:
        if ids.shape[1] > self.cfg.max_len:
            raise ValueError(f"sequence of length {ids.shape[1]} exceeds max_len={self.cfg.max_len}; "
                             "truncate it or build the model with a larger max_len")
        return self.drop(emb(ids) * self.cfg.d_model ** 0.5 + self.pos[: ids.shape[1]])

    def encode(self, src: Tensor) -> tuple[Tensor, Tensor]:
        """Source ids (batch, src_len) -> (memory (batch, src_len, d_model), padding mask)."""
        src_mask = (src != self.cfg.pad_id)[:, None, None, :]
        x = self._embed(self.src_emb, src)
        for layer in self.encoder:
            x = layer(x, src_mask)
        return self.ln_enc(x), src_mask

    def decode(self, tgt_in: Tensor, memory: Tensor, src_mask: Tensor) -> Tensor:
        """Target prefix ids (batch, tgt_len) -> next-token logits at every position."""
        tgt_mask = causal_mask(tgt_in.shape[1], device=tgt_in.device)
        y = self._embed(self.tgt_emb, tgt_in)
        self.cross_attention = []
        for layer in self.decoder:
            y, weights = layer(y, memory, tgt_mask, src_mask)
            self.cross_attention.append(weights.detach())
        return self.head(self.ln_dec(y))

    def forward(self, src: Tensor, tgt_in: Tensor) -> Tensor:
        memory, src_mask = self.encode(src)
        return self.decode(tgt_in, memory, src_mask)

    def num_params(self) -> int:
        """Number of trainable parameters."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad)


def translation_loss(model: nn.Module, batch: tuple[Tensor, Tensor, Tensor]) -> Tensor:
    """Cross-entropy of (src, tgt_in, tgt_out) batches, padding ignored (for ``course_utils.train``)."""
    src, tgt_in, tgt_out = batch
    logits = model(src, tgt_in)
    return F.cross_entropy(logits.reshape(-1, logits.size(-1)), tgt_out.reshape(-1),
                           ignore_index=model.cfg.pad_id)


@torch.no_grad()
def translation_logprob(model: Seq2SeqTransformer, src: Tensor, tgt: list[int]) -> float:
    """Log-probability of the target ids ``tgt`` (without bos/eos) followed by eos, given one source."""
    cfg = model.cfg
    was_training = model.training
    model.eval()
    ids = torch.tensor([[cfg.bos_id, *tgt, cfg.eos_id]], device=src.device)
    logp = model(src, ids[:, :-1]).log_softmax(-1)
    model.train(was_training)
    return float(logp[0].gather(-1, ids[0, 1:, None]).sum())


def _strip(ids: list[int], eos_id: int) -> list[int]:
    return ids[: ids.index(eos_id)] if eos_id in ids else ids


@torch.no_grad()
def greedy_translate(model: Seq2SeqTransformer, src: Tensor, max_len: int | None = None) -> list[list[int]]:
    """Translate a batch of source ids by always taking the most likely next token (eos removed)."""
    cfg = model.cfg
    max_len = min(max_len or cfg.max_len, cfg.max_len)
    was_training = model.training
    model.eval()
    memory, src_mask = model.encode(src)
    out = torch.full((src.shape[0], 1), cfg.bos_id, dtype=torch.long, device=src.device)
    done = torch.zeros(src.shape[0], dtype=torch.bool, device=src.device)
    for _ in range(max_len - 1):
        nxt = model.decode(out, memory, src_mask)[:, -1].argmax(-1)
        nxt = torch.where(done, torch.full_like(nxt, cfg.pad_id), nxt)
        out = torch.cat([out, nxt[:, None]], dim=1)
        done |= nxt == cfg.eos_id
        if done.all():
            break
    model.train(was_training)
    return [_strip([t for t in row[1:] if t != cfg.pad_id], cfg.eos_id) for row in out.tolist()]


@torch.no_grad()
def beam_translate(model: Seq2SeqTransformer, src: Tensor, beam_size: int = 4, max_len: int | None = None,
                length_penalty: float = 1.0) -> list[int]:
    """Translate ONE source sentence (1, src_len) keeping the ``beam_size`` best prefixes.

    Finished hypotheses are ranked by log-probability / length ** length_penalty (0 = no
    normalisation, which favours short outputs). ``beam_size=1`` equals :func:`greedy_translate`.
    """
    if src.dim() != 2 or src.shape[0] != 1:
        raise ValueError(f"beam_translate translates one sentence: src must be (1, src_len), got {tuple(src.shape)}")
    if beam_size < 1:
        raise ValueError(f"beam_size must be >= 1, got {beam_size}")
    cfg = model.cfg
    max_len = min(max_len or cfg.max_len, cfg.max_len)
    was_training = model.training
    model.eval()
    memory, src_mask = model.encode(src)
    beams = torch.full((1, 1), cfg.bos_id, dtype=torch.long, device=src.device)
    scores = torch.zeros(1, device=src.device)
    finished: list[tuple[float, list[int]]] = []
    for step in range(1, max_len):
        n = beams.shape[0]
        logp = model.decode(beams, memory.expand(n, -1, -1), src_mask.expand(n, -1, -1, -1))[:, -1].log_softmax(-1)
        cand = (scores[:, None] + logp).reshape(-1)
        top = cand.topk(min(2 * beam_size, cand.numel()))
        keep_beams, keep_scores = [], []
        for score, flat in zip(top.values.tolist(), top.indices.tolist()):
            b, tok = divmod(flat, logp.shape[1])
            seq = beams[b].tolist() + [tok]
            if tok == cfg.eos_id:
                finished.append((score / step ** length_penalty, seq[1:-1]))
            else:
                keep_beams.append(seq)
                keep_scores.append(score)
            if len(keep_beams) == beam_size:
                break
        best_open = max(keep_scores, default=float("-inf")) / step ** length_penalty
        if len(finished) >= beam_size and max(f[0] for f in finished) >= best_open:
            break
        if not keep_beams:
            break
        beams = torch.tensor(keep_beams, device=src.device)
        scores = torch.tensor(keep_scores, device=src.device)
    if not finished:  # nothing reached eos within max_len: take the best open beam
        finished = [(s / max_len ** length_penalty, b[1:]) for s, b in zip(scores.tolist(), beams.tolist())]
    model.train(was_training)
    return max(finished, key=lambda f: f[0])[1]
