"""Instructor side of chapter 4's exercises (course_utils.exercises.ch04): for each set, the reference
solution (SOLUTIONS, code a learner could paste in), hidden tests (HIDDEN, written like a lab's
``--hidden`` file: ``check``, ``expect_close``, ``expect_equal`` and ``math`` are predefined) and
wrong solutions (MUTANTS: (old, new) edits of the solution). tests/test_exercises.py runs them all.
"""
SOLUTIONS = {
}

HIDDEN = {
}

MUTANTS = {
}

# --------------------------------------------------------------------------- 4.5 results and errors
SOLUTIONS["ch04_05"] = '''
import numpy as np

def trainable_share(model):
    trained = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return trained / sum(p.numel() for p in model.parameters())

def gap_in_standard_errors(runs_a, runs_b):
    a, b = np.asarray(runs_a, dtype=float), np.asarray(runs_b, dtype=float)
    se = np.sqrt(a.var(ddof=1) / len(a) + b.var(ddof=1) / len(b))
    return (a.mean() - b.mean()) / se

def expected_calibration_error(confidence, correct, edges):
    c, ok, edges = np.asarray(confidence, dtype=float), np.asarray(correct, dtype=float), np.asarray(edges, dtype=float)
    total = 0.0
    for b in range(len(edges) - 1):
        upper = c <= edges[b + 1] if b == len(edges) - 2 else c < edges[b + 1]
        sel = (c >= edges[b]) & upper
        if sel.any():
            total += sel.sum() / len(c) * abs(ok[sel].mean() - c[sel].mean())
    return total
'''

HIDDEN["ch04_05"] = '''
@check.test("q1")
def share_of_a_lora_like_model(trainable_share):
    import torch
    base = torch.nn.Linear(10, 10)
    base.requires_grad_(False)
    a, b = torch.nn.Parameter(torch.zeros(2, 10)), torch.nn.Parameter(torch.zeros(10, 2))
    model = torch.nn.Module()
    model.base, model.a, model.b = base, a, b
    model.register_buffer("mask", torch.ones(1000))      # a buffer is not a parameter
    expect_close(trainable_share(model), 40 / 150, "trainable_share(frozen Linear(10, 10) + rank-2 factors)")

@check.test("q2")
def gap_is_signed_and_uses_sample_sd(gap_in_standard_errors):
    import numpy as np
    a, b = [0.8727, 0.8819, 0.875, 0.8784, 0.8761], [0.8865, 0.8842, 0.8945, 0.8911, 0.8922]
    se = np.sqrt(np.var(a, ddof=1) / 5 + np.var(b, ddof=1) / 5)
    expect_close(gap_in_standard_errors(a, b), (np.mean(a) - np.mean(b)) / se,
                 "gap_in_standard_errors(LoRA's seeds, full fine-tuning's seeds): negative when a is behind",
                 rtol=1e-9, atol=1e-12)

@check.test("q3")
def ece_edges_and_empty_bins(expected_calibration_error):
    confidence = [0.5, 0.55, 1.0, 1.0, 0.95]
    correct = [1, 0, 1, 0, 1]
    edges = [0.5, 0.6, 0.7, 0.8, 0.9, 1.0]
    expected = 2 / 5 * abs(0.5 - 0.525) + 3 / 5 * abs(2 / 3 - (1.0 + 1.0 + 0.95) / 3)
    expect_close(expected_calibration_error(confidence, correct, edges), expected,
                 "expected_calibration_error with empty bins and confidence 1.0 in the last bin", rtol=1e-9, atol=1e-12)
'''

MUTANTS["ch04_05"] = {
    "q1_counts_tensors": [("trained = sum(p.numel() for p in model.parameters() if p.requires_grad)",
                           "trained = sum(1 for p in model.parameters() if p.requires_grad)"),
                          ("return trained / sum(p.numel() for p in model.parameters())",
                           "return trained / sum(1 for p in model.parameters())")],
    "q2_population_sd": [("se = np.sqrt(a.var(ddof=1) / len(a) + b.var(ddof=1) / len(b))",
                          "se = np.sqrt(a.var() / len(a) + b.var() / len(b))")],
    "q3_unweighted": [("total += sel.sum() / len(c) * abs(ok[sel].mean() - c[sel].mean())",
                       "total += abs(ok[sel].mean() - c[sel].mean()) / (len(edges) - 1)")],
    "q3_drops_the_top_edge": [("upper = c <= edges[b + 1] if b == len(edges) - 2 else c < edges[b + 1]",
                               "upper = c < edges[b + 1]")],
}
