import itertools
import math

import numpy as np
import pytest

from course_utils.ngram import NGramLM, ngram_codes, perplexity_from_log_probs


def test_add1_bigram_perplexity_by_hand():
    # Alphabet {a=0, b=1} (V = 2), training text "aab", bigram model with add-1 (Laplace) smoothing.
    # Unigram counts: a=2, b=1 (3 tokens).   Bigram counts: (a,a)=1, (a,b)=1, so C(a .) = 2.
    # Test text "ab":
    #   P(a)     has no history -> unigram add-1: (2 + 1) / (3 + 1*2) = 3/5
    #   P(b | a) = (C(a,b) + 1) / (C(a .) + 1*2)            = (1 + 1) / (2 + 2) = 1/2
    # perplexity = (3/5 * 1/2) ** (-1/2) = 0.3 ** -0.5 = 1.825741858...
    lm = NGramLM(2, 2, "add-k", k=1.0).fit([0, 0, 1])
    assert lm.perplexity([0, 1]) == pytest.approx(0.3 ** -0.5, rel=1e-12)
    assert lm.perplexity([0, 1]) == pytest.approx(1.8257418583505538, rel=1e-12)
    # skipping the first token leaves only P(b | a) = 1/2 -> perplexity 2
    assert lm.perplexity([0, 1], skip_first=1) == pytest.approx(2.0, rel=1e-12)


def test_kneser_ney_bigram_by_hand():
    # Training text "abaab" over {a=0, b=1}, discount d = 0.5.
    # Bigram tokens: ab, ba, aa, ab -> raw counts ab=2, ba=1, aa=1.
    # Continuation counts (distinct left neighbours): a <- {b, a} = 2, b <- {a} = 1; total 3, 2 types.
    #   P1(a) = (2 - .5)/3 + .5*2/3 * 1/2 = 1/2 + 1/6 = 2/3 ;  P1(b) = (1 - .5)/3 + 1/6 = 1/3
    # History a: C(a a)=1, C(a b)=2, C(a .)=3, 2 types:
    #   P(b|a) = (2 - .5)/3 + .5*2/3 * P1(b) = 1/2 + 1/9 = 11/18 ; P(a|a) = 1/6 + 2/9 = 7/18
    # History b: C(b a)=1, C(b .)=1, 1 type:  P(a|b) = .5/1 + .5*1/1 * 2/3 = 5/6 ; P(b|b) = 1/6
    lm = NGramLM(2, 2, "kneser-ney", discount=0.5).fit([0, 1, 0, 0, 1])
    np.testing.assert_allclose(lm.distribution([]), [2 / 3, 1 / 3], rtol=1e-12)
    np.testing.assert_allclose(lm.distribution([0]), [7 / 18, 11 / 18], rtol=1e-12)
    np.testing.assert_allclose(lm.distribution([1]), [5 / 6, 1 / 6], rtol=1e-12)
    # text "ab": P(a) * P(b|a) = 2/3 * 11/18 = 11/27 -> perplexity sqrt(27/11)
    assert lm.perplexity([0, 1]) == pytest.approx(math.sqrt(27 / 11), rel=1e-12)


@pytest.mark.parametrize("smoothing", ["add-k", "kneser-ney"])
@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_distribution_sums_to_one_for_every_context(smoothing, n):
    rng = np.random.default_rng(n)
    V = 4
    train = rng.integers(0, V - 1, size=60)  # token 3 never occurs in training
    lm = NGramLM(n, V, smoothing, k=0.1).fit(train)
    for length in range(0, n):  # every possible history, including unseen ones and short ones
        for hist in itertools.product(range(V), repeat=length):
            p = lm.distribution(list(hist))
            assert p.shape == (V,) and np.all(p > 0)
            assert p.sum() == pytest.approx(1.0, abs=1e-12), (smoothing, hist)


@pytest.mark.parametrize("smoothing", ["add-k", "kneser-ney"])
def test_vectorized_log_probs_match_the_distribution(smoothing):
    rng = np.random.default_rng(0)
    V = 5
    lm = NGramLM(3, V, smoothing, k=0.5).fit(rng.integers(0, V, size=300))
    text = rng.integers(0, V, size=40)
    lp = lm.log_probs(text)
    for i, tok in enumerate(text):
        assert lp[i] == pytest.approx(math.log(lm.distribution(text[:i])[tok]), rel=1e-12)
    assert lm.perplexity(text) == pytest.approx(perplexity_from_log_probs(lp))


def test_higher_order_fits_training_text_better_and_samples_follow_it():
    text = np.array([0, 1, 2, 3] * 50)
    uni = NGramLM(1, 4, "add-k", k=0.01).fit(text)
    tri = NGramLM(3, 4, "add-k", k=0.01).fit(text)
    assert uni.perplexity(text) == pytest.approx(4.0, rel=0.01)  # uniform unigram counts
    assert tri.perplexity(text, skip_first=2) < 1.05               # the cycle is predictable
    assert tri.sample(8, history=[0, 1], seed=0) == [2, 3, 0, 1, 2, 3, 0, 1]


def test_ngram_codes_are_base_v_numbers():
    assert ngram_codes(np.array([1, 2, 0, 1]), 2, 3).tolist() == [1 * 3 + 2, 2 * 3 + 0, 0 * 3 + 1]


def test_bad_input_is_reported():
    with pytest.raises(ValueError, match="n must be"):
        NGramLM(0, 3)
    with pytest.raises(ValueError, match="smoothing"):
        NGramLM(2, 3, "good-turing")
    with pytest.raises(ValueError, match="k > 0"):
        NGramLM(2, 3, "add-k", k=0)
    with pytest.raises(ValueError, match="smaller n"):
        NGramLM(12, 65)
    with pytest.raises(RuntimeError, match="fit"):
        NGramLM(2, 3).perplexity([0, 1])
    with pytest.raises(ValueError, match="same tokenizer"):
        NGramLM(2, 3).fit([0, 1, 5])
