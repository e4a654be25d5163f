"""Count-based n-gram language models over integer tokens (characters in chapter 1).

Two smoothing methods, both proper distributions over the vocabulary for every history:

* ``"add-k"``: P(c | h) = (C(h c) + k) / (C(h) + k V)  (Laplace smoothing when k = 1);
* ``"kneser-ney"``: interpolated Kneser-Ney with one absolute discount d (not the "modified"
  variant with three discounts): the highest order uses raw counts, lower orders use
  continuation counts N1+(. h c), and the recursion ends in the uniform distribution 1/V.

At the start of a text, where fewer than n-1 tokens of history exist, the model uses the longest
history available (a truncated history), so every position gets a probability.
N-grams are stored as base-V integer codes, which keeps counting and scoring vectorized (numpy).
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np

SMOOTHINGS = ("add-k", "kneser-ney")


def _as_tokens(tokens: Sequence[int] | np.ndarray, vocab_size: int) -> np.ndarray:
    arr = np.asarray(tokens, dtype=np.int64)
    if arr.ndim != 1:
        raise ValueError(f"tokens must be a 1-d sequence of ints, got shape {arr.shape}")
    if arr.size and (arr.min() < 0 or arr.max() >= vocab_size):
        raise ValueError(f"token ids must lie in [0, {vocab_size}); got {arr.min()}..{arr.max()}: "
                         "encode the text with the same tokenizer (vocabulary) used for fitting")
    return arr


def ngram_codes(tokens: np.ndarray, j: int, vocab_size: int) -> np.ndarray:
    """Base-V code of every j-gram in ``tokens``; entry i is the j-gram ending at position i + j - 1."""
    codes = tokens[: len(tokens) - j + 1].copy() if j > 0 else np.zeros(len(tokens) + 1, np.int64)
    for k in range(1, j):
        codes = codes * vocab_size + tokens[k: len(tokens) - j + 1 + k]
    return codes


class _Table:
    """Sorted integer keys with values, looked up in bulk by binary search (missing -> 0)."""

    def __init__(self, keys: np.ndarray, values: np.ndarray):
        self.keys, self.values = keys, values

    def get(self, q: np.ndarray) -> np.ndarray:
        if len(self.keys) == 0:
            return np.zeros(np.shape(q), dtype=np.float64)
        idx = np.searchsorted(self.keys, q)
        idx_c = np.minimum(idx, len(self.keys) - 1)
        found = self.keys[idx_c] == q
        return np.where(found, self.values[idx_c], 0).astype(np.float64)


def _table(codes: np.ndarray, weights: np.ndarray | None = None) -> _Table:
    if weights is None:
        keys, counts = np.unique(codes, return_counts=True)
        return _Table(keys, counts)
    keys, inv = np.unique(codes, return_inverse=True)
    return _Table(keys, np.bincount(inv, weights=weights, minlength=len(keys)))


class NGramLM:
    """An n-gram model: ``NGramLM(n, vocab_size, smoothing="kneser-ney").fit(train_ids)``."""

    def __init__(self, n: int, vocab_size: int, smoothing: str = "kneser-ney", k: float = 1.0,
                 discount: float = 0.75):
        if n < 1:
            raise ValueError(f"n must be >= 1 (1 = unigram), got {n}")
        if smoothing not in SMOOTHINGS:
            raise ValueError(f"smoothing must be one of {SMOOTHINGS}, not {smoothing!r}")
        if smoothing == "add-k" and k <= 0:
            raise ValueError(f"add-k needs k > 0 (k = 0 gives zero probabilities), got {k}")
        if smoothing == "kneser-ney" and not 0 < discount <= 1:
            raise ValueError(f"the Kneser-Ney discount must lie in (0, 1], got {discount}")
        if vocab_size < 1 or float(vocab_size) ** n >= 2.0 ** 62:
            raise ValueError(f"V^n = {vocab_size}^{n} does not fit the int64 n-gram codes: "
                             "use a smaller n or a smaller vocabulary")
        self.n, self.V, self.smoothing, self.k, self.d = n, vocab_size, smoothing, k, discount
        self.fitted = False

    def fit(self, tokens: Sequence[int] | np.ndarray) -> "NGramLM":
        """Count every j-gram (j = 1..n) in the training tokens."""
        t = _as_tokens(tokens, self.V)
        if len(t) < self.n:
            raise ValueError(f"need at least n = {self.n} training tokens, got {len(t)}")
        V = self.V
        # counts[j]: table of j-gram code -> count used at order j; hist[j]: history code -> (total, types)
        self.counts: dict[int, _Table] = {}
        self.hist_total: dict[int, _Table] = {}
        self.hist_types: dict[int, _Table] = {}
        raw_types: dict[int, np.ndarray] = {}
        for j in range(1, self.n + 1):
            keys, cnt = np.unique(ngram_codes(t, j, V), return_counts=True)
            raw_types[j] = keys
            if self.smoothing == "add-k" or j == self.n:
                self.counts[j] = _Table(keys, cnt)
        if self.smoothing == "kneser-ney":
            for j in range(1, self.n):
                # continuation count of a j-gram = number of distinct tokens seen before it
                suffixes = raw_types[j + 1] % V ** j
                keys, cnt = np.unique(suffixes, return_counts=True)
                self.counts[j] = _Table(keys, cnt)
        for j in range(1, self.n + 1):
            tab = self.counts[j]
            hist = tab.keys // V
            self.hist_total[j] = _table(hist, tab.values.astype(np.float64))
            self.hist_types[j] = _table(hist)
        self.fitted = True
        return self

    def _check(self) -> None:
        if not self.fitted:
            raise RuntimeError("call .fit(train_tokens) before asking for probabilities")

    def _update(self, j: int, p_lower: np.ndarray, gram: np.ndarray) -> np.ndarray:
        """Order-j probabilities of the j-grams ``gram`` given the order-(j-1) ones."""
        V, hist = self.V, gram // self.V
        c = self.counts[j].get(gram)
        total = self.hist_total[j].get(hist)
        if self.smoothing == "add-k":
            return (c + self.k) / (total + self.k * V)
        types = self.hist_types[j].get(hist)
        safe = np.maximum(total, 1.0)
        kn = np.maximum(c - self.d, 0.0) / safe + self.d * types / safe * p_lower
        return np.where(total > 0, kn, p_lower)  # unseen history: back off entirely

    def log_probs(self, tokens: Sequence[int] | np.ndarray) -> np.ndarray:
        """Natural-log probability of every token given the (up to n-1) tokens before it."""
        self._check()
        t = _as_tokens(tokens, self.V)
        logp = np.full(len(t), -math.log(self.V))
        p = np.full(len(t), 1.0 / self.V)
        for j in range(1, self.n + 1):
            if len(t) < j:
                break
            gram = ngram_codes(t, j, self.V)          # j-grams ending at positions j-1 .. end
            # add-k ignores the lower order (the longest available history decides);
            # Kneser-Ney interpolates with it
            p[j - 1:] = self._update(j, p[j - 1:], gram)
        np.log(p, out=logp)
        return logp

    def distribution(self, history: Sequence[int] | np.ndarray) -> np.ndarray:
        """P(. | history) over the whole vocabulary (uses the last n-1 tokens of the history)."""
        self._check()
        h = _as_tokens(history, self.V)
        h = h[max(0, len(h) - (self.n - 1)):] if self.n > 1 else h[:0]
        cand = np.arange(self.V, dtype=np.int64)
        p = np.full(self.V, 1.0 / self.V)
        for j in range(1, len(h) + 2):
            code = 0
            for tok in h[len(h) - j + 1:]:        # the last j-1 tokens of the history
                code = code * self.V + int(tok)
            p = self._update(j, p, code * self.V + cand)
        return p

    def perplexity(self, tokens: Sequence[int] | np.ndarray, skip_first: int = 0) -> float:
        """exp(mean negative log-likelihood) of ``tokens[skip_first:]`` (each given what precedes it)."""
        lp = self.log_probs(tokens)[skip_first:]
        if lp.size == 0:
            raise ValueError("no tokens to score: pass a longer sequence")
        return float(np.exp(-lp.mean()))

    def sample(self, length: int, history: Sequence[int] = (), seed: int = 0,
               temperature: float = 1.0) -> list[int]:
        """Draw ``length`` tokens one at a time from P(. | last n-1 tokens)."""
        rng = np.random.default_rng(seed)
        out = list(history)
        for _ in range(length):
            p = self.distribution(out)
            if temperature != 1.0:
                p = p ** (1.0 / temperature)
                p /= p.sum()
            out.append(int(rng.choice(self.V, p=p)))
        return out[len(history):]


def perplexity_from_log_probs(log_probs: Sequence[float] | np.ndarray) -> float:
    """Perplexity = exp(-(1/N) sum log p): the 'effective branching factor' of a model on a text."""
    lp = np.asarray(log_probs, dtype=np.float64)
    if lp.size == 0:
        raise ValueError("no log-probabilities given")
    return float(np.exp(-lp.mean()))
