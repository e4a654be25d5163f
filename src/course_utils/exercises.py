"""Checked exercises at the end of the chapter notebooks, built on the labs' machinery.

    from course_utils.exercises import checker
    check = checker("ch01_01")      # the exercise set of chapter 1, notebook 1
    check("q1")                     # pass/fail with a message; "not answered yet" for a stub

Each set is a :class:`course_utils.grading.Lab` with public tests only; the reference solutions,
hidden tests and mutants are on the instructor's side (tests/lab_mutants/ex_chapters.py).
As in the labs, an unanswered exercise never raises; with COURSE_STRICT=1 a wrong one does.
"""
from __future__ import annotations

import math
import sys

from course_utils.grading import Checker, Lab, expect_close, expect_equal

SETS: dict[str, Lab] = {}


def exercise_set(key: str, title: str, questions: dict[str, str]) -> Lab:
    """Create and register the exercise set ``key`` (e.g. ``"ch01_01"``)."""
    SETS[key] = Lab(f"ex_{key}", title, questions)
    return SETS[key]


def checker(key: str, namespace: dict | None = None) -> Checker:
    """A ``Checker`` for the exercise set ``key`` that reads the answers from the caller's globals."""
    if key not in SETS:
        raise ValueError(f"no exercise set {key!r}; known: {', '.join(SETS)}")
    return Checker(SETS[key], sys._getframe(1).f_globals if namespace is None else namespace)


# --------------------------------------------------------------------------- 1.1 language as probability
ch01_01 = exercise_set("ch01_01", "Language as probability", {
    "q1": "log-probability of a sequence by the chain rule",
    "q2": "add-k smoothed bigram probability",
})


@ch01_01.test("q1")
def chain_rule_sums_logs(sequence_logprob):
    probs = [0.5, 0.25, 0.1]
    expect_close(sequence_logprob(list(probs)), sum(math.log(p) for p in probs), f"sequence_logprob({probs})")


@ch01_01.test("q1")
def one_token(sequence_logprob):
    expect_close(sequence_logprob([0.2]), math.log(0.2), "sequence_logprob([0.2])")


@ch01_01.test("q2")
def add_k_seen_pair(add_k_prob):
    tokens, k, vocab = "a b a c a b".split(), 0.5, 3
    pairs = list(zip(tokens, tokens[1:]))
    expected = (pairs.count(("a", "b")) + k) / (sum(p == "a" for p, _ in pairs) + k * vocab)
    expect_close(add_k_prob(list(tokens), "a", "b", vocab, k), expected, f"add_k_prob({tokens}, 'a', 'b', {vocab}, {k})")


@ch01_01.test("q2")
def add_k_sums_to_one(add_k_prob):
    tokens, k, vocab = "x y x x y".split(), 0.1, 2
    total = sum(add_k_prob(list(tokens), "x", w, vocab, k) for w in ("x", "y"))
    expect_close(total, 1.0, "add_k_prob(tokens, 'x', w, 2, 0.1) summed over both words w")


# --------------------------------------------------------------------------- 1.2 neural language models
ch01_02 = exercise_set("ch01_02", "Neural language models", {
    "q1": "one step of a vanilla RNN",
    "q2": "parameter count of torch.nn.LSTM",
})


@ch01_02.test("q1")
def rnn_step_matches_torch(rnn_step):
    import torch

    torch.manual_seed(0)
    cell = torch.nn.RNNCell(3, 4).double()
    x, h = torch.randn(2, 3, dtype=torch.float64), torch.randn(2, 4, dtype=torch.float64)
    with torch.no_grad():
        expected = cell(x, h)
        W_xh, W_hh, b = cell.weight_ih.T.clone(), cell.weight_hh.T.clone(), (cell.bias_ih + cell.bias_hh).clone()
    expect_close(rnn_step(x, h, W_xh, W_hh, b), expected, "rnn_step(x, h, W_xh, W_hh, b) against torch.nn.RNNCell",
                 rtol=1e-6, atol=1e-9)


@ch01_02.test("q2")
def lstm_count_small(lstm_param_count):
    import torch

    expected = sum(p.numel() for p in torch.nn.LSTM(5, 7).parameters())
    expect_equal(lstm_param_count(5, 7), expected, "lstm_param_count(5, 7)")


# --------------------------------------------------------------------------- 1.3 seq2seq and beam search
ch01_03 = exercise_set("ch01_03", "Seq2seq and beam search", {
    "q1": "length-normalised score of a hypothesis",
    "q2": "beam search over a toy model",
})


@ch01_03.test("q1")
def normalised_score(length_normalised_score):
    lp, alpha = [-0.5, -1.0, -0.25], 0.7
    expect_close(length_normalised_score(list(lp), alpha), sum(lp) / len(lp) ** alpha,
                 f"length_normalised_score({lp}, {alpha})")


@ch01_03.test("q1")
def alpha_zero_is_the_sum(length_normalised_score):
    lp = [-2.0, -0.1]
    expect_close(length_normalised_score(list(lp), 0.0), sum(lp), f"length_normalised_score({lp}, 0.0)")


def toy_model(prefix: tuple) -> dict:
    """Next-token log-probabilities of a toy model where the greedy first step is a trap."""
    table = {(): {"a": 0.6, "b": 0.4}, ("a",): {"a": 0.55, "b": 0.45}, ("b",): {"a": 0.95, "b": 0.05}}
    probs = table.get(tuple(prefix[-1:]) if prefix else (), {"a": 0.5, "b": 0.5})
    return {t: math.log(p) for t, p in probs.items()}


def best_sequence(model, steps: int) -> tuple:
    """The most probable sequence of ``steps`` tokens, by trying them all."""
    import itertools

    def score(seq):
        return sum(model(seq[:i])[t] for i, t in enumerate(seq))
    return max(itertools.product(*[list(model(()))] * steps), key=score)


@ch01_03.test("q2")
def wide_beam_finds_the_best(beam_decode):
    expect_equal(tuple(beam_decode(toy_model, 4, 2)), best_sequence(toy_model, 2), "beam_decode(toy_model, beam=4, steps=2)")


@ch01_03.test("q2")
def beam_one_is_greedy(beam_decode):
    greedy = []
    for _ in range(2):
        lp = toy_model(tuple(greedy))
        greedy.append(max(lp, key=lp.get))
    expect_equal(tuple(beam_decode(toy_model, 1, 2)), tuple(greedy), "beam_decode(toy_model, beam=1, steps=2)")


# --------------------------------------------------------------------------- 1.4 timeline
ch01_04 = exercise_set("ch01_04", "A timeline of model sizes", {
    "q1": "growth factor per year",
    "q2": "doubling time",
})


@ch01_04.test("q1")
def hundredfold_in_four_years(growth_per_year):
    expect_close(growth_per_year(1e8, 1e10, 4.0), (1e10 / 1e8) ** (1 / 4.0), "growth_per_year(1e8, 1e10, 4.0)")


@ch01_04.test("q2")
def doubling(doubling_time):
    expect_close(doubling_time(1e6, 8e6, 3.0), 3.0 * math.log(2) / math.log(8), "doubling_time(1e6, 8e6, 3.0)")


# --------------------------------------------------------------------------- 2.1 attention from the formula
ch02_01 = exercise_set("ch02_01", "Attention from the formula", {
    "q1": "a numerically stable softmax over the last dimension",
    "q2": "scaled dot-product attention",
})


@ch02_01.test("q1")
def softmax_small(stable_softmax):
    import torch

    x = torch.tensor([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]], dtype=torch.float64)
    expect_close(stable_softmax(x), torch.softmax(x, dim=-1), "stable_softmax([[1, 2, 3], [0, 0, 0]])")


@ch02_01.test("q1")
def softmax_large_scores(stable_softmax):
    import torch

    x = torch.tensor([[1000.0, 1001.0, 999.0]], dtype=torch.float64)
    expect_close(stable_softmax(x), torch.softmax(x, dim=-1), "stable_softmax([[1000, 1001, 999]]) (does it overflow?)")


@ch02_01.test("q2")
def attention_matches_torch(attention_batched):
    import torch

    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(2, 3, 8, generator=g, dtype=torch.float64) for _ in range(3))
    expected = torch.nn.functional.scaled_dot_product_attention(q, k, v)
    expect_close(attention_batched(q, k, v), expected, "attention_batched(q, k, v) against F.scaled_dot_product_attention",
                 rtol=1e-6, atol=1e-9)


# --------------------------------------------------------------------------- 2.3 masks and multi-head
ch02_03 = exercise_set("ch02_03", "Masks and multi-head attention", {
    "q1": "a causal mask",
    "q2": "splitting the features into heads",
})


@ch02_03.test("q1")
def causal_4(my_causal_mask):
    import torch

    expect_equal(my_causal_mask(4), torch.ones(4, 4, dtype=torch.bool).tril(), "my_causal_mask(4)")


@ch02_03.test("q2")
def split_heads_matches_the_package(my_split_heads):
    import torch

    from course_utils import attention

    x = torch.arange(2 * 3 * 8, dtype=torch.float64).reshape(2, 3, 8)
    expected = attention.split_heads(x.clone(), 2)
    expect_close(my_split_heads(x, 2), expected, "my_split_heads(x of shape (2, 3, 8), 2)")


# --------------------------------------------------------------------------- 2.4 position and the block
ch02_04 = exercise_set("ch02_04", "Position and the block", {
    "q1": "sinusoidal positional encoding",
    "q2": "layer normalisation without learned scale and shift",
})


@ch02_04.test("q1")
def sinusoidal_small(sinusoidal):
    from course_utils.attention import sinusoidal_positional_encoding

    import torch

    expect_close(sinusoidal(5, 6), sinusoidal_positional_encoding(5, 6, dtype=torch.float64), "sinusoidal(5, 6)",
                 rtol=1e-5, atol=1e-6)


@ch02_04.test("q2")
def layer_norm_matches_torch(layer_norm):
    import torch

    g = torch.Generator().manual_seed(1)
    x = torch.randn(3, 6, generator=g, dtype=torch.float64) * 4 + 2
    expected = torch.nn.functional.layer_norm(x, (6,), eps=1e-5)
    expect_close(layer_norm(x, 1e-5), expected, "layer_norm(x of shape (3, 6), 1e-5) against F.layer_norm",
                 rtol=1e-6, atol=1e-9)


# --------------------------------------------------------------------------- 2.6 cost
ch02_06 = exercise_set("ch02_06", "The cost of attention", {
    "q1": "FLOPs of the two attention matrix products",
    "q2": "memory of the attention scores",
})


@ch02_06.test("q1")
def flops_small(attention_flops):
    n, d = 8, 4
    qk = 2 * n * n * d  # (n x d) @ (d x n): n*n outputs, d multiply-adds each, 2 FLOPs per multiply-add
    av = 2 * n * n * d  # (n x n) @ (n x d)
    expect_equal(attention_flops(n, d), qk + av, f"attention_flops({n}, {d})")


@ch02_06.test("q2")
def score_memory_matches_a_tensor(score_bytes):
    import torch

    b, h, n = 2, 3, 16
    t = torch.empty(b, h, n, n, dtype=torch.float32)
    expect_equal(score_bytes(b, h, n, 4), t.numel() * t.element_size(), f"score_bytes({b}, {h}, {n}, 4)")
