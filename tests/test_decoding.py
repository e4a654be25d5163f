"""decoding: KV cache == no cache, top-k=1 == greedy, nucleus set is minimal, beam search."""
from __future__ import annotations

import pytest
import torch

from course_utils.decoding import beam_search, filter_top_k, filter_top_p, generate, sequence_logprob
from course_utils.models import GPT, GPTConfig


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return GPT(GPTConfig(vocab_size=23, block_size=12, n_layer=2, n_head=2, n_embd=32)).eval()


def test_greedy_with_and_without_kv_cache_identical(model):
    prompt = torch.tensor([[1, 2, 3], [4, 5, 6]])
    # 20 new tokens: longer than block_size, so the sliding window is exercised too
    a = generate(model, prompt, 20, greedy=True, use_cache=True)
    b = generate(model, prompt, 20, greedy=True, use_cache=False)
    assert a.shape == (2, 23)
    assert torch.equal(a, b)


def test_greedy_picks_argmax_each_step(model):
    out = generate(model, torch.tensor([[7]]), 5, greedy=True)
    for t in range(1, out.size(1)):
        assert out[0, t] == model(out[:, :t])[0, -1].argmax()


def test_top_k_1_equals_greedy(model):
    prompt = torch.tensor([[3, 1, 4]])
    g = torch.Generator().manual_seed(0)
    sampled = generate(model, prompt, 10, temperature=1.3, top_k=1, generator=g)
    assert torch.equal(sampled, generate(model, prompt, 10, greedy=True))


def test_sampling_is_reproducible_with_a_generator_and_varies_without(model):
    prompt = torch.tensor([[3, 1, 4]])
    a = generate(model, prompt, 10, temperature=2.0, generator=torch.Generator().manual_seed(1))
    b = generate(model, prompt, 10, temperature=2.0, generator=torch.Generator().manual_seed(1))
    c = generate(model, prompt, 10, temperature=2.0, generator=torch.Generator().manual_seed(2))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_filter_top_k_keeps_k():
    logits = torch.tensor([[0.1, 2.0, -1.0, 3.0, 0.5]])
    kept = torch.isfinite(filter_top_k(logits, 2))
    assert kept.tolist() == [[False, True, False, True, False]]


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8, 0.9, 0.99, 1.0])
def test_top_p_keeps_the_smallest_set_with_mass_at_least_p(p):
    torch.manual_seed(0)
    logits = torch.randn(6, 50) * 2
    probs = torch.softmax(logits, dim=-1)
    kept = torch.isfinite(filter_top_p(logits, p))
    for row in range(6):
        pk = probs[row][kept[row]]
        assert pk.sum() >= p - 1e-6                       # enough mass
        assert pk.sum() - pk.min() < p                      # dropping the least likely kept token falls short
        assert (probs[row][~kept[row]] <= pk.min()).all()   # kept tokens are the most likely


def test_top_p_known_example():
    probs = torch.tensor([[0.5, 0.05, 0.3, 0.15]])
    kept = torch.isfinite(filter_top_p(probs.log(), 0.75))
    assert kept.tolist() == [[True, False, True, False]]


def test_beam_search_width_1_is_greedy_and_wider_is_no_worse(model):
    prompt = torch.tensor([[2, 9]])
    seq1, _ = beam_search(model, prompt, 6, beam_width=1)
    assert torch.equal(seq1, generate(model, prompt, 6, greedy=True))
    seq4, score4 = beam_search(model, prompt, 6, beam_width=4)
    assert score4 == pytest.approx(sequence_logprob(model, seq4, 2), abs=1e-4)
    assert score4 >= sequence_logprob(model, seq1, 2) - 1e-5


def test_bad_arguments_raise(model):
    with pytest.raises(ValueError, match="top_p"):
        filter_top_p(torch.zeros(1, 3), 0.0)
    with pytest.raises(ValueError, match="batch, T"):
        generate(model, torch.tensor([1, 2]), 3)


def test_sequence_logprob_long_sequences_use_a_sliding_window(model):
    seq = generate(model, torch.tensor([[1, 2]]), 16, greedy=True)      # 18 > block_size 12
    by_hand = 0.0
    for t in range(2, seq.size(1)):
        window = seq[:, max(0, t - 12):t]
        by_hand += torch.log_softmax(model(window)[0, -1], -1)[seq[0, t]].item()
    assert sequence_logprob(model, seq, 2) == pytest.approx(by_hand, abs=1e-4)
    short = seq[:, :10]
    assert sequence_logprob(model, short, 3) == pytest.approx(
        sum(torch.log_softmax(model(short[:, :t])[0, -1], -1)[short[0, t]].item() for t in range(3, 10)), abs=1e-4)
