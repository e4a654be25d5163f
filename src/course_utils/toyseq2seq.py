"""A tiny GRU encoder-decoder for chapter 1's digit-reversal task: the fixed-size context vector
bottleneck that motivated attention, and the same model with additive (Bahdanau) attention
(Bahdanau, Cho and Bengio 2014, arXiv:1409.0473) that removes it. Notebook 1.3 writes the same
code out as the lesson."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

DIGITS, BOS = 10, 10


class Seq2Seq(nn.Module):
    """GRU encoder -> context vector (its last hidden state) -> GRU decoder over digits."""

    def __init__(self, hidden: int):
        super().__init__()
        self.src_emb = nn.Embedding(DIGITS, hidden)
        self.tgt_emb = nn.Embedding(DIGITS + 1, hidden)          # + the start symbol
        self.encoder = nn.GRU(hidden, hidden, batch_first=True)
        self.decoder = nn.GRU(hidden, hidden, batch_first=True)
        self.out = nn.Linear(hidden, DIGITS)

    def encode(self, src: torch.Tensor) -> torch.Tensor:
        """The context vector, shape (1, batch, hidden)."""
        _, context = self.encoder(self.src_emb(src))
        return context

    def forward(self, src: torch.Tensor, tgt_in: torch.Tensor) -> torch.Tensor:
        """Logits (batch, target length, 10) under teacher forcing."""
        out, _ = self.decoder(self.tgt_emb(tgt_in), self.encode(src))
        return self.out(out)


class AdditiveAttention(nn.Module):
    """Bahdanau et al.'s score e_j = v^T tanh(W_s s + W_h h_j), softmax over source positions j,
    and the context vector c = sum_j a_j h_j."""

    def __init__(self, hidden: int):
        super().__init__()
        self.W_s = nn.Linear(hidden, hidden, bias=False)         # projects the decoder state s
        self.W_h = nn.Linear(hidden, hidden)                     # projects each encoder state h_j
        self.v = nn.Linear(hidden, 1, bias=False)                # one score per source position

    def forward(self, s: torch.Tensor, H: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """s: (batch, hidden), H: (batch, source length, hidden) -> (context (batch, hidden),
        weights (batch, source length))."""
        scores = self.v(torch.tanh(self.W_s(s)[:, None, :] + self.W_h(H))).squeeze(-1)
        weights = scores.softmax(dim=-1)
        context = (weights[:, :, None] * H).sum(dim=1)
        return context, weights


class AttnSeq2Seq(nn.Module):
    """GRU encoder that keeps ALL its hidden states; a GRU decoder that attends over them at every
    step (its input: the previous digit and the context vector; its output layer sees both)."""

    def __init__(self, hidden: int):
        super().__init__()
        self.src_emb = nn.Embedding(DIGITS, hidden)
        self.tgt_emb = nn.Embedding(DIGITS + 1, hidden)          # + the start symbol
        self.encoder = nn.GRU(hidden, hidden, batch_first=True)
        self.attention = AdditiveAttention(hidden)
        self.decoder = nn.GRUCell(2 * hidden, hidden)
        self.out = nn.Linear(2 * hidden, DIGITS)

    def encode(self, src: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(every encoder state (batch, length, hidden), the last one (batch, hidden))."""
        H, last = self.encoder(self.src_emb(src))
        return H, last[0]

    def step(self, tok: torch.Tensor, s: torch.Tensor, H: torch.Tensor):
        """One decoder step from the previous digit ``tok`` (batch,) and state ``s``:
        (logits (batch, 10), new state, attention weights (batch, source length))."""
        context, weights = self.attention(s, H)
        s = self.decoder(torch.cat([self.tgt_emb(tok), context], dim=-1), s)
        return self.out(torch.cat([s, context], dim=-1)), s, weights

    def forward(self, src: torch.Tensor, tgt_in: torch.Tensor) -> torch.Tensor:
        """Logits (batch, target length, 10) under teacher forcing."""
        H, s = self.encode(src)
        logits = []
        for t in range(tgt_in.size(1)):
            step_logits, s, _ = self.step(tgt_in[:, t], s, H)
            logits.append(step_logits)
        return torch.stack(logits, dim=1)


def reverse_batch(step: int, batch: int = 64, lengths: tuple[int, int] = (2, 16), seed: int = 0):
    """(src, decoder input, target): random digits of one random length; target = reversal."""
    if not 1 <= lengths[0] <= lengths[1]:
        raise ValueError(f"lengths must be (min, max) with 1 <= min <= max, got {lengths}")
    g = torch.Generator().manual_seed(seed * 100_003 + step)
    length = int(torch.randint(lengths[0], lengths[1] + 1, (1,), generator=g))
    src = torch.randint(0, DIGITS, (batch, length), generator=g)
    tgt = src.flip(1)
    tgt_in = torch.cat([torch.full((batch, 1), BOS), tgt[:, :-1]], dim=1)
    return src, tgt_in, tgt


def seq2seq_loss(model: nn.Module, batch) -> torch.Tensor:
    """Cross-entropy of the teacher-forced decoder (a loss_fn for course_utils.train.train)."""
    src, tgt_in, tgt = batch
    logits = model(src, tgt_in)
    return F.cross_entropy(logits.reshape(-1, DIGITS), tgt.reshape(-1))


@torch.no_grad()
def greedy_decode(model: Seq2Seq | AttnSeq2Seq, src: torch.Tensor) -> torch.Tensor:
    """Decode as many digits as the source has, feeding back the arg-max digit."""
    if isinstance(model, AttnSeq2Seq):
        return greedy_decode_attention(model, src)[0]
    was_training = model.training
    model.eval()
    state = model.encode(src)
    tok = torch.full((src.size(0), 1), BOS, device=src.device)
    out = []
    for _ in range(src.size(1)):
        o, state = model.decoder(model.tgt_emb(tok), state)
        tok = model.out(o).argmax(-1)
        out.append(tok)
    model.train(was_training)
    return torch.cat(out, dim=1)


@torch.no_grad()
def greedy_decode_attention(model: AttnSeq2Seq, src: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Greedy decoding with attention: (digits (batch, length), attention weights
    (batch, target step, source position))."""
    if not isinstance(model, AttnSeq2Seq):
        raise TypeError(f"greedy_decode_attention needs an AttnSeq2Seq, got {type(model).__name__}")
    was_training = model.training
    model.eval()
    H, s = model.encode(src)
    tok = torch.full((src.size(0),), BOS, device=src.device)
    out, weights = [], []
    for _ in range(src.size(1)):
        logits, s, w = model.step(tok, s, H)
        tok = logits.argmax(-1)
        out.append(tok)
        weights.append(w)
    model.train(was_training)
    return torch.stack(out, dim=1), torch.stack(weights, dim=1)


def accuracy_by_length(model: Seq2Seq | AttnSeq2Seq, lengths: list[int], n: int = 500, seed: int = 12345,
                       device: torch.device | str = "cpu") -> tuple[list[float], list[float]]:
    """(share of digits right, share of whole sequences right) per source length."""
    tok_acc, seq_acc = [], []
    for length in lengths:
        src, _, tgt = reverse_batch(0, batch=n, lengths=(length, length), seed=seed)
        pred = greedy_decode(model, src.to(device)).cpu()
        tok_acc.append((pred == tgt).float().mean().item())
        seq_acc.append((pred == tgt).all(dim=1).float().mean().item())
    return tok_acc, seq_acc


# Chapter 1's digit-reversal runs (notebook 1.3 and benchmarks/seq2seq_*.py): sizes per profile,
# the lengths accuracy is measured at, and the training recipe they share.
REVERSAL_SIZES = {"ci": dict(hidden=64, steps=250), "cpu": dict(hidden=128, steps=3000),
                  "gpu": dict(hidden=128, steps=3000)}
EVAL_LENGTHS = list(range(2, 25, 2))


def train_reversal(model: nn.Module, steps: int, device=None):
    """Train a toy seq2seq model on digit reversal as chapter 1 does (AdamW at 3e-3 after 20 warm-up
    steps, no weight decay); returns (training history, seconds)."""
    import time

    from course_utils.train import TrainConfig, train

    t0 = time.perf_counter()
    hist = train(model, reverse_batch, TrainConfig(max_steps=steps, lr=3e-3, warmup_steps=20, weight_decay=0.0),
                 loss_fn=seq2seq_loss, device=device)
    return hist, time.perf_counter() - t0


def reversal_run(model: nn.Module, name: str, description: str, profile: str, device=None,
                 extra=None) -> dict:
    """Chapter 1's benchmark of a toy seq2seq model: train it on digit reversal at the profile's
    size, measure accuracy against source length, add ``extra(model)``'s entries, save the result
    as ``name`` through course_utils.results and print it by length; returns the payload."""
    from course_utils import results

    sizes = REVERSAL_SIZES[profile]
    hist, seconds = train_reversal(model, sizes["steps"], device)
    tok, seq = accuracy_by_length(model, EVAL_LENGTHS, device=device)
    result = {"benchmark": description, "sizes": sizes, "lr": 3e-3, "train_lengths": [2, 16],
              "lengths": EVAL_LENGTHS, "token_accuracy": tok, "sequence_accuracy": seq,
              "train_seconds": round(seconds, 1), "final_train_loss": hist.train_loss[-1],
              **(extra(model) if extra else {})}
    out = results.save(name, result, profile)
    for length, t, q in zip(EVAL_LENGTHS, tok, seq):
        print(f"length {length:2d}: digits {t:.3f}  sequences {q:.3f}")
    print(f"wrote {out}")
    return result
