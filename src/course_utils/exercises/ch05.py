"""Chapter 5's checked exercises (see course_utils.exercises)."""
from __future__ import annotations

from course_utils.exercises import exercise_set  # noqa: F401  (sets are added here)


# --------------------------------------------------------------------------- 5.1 sentiment monitoring
ch05_01 = exercise_set("ch05_01", "Sentiment monitoring", {
    "q1": "the rolling share of negative predictions over a window",
    "q2": "precision and recall of the alerts against an incident",
})


@ch05_01.test("q1")
def negative_share_matches_pandas(rolling_negative_share):
    from course_utils.grading import expect_close

    import pandas as pd

    predicted = [1, 1, 0, 1, 0, 0, 1, 1, 1, 0]
    expected = 1 - pd.Series(predicted, dtype=float).rolling(4).mean()
    expect_close(rolling_negative_share(predicted, 4), expected.to_numpy(),
                 f"rolling_negative_share({predicted}, 4) (NaN until a full window is seen)")


@ch05_01.test("q2")
def alert_scores_by_hand(alert_precision_recall):
    from course_utils.grading import expect_close

    alert = [False, True, True, True, False, False, True, False]
    incident = [False, False, True, True, True, False, False, False]
    expected = (2 / 4, 2 / 3)  # 2 of the 4 alerts fall in the incident; 2 of its 3 minutes have an alert
    expect_close(alert_precision_recall(alert, incident), expected,
                 f"alert_precision_recall({alert}, {incident}) as (precision, recall)")


@ch05_01.test("q2")
def no_alert_at_all(alert_precision_recall):
    from course_utils.grading import expect_close

    expect_close(alert_precision_recall([False] * 4, [False, True, True, False]), (0.0, 0.0),
                 "alert_precision_recall with no alert raised (precision 0 by convention, recall 0)")


# --------------------------------------------------------------------------- 5.2 semantic search
ch05_02 = exercise_set("ch05_02", "Semantic search", {
    "q1": "cosine similarity of every query with every document",
    "q2": "recall@k of ranked pages",
    "q3": "mean reciprocal rank (MRR)",
})


@ch05_02.test("q1")
def cosine_of_vectors_not_normalised(cosine_scores):
    from course_utils.grading import expect_close

    import torch

    g = torch.Generator().manual_seed(0)
    queries = torch.randn(2, 5, generator=g, dtype=torch.float64) * 3
    docs = torch.randn(4, 5, generator=g, dtype=torch.float64) * 0.5
    expected = torch.nn.functional.cosine_similarity(queries[:, None, :], docs[None, :, :], dim=-1)
    expect_close(cosine_scores(queries, docs), expected, "cosine_scores(2 queries, 4 documents) of vectors "
                 "that are not unit length", rtol=1e-6, atol=1e-9)


@ch05_02.test("q2")
def recall_matches_the_package(recall_at_k_pages):
    from course_utils.grading import expect_close

    from course_utils import retrieval

    ranked = [["a", "b", "c"], ["c", "a", "b"], ["b", "c", "a"], ["c", "b", "a"]]
    gold = ["a", "a", "d", "b"]
    for k in (1, 2, 3):
        expect_close(recall_at_k_pages(ranked, gold, k), retrieval.recall_at_k(ranked, gold, k),
                     f"recall_at_k_pages({ranked}, {gold}, {k})")


@ch05_02.test("q3")
def mrr_matches_the_package(mean_reciprocal_rank_pages):
    from course_utils.grading import expect_close

    from course_utils import retrieval

    ranked = [["a", "b", "c"], ["c", "a", "b"], ["b", "c", "a"], ["c", "b", "a"]]
    gold = ["a", "a", "d", "a"]
    expect_close(mean_reciprocal_rank_pages(ranked, gold), retrieval.mean_reciprocal_rank(ranked, gold),
                 f"mean_reciprocal_rank_pages({ranked}, {gold}) (a query whose page is never found counts 0)")
