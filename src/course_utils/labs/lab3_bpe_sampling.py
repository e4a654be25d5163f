"""Lab 3 public tests: one byte-pair-encoding merge step and top-p (nucleus) filtering."""
from __future__ import annotations

import torch

from course_utils.grading import Lab, expect_close, expect_equal

lab = Lab("lab3_bpe_sampling", "A BPE merge step and top-p sampling", {
    "q1": "most frequent adjacent pair",
    "q2": "merge a pair",
    "q3": "top-p filtering",
    "q4": "training BPE on a text and its compression on another",
})

WORDS = {("l", "o", "w"): 5, ("l", "o", "w", "e", "r"): 2, ("n", "e", "w"): 6}


def _pair_counts(words: dict) -> dict:
    counts: dict = {}
    for word, freq in words.items():
        for i in range(len(word) - 1):
            counts[word[i:i + 2]] = counts.get(word[i:i + 2], 0) + freq
    return counts


@lab.test("q1")
def pair_in_the_example(most_frequent_pair):
    counts = _pair_counts(WORDS)
    best = max(counts.values())
    expected = min(p for p, c in counts.items() if c == best)  # ties: the smallest pair
    expect_equal(tuple(most_frequent_pair(WORDS)), expected, f"most_frequent_pair({WORDS})")


@lab.test("q2")
def merge_in_the_example(merge_pair):
    expected = {("lo", "w"): 5, ("lo", "w", "e", "r"): 2, ("n", "e", "w"): 6}
    expect_equal(dict(merge_pair(WORDS, ("l", "o"))), expected, f"merge_pair({WORDS}, ('l', 'o'))")


def _nucleus(probs: list[float], p: float) -> list[float]:
    order = sorted(range(len(probs)), key=lambda i: -probs[i])
    kept, total = [], 0.0
    for i in order:
        kept.append(i)
        total += probs[i]
        if total >= p:
            break
    z = sum(probs[i] for i in kept)
    return [probs[i] / z if i in kept else 0.0 for i in range(len(probs))]


@lab.test("q3")
def keeps_the_nucleus(top_p_filter):
    probs = [0.5, 0.3, 0.15, 0.05]
    expect_close(top_p_filter(torch.tensor(probs), 0.7), _nucleus(probs, 0.7),
                 f"top_p_filter({probs}, p=0.7)", rtol=1e-5, atol=1e-7)


@lab.test("q3")
def result_is_a_distribution(top_p_filter):
    out = top_p_filter(torch.tensor([0.4, 0.3, 0.2, 0.1]), 0.5)
    expect_close(out.sum(), 1.0, "sum of top_p_filter([0.4, 0.3, 0.2, 0.1], p=0.5)")


def course_texts(n_chars: int = 30_000) -> dict[str, str] | None:
    """Texts for the BPE task: `n_chars` characters of Tiny Shakespeare to train on, the next
    `n_chars // 3` (held out), and as many of the English sentences of the Tatoeba pairs (modern
    English); None where the course data cannot be read (the grader runs without data files)."""
    from course_utils.data import DataError, data_path

    try:
        shakespeare = data_path("tinyshakespeare").read_text(encoding="utf-8")
        english = " ".join(line.split("\t")[0] for line in data_path("cmn-eng").read_text(encoding="utf-8").splitlines())
    except (DataError, OSError):
        return None
    return {"train": shakespeare[:n_chars], "held-out Shakespeare": shakespeare[n_chars:n_chars + n_chars // 3],
            "Tatoeba English": english[:n_chars // 3]}


def bpe_encode_ratio(text: str, merges: list) -> float:
    """Characters (whitespace excluded) per token when the words of `text` are split into characters
    and the merges are applied in order, each left to right (the grader's own encoding)."""
    words = [list(w) for w in text.split()]
    n_chars = sum(len(w) for w in words)
    for a, b in merges:
        for j, w in enumerate(words):
            out, i = [], 0
            while i < len(w):
                if i + 1 < len(w) and w[i] == a and w[i + 1] == b:
                    out.append(a + b)
                    i += 2
                else:
                    out.append(w[i])
                    i += 1
            words[j] = out
    return n_chars / sum(len(w) for w in words)


@lab.test("q4")
def compresses_its_training_text(bpe_compression):
    text = "low lower lowest newer newest wider widest " * 3
    merges, ratio = bpe_compression(text, text, 4)
    merges = [tuple(m) for m in merges]
    expect_equal(len(merges), 4, f"the number of merges returned by bpe_compression({text!r}, same text, n_merges=4)")
    expect_close(ratio, bpe_encode_ratio(text, merges), f"the compression ratio of the training text with your merges {merges} "
                 "(1 % tolerance)", rtol=0.01)
