"""course_utils.prompting: demonstrations, prompt format, label scoring with a cached prefix, answer matching."""
from __future__ import annotations


import pytest
import torch

from course_utils import prompting as P
from course_utils.models.llama import Llama, LlamaConfig


@pytest.fixture(scope="module")
def tok(smollm2_tokenizer):
    return smollm2_tokenizer   # conftest.py: SmolLM2's tokenizer, or a skip if it is not installed


@pytest.fixture(scope="module")
def tiny(tok):
    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=len(tok), context=512, n_layer=2, n_head=4, n_kv_head=2, d_model=32, d_ff=64)
    return Llama(cfg).eval()


TEXTS = ["a gorgeous , witty film", "dull and far too long", "one of the year 's best", "a mess",
         "i loved every minute", "the plot goes nowhere", "warm , funny and wise", "tedious"]
LABELS = [1, 0, 1, 0, 1, 0, 1, 0]


def test_demonstrations_are_balanced_seeded_and_checked():
    demos = P.balanced_demonstrations(TEXTS, LABELS, 4, seed=3)
    assert sorted(y for _, y in demos) == [0, 0, 1, 1]
    assert demos == P.balanced_demonstrations(TEXTS, LABELS, 4, seed=3)
    assert all(TEXTS.index(t) % 2 == 1 - y for t, y in demos)         # each text keeps its own label
    assert P.balanced_demonstrations(TEXTS, LABELS, 0) == []
    with pytest.raises(ValueError, match="even"):
        P.balanced_demonstrations(TEXTS, LABELS, 3)
    with pytest.raises(ValueError, match="need 5"):
        P.balanced_demonstrations(TEXTS, LABELS, 10)


def test_prompt_format():
    demos = [("great", 1), ("awful", 0)]
    prompt = P.icl_prompt(demos, "  so-so \n film ")
    assert prompt == (P.INSTRUCTION + "Review: great\nSentiment: positive\n\n"
                      "Review: awful\nSentiment: negative\n\nReview: so-so film\nSentiment:")
    with pytest.raises(ValueError, match="empty"):
        P.format_example("   ")
    with pytest.raises(ValueError, match="label"):
        P.format_example("fine", 2)


def test_label_words_are_single_tokens(tok):
    ids = P.label_token_ids(tok)
    assert len(set(ids)) == 2 and tok.decode(ids[1]) == " positive"
    with pytest.raises(ValueError, match="tokens"):
        P.label_token_ids(tok, (" positively wonderful",))


@pytest.mark.parametrize("k", [0, 2])
def test_cached_batched_scores_equal_one_plain_forward(tok, tiny, k):
    prefix = P.prompt_prefix(P.balanced_demonstrations(TEXTS, LABELS, k, seed=0))
    texts = ["short", "a much longer review that needs padding in the batch", "medium length one"]
    got = P.label_logprobs(tiny, tok, prefix, texts, batch_size=2)
    want = torch.stack([P.label_logprobs_uncached(tiny, tok, prefix, t) for t in texts])
    assert got.shape == (3, 2)
    torch.testing.assert_close(got, want, atol=1e-4, rtol=1e-4)
    assert bool((got < 0).all())
    assert P.predict(torch.tensor([[-1.0, -2.0], [-3.0, -0.5]])).tolist() == [0, 1]
    with pytest.raises(ValueError, match="no texts"):
        P.label_logprobs(tiny, tok, prefix, [])


def test_rag_prompt_and_answer_matching():
    assert P.rag_prompt(" What is LoRA? ") == "What is LoRA?"
    with_sources = P.rag_prompt("What is LoRA?", ["LoRA adds  low-rank\nmatrices.", "Second."])
    assert "[1] LoRA adds low-rank matrices.\n\n[2] Second." in with_sources and with_sources.endswith("What is LoRA?")
    assert P.contains_answer("Set COURSE_PROFILE=ci before running.", "course_profile")
    assert P.contains_answer("Use a low rank adapter.", "low-rank|LoRA")
    assert not P.contains_answer("It is allowed.", "low")           # whole words only
    assert not P.contains_answer("Use pip.", "conda|environment.yml")
    with pytest.raises(ValueError, match="keyword"):
        P.contains_answer("anything", " | ")
    with pytest.raises(ValueError, match="empty"):
        P.rag_prompt("  ")
