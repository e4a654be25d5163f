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

# --------------------------------------------------------------------------- 5.3 machine translation
SOLUTIONS["ch05_03"] = '''
import math
from collections import Counter

def clipped_matches(hyp, ref, n):
    grams = Counter(tuple(hyp[i:i + n]) for i in range(len(hyp) - n + 1))
    ref_grams = Counter(tuple(ref[i:i + n]) for i in range(len(ref) - n + 1))
    matches = sum(min(count, ref_grams[g]) for g, count in grams.items())
    return matches, sum(grams.values())

def corpus_bleu_chars(hyps, refs):
    matches, totals = [0] * 4, [0] * 4
    for h, r in zip(hyps, refs):
        for n in range(1, 5):
            m, t = clipped_matches(list(h), list(r), n)
            matches[n - 1] += m
            totals[n - 1] += t
    if min(matches) == 0:
        return 0.0
    log_mean = sum(math.log(m / t) for m, t in zip(matches, totals)) / 4
    c, r = sum(len(h) for h in hyps), sum(len(x) for x in refs)
    penalty = 1.0 if c > r else math.exp(1 - r / c)
    return 100 * penalty * math.exp(log_mean)
'''

HIDDEN["ch05_03"] = '''
@check.test("q1")
def trigrams_and_a_short_hypothesis(clipped_matches):
    expect_equal(tuple(clipped_matches(list("我们是学生我们"), list("我们是老师我们是"), 2)), (3, 6),
                 "clipped_matches(我们是学生我们, 我们是老师我们是, 2)")
    expect_equal(tuple(clipped_matches(list("我们"), list("我们是学生"), 3)), (0, 0), "clipped_matches(我们, 我们是学生, 3)")

@check.test("q2")
def bleu_on_stored_examples(corpus_bleu_chars):
    import sacrebleu
    hyps = ["他告訴我看看了一个男孩子", "一個小孩子", "我有一個問題", "我有很多朋友帮我我"]
    refs = ["他告訴了我一個有趣的故事", "一块岩石从上面落下", "我有很多朋友帮我", "我有很多朋友帮我"]
    expected = sacrebleu.corpus_bleu(hyps, [refs], tokenize="zh", smooth_method="none").score
    expect_close(corpus_bleu_chars(hyps, refs), expected, "corpus_bleu_chars on four pairs (one longer than its reference)",
                 rtol=1e-6, atol=1e-6)
'''

MUTANTS["ch05_03"] = {
    "q1_not_clipped": [("min(count, ref_grams[g])", "count if ref_grams[g] else 0")],
    "q1_one_gram_short": [("range(len(hyp) - n + 1)", "range(len(hyp) - n)")],
    "q2_no_brevity_penalty": [("penalty = 1.0 if c > r else math.exp(1 - r / c)", "penalty = 1.0")],
    "q2_arithmetic_mean": [("return 100 * penalty * math.exp(log_mean)",
                            "return 100 * penalty * sum(m / t for m, t in zip(matches, totals)) / 4")],
}


# --------------------------------------------------------------------------- 5.4 (helper B)
SOLUTIONS.update({
    "ch05_04": '''
import torch

def temperature_probs(logits, temperature):
    if temperature == 0:
        return torch.nn.functional.one_hot(logits.argmax(), logits.numel()).to(logits.dtype)
    return torch.softmax(logits / temperature, dim=-1)

def expected_surprise(logits, temperature):
    sample_probs = temperature_probs(logits, temperature)
    model_logp = torch.log_softmax(logits, dim=-1)
    return float(-(sample_probs * model_logp).sum())
''',
})

HIDDEN.update({
    "ch05_04": '''
@check.test("q1")
def temperature_half_on_65_characters(temperature_probs):
    import torch
    logits = torch.randn(65, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    expect_close(temperature_probs(logits, 0.5), torch.softmax(logits / 0.5, -1), "temperature_probs(65 random logits, 0.5)",
                 rtol=1e-9, atol=1e-12)

@check.test("q2")
def surprise_grows_with_temperature(expected_surprise):
    import torch
    logits = torch.randn(65, generator=torch.Generator().manual_seed(5), dtype=torch.float64) * 2
    logp = torch.log_softmax(logits, -1)
    for t in (0.5, 1.5):
        expected = float(-(torch.softmax(logits / t, -1) * logp).sum())
        expect_close(expected_surprise(logits, t), expected, f"expected_surprise(65 random logits, {t})", rtol=1e-9, atol=1e-12)
''',
})

MUTANTS.update({
    "ch05_04": {
        "q1_times_temperature": [("logits / temperature", "logits * temperature")],
        "q2_entropy_of_the_sampler": [("model_logp = torch.log_softmax(logits, dim=-1)",
                                       "model_logp = torch.log(sample_probs)")],
    },
})


# --------------------------------------------------------------------------- 5.5 prompting and RAG (helper J)
SOLUTIONS["ch05_05"] = '''
import re

import torch

def few_shot_prompt(demonstrations, review):
    parts = ["Classify the sentiment of each movie review as positive or negative.\\n\\n"]
    for text, label in demonstrations:
        parts.append(f"Review: {text}\\nSentiment: {'positive' if label == 1 else 'negative'}\\n\\n")
    parts.append(f"Review: {review}\\nSentiment:")
    return "".join(parts)

def positive_probability(logp_negative, logp_positive):
    return torch.sigmoid(logp_positive - logp_negative)

def _words(text):
    return re.sub(r"[^0-9a-z]+", " ", text.lower()).split()

def keyword_accuracy(answers, keywords):
    right = 0
    for answer, options in zip(answers, keywords):
        words = _words(answer)
        found = False
        for option in options.split("|"):
            kw = _words(option)
            n = len(kw)
            if kw and any(words[i:i + n] == kw for i in range(len(words) - n + 1)):
                found = True
        right += found
    return right / len(answers)
'''

HIDDEN["ch05_05"] = '''
@check.test("q1")
def four_demonstrations_in_their_order(few_shot_prompt):
    from course_utils import prompting as P
    demos = [("tedious", 0), ("warm , funny and wise", 1), ("a mess", 0), ("i loved every minute", 1)]
    expect_equal(few_shot_prompt(demos, "the plot goes nowhere"), P.icl_prompt(demos, "the plot goes nowhere"),
                 "few_shot_prompt with four demonstrations")

@check.test("q2")
def many_pairs_and_a_large_gap(positive_probability):
    import torch
    g = torch.Generator().manual_seed(1)
    ln, lp = -10 * torch.rand(20, generator=g, dtype=torch.float64), -10 * torch.rand(20, generator=g, dtype=torch.float64)
    expect_close(positive_probability(ln, lp), torch.sigmoid(lp - ln), "positive_probability of 20 random pairs",
                 rtol=1e-9, atol=1e-12)
    expect_close(positive_probability(torch.tensor([-1000.0], dtype=torch.float64), torch.tensor([-1.0], dtype=torch.float64)),
                 torch.tensor([1.0], dtype=torch.float64), "positive_probability([-1000], [-1])", rtol=1e-9, atol=1e-12)

@check.test("q3")
def phrases_numbers_and_case(keyword_accuracy):
    answers = ["See chapter 42.", "See CHAPTER 4, section 2.", "", "Use environment.yml with conda."]
    keywords = ["chapter 4", "chapter 4", "anything", "environment.yml|conda env create"]
    expect_close(keyword_accuracy(answers, keywords), 0.5, f"keyword_accuracy({answers}, {keywords})")
'''

MUTANTS["ch05_05"] = {
    "q1_labels_swapped": [("'positive' if label == 1 else 'negative'", "'negative' if label == 1 else 'positive'")],
    "q1_space_after_colon": [('parts.append(f"Review: {review}\\nSentiment:")', 'parts.append(f"Review: {review}\\nSentiment: ")')],
    "q2_naive_exp": [("return torch.sigmoid(logp_positive - logp_negative)",
                      "return logp_positive.exp() / (logp_positive.exp() + logp_negative.exp())")],
    "q2_swapped": [("return torch.sigmoid(logp_positive - logp_negative)", "return torch.sigmoid(logp_negative - logp_positive)")],
    "q3_substring": [("if kw and any(words[i:i + n] == kw for i in range(len(words) - n + 1)):",
                      "if kw and ' '.join(kw) in ' '.join(words):")],
    "q3_case_sensitive": [('return re.sub(r"[^0-9a-z]+", " ", text.lower()).split()',
                           'return re.sub(r"[^0-9A-Za-z]+", " ", text).split()')],
}
