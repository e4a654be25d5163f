"""Instructor side of chapter 1's exercises (course_utils.exercises.ch01): for each set, the reference
solution (SOLUTIONS, code a learner could paste in), hidden tests (HIDDEN, written like a lab's
``--hidden`` file: ``check``, ``expect_close``, ``expect_equal`` and ``math`` are predefined) and
wrong solutions (MUTANTS: (old, new) edits of the solution). tests/test_exercises.py runs them all.
"""
SOLUTIONS = {
    "ch01_01": '''
import math

def sequence_logprob(probs):
    return sum(math.log(p) for p in probs)

def add_k_prob(tokens, prev, nxt, vocab, k):
    pairs = list(zip(tokens, tokens[1:]))
    count = sum(1 for a, b in pairs if a == prev and b == nxt)
    history = sum(1 for a, _ in pairs if a == prev)
    return (count + k) / (history + k * vocab)
''',
    "ch01_02": '''
import torch

def rnn_step(x, h, W_xh, W_hh, b):
    return torch.tanh(x @ W_xh + h @ W_hh + b)

def lstm_param_count(input_size, hidden):
    return 4 * (hidden * (input_size + hidden) + 2 * hidden)
''',
    "ch01_03": '''
def length_normalised_score(logprobs, alpha):
    return sum(logprobs) / len(logprobs) ** alpha

def beam_decode(model, beam, steps):
    beams = [((), 0.0)]
    for _ in range(steps):
        grown = [(seq + (t,), score + lp) for seq, score in beams for t, lp in model(seq).items()]
        beams = sorted(grown, key=lambda b: -b[1])[:beam]
    return beams[0][0]
''',
    "ch01_04": '''
import math

def growth_per_year(p0, p1, years):
    return (p1 / p0) ** (1 / years)

def doubling_time(p0, p1, years):
    return years * math.log(2) / math.log(p1 / p0)
''',
}

HIDDEN = {
    "ch01_01": '''
@check.test("q1")
def long_sequence(sequence_logprob):
    probs = [0.9, 0.01, 0.3, 0.7, 0.05]
    expect_close(sequence_logprob(list(probs)), sum(math.log(p) for p in probs), f"sequence_logprob({probs})")

@check.test("q2")
def unseen_pair_with_k_one(add_k_prob):
    tokens = "p q r p q".split()
    expect_close(add_k_prob(list(tokens), "q", "q", 5, 1.0), (0 + 1.0) / (1 + 1.0 * 5), "add_k_prob(tokens, 'q', 'q', 5, 1.0)")
''',
    "ch01_02": '''
@check.test("q1")
def rnn_step_batch_of_one(rnn_step):
    import torch
    torch.manual_seed(3)
    cell = torch.nn.RNNCell(2, 5).double()
    x, h = torch.randn(1, 2, dtype=torch.float64) * 3, torch.randn(1, 5, dtype=torch.float64)
    with torch.no_grad():
        expected = cell(x, h)
        args = (cell.weight_ih.T.clone(), cell.weight_hh.T.clone(), (cell.bias_ih + cell.bias_hh).clone())
    expect_close(rnn_step(x, h, *args), expected, "rnn_step on a batch of one", rtol=1e-6, atol=1e-9)

@check.test("q2")
def lstm_count_char_model(lstm_param_count):
    import torch
    expected = sum(p.numel() for p in torch.nn.LSTM(64, 256).parameters())
    expect_equal(lstm_param_count(64, 256), expected, "lstm_param_count(64, 256)")
''',
    "ch01_03": '''
@check.test("q1")
def alpha_one_is_the_mean(length_normalised_score):
    lp = [-1.0, -3.0, -0.5, -0.5]
    expect_close(length_normalised_score(list(lp), 1.0), sum(lp) / len(lp), f"length_normalised_score({lp}, 1.0)")

@check.test("q2")
def three_steps(beam_decode):
    from course_utils.exercises.ch01 import best_sequence, toy_model
    expect_equal(tuple(beam_decode(toy_model, 8, 3)), best_sequence(toy_model, 3), "beam_decode(toy_model, beam=8, steps=3)")
''',
    "ch01_04": '''
@check.test("q1")
def shrinking(growth_per_year):
    expect_close(growth_per_year(9e9, 1e9, 2.0), (1e9 / 9e9) ** 0.5, "growth_per_year(9e9, 1e9, 2.0)")

@check.test("q2")
def tenfold_in_five_years(doubling_time):
    expect_close(doubling_time(2.0, 20.0, 5.0), 5.0 * math.log(2) / math.log(10), "doubling_time(2.0, 20.0, 5.0)")
''',
}

MUTANTS = {
    "ch01_01": {
        "q1_mean_not_sum": [("return sum(math.log(p) for p in probs)",
                             "return sum(math.log(p) for p in probs) / len(probs)")],
        "q2_k_not_times_vocab": [("(history + k * vocab)", "(history + k)")],
    },
    "ch01_02": {
        "q1_no_tanh": [("return torch.tanh(x @ W_xh + h @ W_hh + b)", "return x @ W_xh + h @ W_hh + b")],
        "q2_one_bias": [("+ 2 * hidden)", "+ hidden)")],
    },
    "ch01_03": {
        "q1_always_mean": [("len(logprobs) ** alpha", "len(logprobs)")],
        "q2_keeps_one_beam": [("[:beam]", "[:1]")],
    },
    "ch01_04": {
        "q1_linear_growth": [("return (p1 / p0) ** (1 / years)", "return (p1 / p0) / years")],
        "q2_log10": [("math.log(2) / math.log(p1 / p0)", "math.log10(2) / math.log(p1 / p0)")],
    },
}
