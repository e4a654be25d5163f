"""Instructor side of chapter 5's exercises (course_utils.exercises.ch05): for each set, the reference
solution (SOLUTIONS, code a learner could paste in), hidden tests (HIDDEN, written like a lab's
``--hidden`` file: ``check``, ``expect_close``, ``expect_equal`` and ``math`` are predefined) and
wrong solutions (MUTANTS: (old, new) edits of the solution). tests/test_exercises.py runs them all.
"""
SOLUTIONS = {
    "ch05_01": '''
import numpy as np

def rolling_negative_share(predicted, window):
    negative = 1.0 - np.asarray(predicted, dtype=float)
    out = np.full(len(negative), np.nan)
    for end in range(window, len(negative) + 1):
        out[end - 1] = negative[end - window:end].mean()
    return out

def alert_precision_recall(alert, incident):
    alert, incident = np.asarray(alert, dtype=bool), np.asarray(incident, dtype=bool)
    hits = np.sum(alert & incident)
    precision = hits / alert.sum() if alert.sum() else 0.0
    recall = hits / incident.sum() if incident.sum() else 0.0
    return float(precision), float(recall)
''',
    "ch05_02": '''
import torch

def cosine_scores(queries, docs):
    q = queries / queries.norm(dim=-1, keepdim=True)
    d = docs / docs.norm(dim=-1, keepdim=True)
    return q @ d.T

def recall_at_k_pages(ranked, gold, k):
    found = [g in list(r)[:k] for r, g in zip(ranked, gold)]
    return sum(found) / len(gold)

def mean_reciprocal_rank_pages(ranked, gold):
    total = 0.0
    for r, g in zip(ranked, gold):
        if g in r:
            total += 1 / (list(r).index(g) + 1)
    return total / len(gold)
''',
}

HIDDEN = {
    "ch05_01": '''
@check.test("q1")
def window_of_one_and_all_negative(rolling_negative_share):
    import numpy as np
    expect_close(rolling_negative_share([0, 1, 0], 1), np.array([1.0, 0.0, 1.0]), "rolling_negative_share([0, 1, 0], 1)")
    expect_close(rolling_negative_share([0, 0, 0, 0, 0], 3), np.array([np.nan, np.nan, 1.0, 1.0, 1.0]),
                 "rolling_negative_share([0, 0, 0, 0, 0], 3)")

@check.test("q2")
def perfect_and_late_alerts(alert_precision_recall):
    expect_close(alert_precision_recall([0, 1, 1, 0], [0, 1, 1, 0]), (1.0, 1.0), "alerts exactly on the incident")
    expect_close(alert_precision_recall([0, 0, 0, 1, 1], [0, 1, 1, 1, 0]), (0.5, 1 / 3), "alerts that start late")
''',
    "ch05_02": '''
@check.test("q1")
def parallel_and_opposite(cosine_scores):
    import torch
    q = torch.tensor([[2.0, 0.0]], dtype=torch.float64)
    d = torch.tensor([[5.0, 0.0], [-1.0, 0.0], [0.0, 3.0]], dtype=torch.float64)
    expect_close(cosine_scores(q, d), torch.tensor([[1.0, -1.0, 0.0]], dtype=torch.float64),
                 "cosine_scores([[2, 0]], [[5, 0], [-1, 0], [0, 3]])")

@check.test("q2")
def recall_k_larger_than_list(recall_at_k_pages):
    expect_close(recall_at_k_pages([["x", "y"], ["y", "x"]], ["y", "z"], 10), 0.5,
                 "recall_at_k_pages with k longer than the ranking")
    expect_close(recall_at_k_pages([["x", "y"], ["y", "x"]], ["y", "y"], 1), 0.5, "recall@1")

@check.test("q3")
def mrr_second_and_third(mean_reciprocal_rank_pages):
    expect_close(mean_reciprocal_rank_pages([["x", "y", "z"], ["x", "y", "z"]], ["y", "z"]), (1 / 2 + 1 / 3) / 2,
                 "MRR with answers at ranks 2 and 3")
''',
}

MUTANTS = {
    "ch05_01": {
        "q1_positive_share": [("negative = 1.0 - np.asarray(predicted, dtype=float)",
                               "negative = np.asarray(predicted, dtype=float)")],
        "q1_zero_not_nan": [("out = np.full(len(negative), np.nan)", "out = np.zeros(len(negative))")],
        "q2_swapped": [("return float(precision), float(recall)", "return float(recall), float(precision)")],
        "q2_accuracy_as_precision": [("precision = hits / alert.sum() if alert.sum() else 0.0",
                                      "precision = np.mean(alert == incident)")],
    },
    "ch05_02": {
        "q1_dot_product_only": [("    q = queries / queries.norm(dim=-1, keepdim=True)\n    d = docs / docs.norm(dim=-1, keepdim=True)\n",
                                 "    q, d = queries, docs\n")],
        "q2_off_by_one": [("g in list(r)[:k]", "g in list(r)[:k - 1]")],
        "q3_rank_from_zero": [("total += 1 / (list(r).index(g) + 1)", "total += 1 / (list(r).index(g) + 2)")],
        "q3_mean_over_found_only": [("return total / len(gold)", "return total / max(1, sum(g in r for r, g in zip(ranked, gold)))")],
    },
}
