import math

import pytest
import torch

from course_utils.charlm import (CharRNN, CharTokenizer, batch_fn, generate, n_params,
                                 streaming_nll, streaming_perplexity, train_val_split)
from course_utils.train import TrainConfig, train


def test_tokenizer_round_trip_and_errors():
    tok = CharTokenizer("hello world")
    assert tok.chars == sorted(set("hello world")) and tok.vocab_size == 8
    assert tok.decode(tok.encode("low hero")) == "low hero"
    assert tok.decode(torch.tensor(tok.encode("old"))) == "old"
    with pytest.raises(KeyError, match="'z' is not in the vocabulary"):
        tok.encode("zoo")
    with pytest.raises(ValueError, match="empty"):
        CharTokenizer("")


def test_split_is_first_90_percent():
    tr, va = train_val_split(list(range(100)))
    assert tr == list(range(90)) and va == list(range(90, 100))
    with pytest.raises(ValueError, match="between 0 and 1"):
        train_val_split([1, 2, 3], 1.0)


def test_batches_are_shifted_and_deterministic():
    data = torch.arange(50)
    get = batch_fn(data, block_size=6, batch_size=4, seed=3)
    x, y = get(7)
    assert x.shape == y.shape == (4, 6)
    assert torch.equal(y, x + 1)              # y is x shifted by one position
    assert torch.equal(get(7)[0], x)          # same step, same batch (resume-safe)
    assert not torch.equal(get(8)[0], x)
    with pytest.raises(ValueError, match="block_size"):
        batch_fn(torch.arange(5), block_size=6, batch_size=2)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_model_shapes_and_state(cell):
    torch.manual_seed(0)
    m = CharRNN(7, hidden=16, cell=cell).eval()
    x = torch.randint(0, 7, (2, 9))
    logits, state = m(x)
    assert logits.shape == (2, 9, 7)
    # running in two pieces with the state carried over equals running it at once
    a, s = m(x[:, :4])
    b, _ = m(x[:, 4:], s)
    torch.testing.assert_close(torch.cat([a, b], 1), logits)
    with pytest.raises(ValueError, match="cell"):
        CharRNN(7, cell="transformer")


def test_streaming_nll_equals_one_full_pass_and_untrained_is_near_uniform():
    torch.manual_seed(0)
    m = CharRNN(11, hidden=8, cell="lstm")
    data = torch.randint(0, 11, (101,))
    logits, _ = m(data[:-1].unsqueeze(0))
    full = torch.nn.functional.cross_entropy(logits[0], data[1:]).item()
    # chunks of 7 with the state carried over give the same number as one pass over all 100 targets
    assert streaming_nll(m, data, chunk=7) == pytest.approx(full, rel=1e-5)
    assert streaming_perplexity(m, data, chunk=7) == pytest.approx(math.exp(full), rel=1e-5)
    assert abs(full - math.log(11)) < 0.3


def test_lstm_learns_a_pattern_with_the_course_training_loop():
    torch.manual_seed(0)
    tok = CharTokenizer("abcd")
    data = torch.tensor(tok.encode("abcd" * 200))
    m = CharRNN(tok.vocab_size, hidden=32, cell="lstm")
    h = train(m, batch_fn(data, 16, 8), TrainConfig(max_steps=120, lr=1e-2, progress=False))
    assert h.train_loss[-1] < 0.1 * h.train_loss[0]
    assert streaming_perplexity(m, data) < 1.2
    assert tok.decode(generate(m, tok.encode("ab"), 6, temperature=0.5)) == "cdabcd"
    assert n_params(m) == sum(p.numel() for p in m.parameters())
    with pytest.raises(ValueError, match="prompt"):
        generate(m, [], 3)
