"""Lab 1 public tests: bigram counts, Laplace-smoothed probabilities and perplexity."""
from __future__ import annotations

import math

from course_utils.grading import Lab, expect_close, expect_equal

lab = Lab("lab1_ngrams", "N-gram probabilities and perplexity", {
    "q1": "bigram counts",
    "q2": "Laplace-smoothed bigram probability",
    "q3": "perplexity from log-probabilities",
    "q4": "perplexity of a bigram model on a test text",
    "q5": "choosing the smoothing constant by validation perplexity",
})

TEXT = "the cat sat on the mat the cat ran".split()


@lab.test("q1")
def counts_on_a_short_text(bigram_counts):
    pairs = list(zip(TEXT, TEXT[1:]))
    expected = {p: pairs.count(p) for p in pairs}  # before the call, which gets its own copy of the text
    expect_equal(dict(bigram_counts(list(TEXT))), expected, f"bigram_counts({TEXT})")


@lab.test("q2")
def smoothed_probability(laplace_prob):
    tokens, vocab = "a b a c".split(), 3
    # count('a b') = 1 and 'a' is followed by a word twice: (1 + 1) / (2 + 3)
    expected = (1 + 1) / (sum(t == "a" for t in tokens[:-1]) + vocab)
    expect_close(laplace_prob(tokens, "a", "b", vocab), expected, f"laplace_prob({tokens}, 'a', 'b', {vocab})")


@lab.test("q2")
def unseen_pair_is_not_zero(laplace_prob):
    tokens, vocab = "a b a c".split(), 3
    expected = (0 + 1) / (2 + vocab)
    expect_close(laplace_prob(tokens, "a", "a", vocab), expected, f"laplace_prob({tokens}, 'a', 'a', {vocab})")


@lab.test("q3")
def equal_probabilities(perplexity):
    logprobs = [math.log(0.5)] * 4
    expect_close(perplexity(logprobs), 1 / 0.5, f"perplexity({[round(x, 4) for x in logprobs]})")


@lab.test("q4")
def tiny_model(bigram_perplexity):
    train, test, vocab = "a b a b".split(), "a b".split(), 2
    p = (2 + 1) / (2 + vocab)  # P(b | a): 'a b' seen twice, 'a' is a history twice
    expect_close(bigram_perplexity(train, test, vocab), 1 / p,
                 f"bigram_perplexity({train}, {test}, {vocab})")


def shakespeare_words(n_words: int) -> list[str] | None:
    """The first `n_words` whitespace-separated words of Tiny Shakespeare, or None where the course
    data cannot be read (the grader runs notebooks without data files or network)."""
    from course_utils.data import DataError, data_path

    try:
        return data_path("tinyshakespeare").read_text(encoding="utf-8").split()[:n_words]
    except (DataError, OSError):
        return None


def add_k_perplexity(train: list[str], test: list[str], vocab_size: int, k: float) -> float:
    """Perplexity on `test` of the add-k bigram model of `train` (counts computed once)."""
    pairs: dict = {}
    history: dict = {}
    for a, b in zip(train, train[1:]):
        pairs[a, b] = pairs.get((a, b), 0) + 1
        history[a] = history.get(a, 0) + 1
    nll = -sum(math.log((pairs.get((a, b), 0) + k) / (history.get(a, 0) + k * vocab_size)) for a, b in zip(test, test[1:]))
    return math.exp(nll / (len(test) - 1))


@lab.test("q5")
def one_candidate_on_a_short_text(choose_add_k):
    val = "the cat sat on the mat".split()
    vocab = len(set(TEXT) | set(val))
    expected = add_k_perplexity(TEXT, val, vocab, 1.0)  # add-1 = Laplace: q4's model
    k, ppl = choose_add_k(list(TEXT), list(val), vocab, [1.0])
    expect_equal(k, 1.0, f"the k returned by choose_add_k({TEXT}, {val}, {vocab}, ks=[1.0])")
    expect_close(ppl, expected, f"the perplexity returned by choose_add_k({TEXT}, {val}, {vocab}, ks=[1.0]) (5 % tolerance)",
                 rtol=0.05)
