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


# --------------------------------------------------------------------------- 5.3 machine translation
ch05_03 = exercise_set("ch05_03", "Machine translation: BLEU by hand", {
    "q1": "clipped n-gram matches of one sentence pair",
    "q2": "corpus BLEU of Chinese characters (four precisions, brevity penalty)",
})


@ch05_03.test("q1")
def clipped_matches_small(clipped_matches):
    from course_utils.grading import expect_equal

    expect_equal(tuple(clipped_matches(list("我爱你"), list("我爱你们"), 1)), (3, 3), "clipped_matches(我爱你, 我爱你们, 1)")
    expect_equal(tuple(clipped_matches(list("我爱你"), list("我爱你们"), 2)), (2, 2), "clipped_matches(我爱你, 我爱你们, 2)")


@ch05_03.test("q1")
def clipped_matches_is_clipped(clipped_matches):
    from course_utils.grading import expect_equal

    expect_equal(tuple(clipped_matches(list("的的的的"), list("我的书"), 1)), (1, 4),
                 "clipped_matches(的的的的, 我的书, 1): each reference n-gram matches at most once")


@ch05_03.test("q2")
def bleu_matches_sacrebleu(corpus_bleu_chars):
    import sacrebleu

    from course_utils.grading import expect_close

    hyps, refs = ["我有很多朋友帮我", "他告诉我一个故事"], ["我有很多朋友帮助我", "他告诉了我一个有趣的故事"]
    expected = sacrebleu.corpus_bleu(hyps, [refs], tokenize="zh", smooth_method="none").score
    expect_close(corpus_bleu_chars(hyps, refs), expected, "corpus_bleu_chars on two sentence pairs, against sacreBLEU",
                 rtol=1e-6, atol=1e-6)


@ch05_03.test("q2")
def bleu_of_a_perfect_and_an_empty_match(corpus_bleu_chars):
    from course_utils.grading import expect_close

    expect_close(corpus_bleu_chars(["我爱你们"], ["我爱你们"]), 100.0, "corpus_bleu_chars([我爱你们], [我爱你们])")
    expect_close(corpus_bleu_chars(["我爱"], ["他们在这里"]), 0.0, "corpus_bleu_chars([我爱], [他们在这里]): no match at all")


# --------------------------------------------------------------------------- 5.4 generation (helper B)
ch05_04 = exercise_set("ch05_04", "Generation", {
    "q1": "next-token probabilities at a temperature (0 = greedy)",
    "q2": "the expected surprise of a sampled token",
})


@ch05_04.test("q1")
def temperature_one_and_two(temperature_probs):
    import torch

    from course_utils.grading import expect_close

    logits = torch.tensor([2.0, 1.0, 0.0, -1.0], dtype=torch.float64)
    expect_close(temperature_probs(logits, 1.0), torch.softmax(logits, -1), "temperature_probs([2, 1, 0, -1], 1.0)",
                 rtol=1e-9, atol=1e-12)
    expect_close(temperature_probs(logits, 2.0), torch.softmax(logits / 2, -1), "temperature_probs([2, 1, 0, -1], 2.0)",
                 rtol=1e-9, atol=1e-12)


@ch05_04.test("q1")
def temperature_zero_is_greedy(temperature_probs):
    import torch

    from course_utils.grading import expect_close

    logits = torch.tensor([0.5, 3.0, 1.0], dtype=torch.float64)
    expect_close(temperature_probs(logits, 0.0), torch.tensor([0.0, 1.0, 0.0], dtype=torch.float64),
                 "temperature_probs([0.5, 3, 1], 0.0): all the probability on the most likely token", rtol=0, atol=1e-12)


@ch05_04.test("q2")
def surprise_at_temperature_one_is_the_entropy(expected_surprise):
    import torch

    from course_utils.grading import expect_close

    logits = torch.tensor([2.0, 1.0, 0.0, -1.0], dtype=torch.float64)
    p = torch.softmax(logits, -1)
    expect_close(expected_surprise(logits, 1.0), float(-(p * p.log()).sum()),
                 "expected_surprise([2, 1, 0, -1], 1.0): at T = 1 it is the entropy of the model's distribution",
                 rtol=1e-9, atol=1e-12)
    expect_close(expected_surprise(logits, 0.0), float(-p[0].log()),
                 "expected_surprise([2, 1, 0, -1], 0.0): greedy always picks token 0", rtol=1e-9, atol=1e-12)


# --------------------------------------------------------------------------- 5.5 prompting and RAG (helper J)
ch05_05 = exercise_set("ch05_05", "Prompting: in-context learning and answers from retrieval", {
    "q1": "the few-shot prompt: instruction, demonstrations, review",
    "q2": "p(positive) among the two label words, from log-probabilities",
    "q3": "keyword accuracy of answers",
})


@ch05_05.test("q1")
def prompt_with_two_demonstrations(few_shot_prompt):
    from course_utils import prompting as P
    from course_utils.grading import expect_equal

    demos = [("a gorgeous , witty film", 1), ("dull and far too long", 0)]
    expect_equal(few_shot_prompt(demos, "one of the year 's best"), P.icl_prompt(demos, "one of the year 's best"),
                 "few_shot_prompt([(a gorgeous , witty film, 1), (dull and far too long, 0)], one of the year 's best)")


@ch05_05.test("q1")
def zero_shot_prompt(few_shot_prompt):
    from course_utils.grading import expect_equal

    expect_equal(few_shot_prompt([], "a mess"),
                 "Classify the sentiment of each movie review as positive or negative.\n\nReview: a mess\nSentiment:",
                 "few_shot_prompt([], a mess): zero-shot, the instruction and the review only")


@ch05_05.test("q2")
def probability_of_the_label_words(positive_probability):
    import math

    import torch

    from course_utils.grading import expect_close

    ln, lp = torch.tensor([-2.3, -0.5, -4.0]), torch.tensor([-1.2, -3.0, -4.0])
    expected = torch.tensor([1 / (1 + math.exp(-1.1)), 1 / (1 + math.exp(2.5)), 0.5])
    expect_close(positive_probability(ln, lp), expected, "positive_probability([-2.3, -0.5, -4], [-1.2, -3, -4])",
                 rtol=1e-5, atol=1e-6)


@ch05_05.test("q2")
def very_unlikely_label_words(positive_probability):
    import math

    import torch

    from course_utils.grading import expect_close

    got = positive_probability(torch.tensor([-801.0], dtype=torch.float64), torch.tensor([-800.0], dtype=torch.float64))
    expect_close(got, torch.tensor([1 / (1 + math.exp(-1.0))], dtype=torch.float64),
                 "positive_probability([-801], [-800]): exp(-800) is 0 in floating point, the ratio is not",
                 rtol=1e-6, atol=1e-9)


@ch05_05.test("q3")
def keywords_as_whole_words(keyword_accuracy):
    from course_utils.grading import expect_close

    answers = ["Set COURSE_PROFILE=ci before you start.", "It uses a drag-and-drop tool.", "Use RAG.",
               "Chapter 4 trains LoRA."]
    keywords = ["course_profile|CI=true", "RAG", "retrieval-augmented|rag", "chapter 6"]
    expect_close(keyword_accuracy(answers, keywords), 0.5,
                 f"keyword_accuracy({answers}, {keywords}): right, not a whole word, right, wrong chapter")


@ch05_05.test("q3")
def keywords_match_the_lesson_rule(keyword_accuracy):
    from course_utils import prompting as P
    from course_utils.grading import expect_close

    answers = ["The sha-256 checksum is checked.", "BLEU scores it.", "Low rank adapters.", "no idea", "MiniLM"]
    keywords = ["SHA-256|DataError", "bleu", "LoRA|low-rank", "banner", "minilm|MiniLM-L6"]
    expected = sum(P.contains_answer(a, k) for a, k in zip(answers, keywords)) / len(answers)
    expect_close(keyword_accuracy(answers, keywords), expected,
                 f"keyword_accuracy({answers}, {keywords}) against course_utils.prompting.contains_answer")
