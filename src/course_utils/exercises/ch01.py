"""Chapter 1's checked exercises (see course_utils.exercises)."""
from __future__ import annotations

import math

from course_utils.exercises import exercise_set
from course_utils.grading import expect_close, expect_equal

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
