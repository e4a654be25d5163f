"""Lab 1 public tests: bigram counts, Laplace-smoothed probabilities and perplexity."""
from __future__ import annotations

import math

from course_utils.grading import Lab, expect_close, expect_equal

lab = Lab("lab1_ngrams", "N-gram probabilities and perplexity", {
    "q1": "bigram counts",
    "q2": "Laplace-smoothed bigram probability",
    "q3": "perplexity from log-probabilities",
    "q4": "perplexity of a bigram model on a test text",
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
