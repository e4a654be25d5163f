import math

import pytest
import torch

from course_utils import chardata
from course_utils.models import count_parameters
from course_utils.charlm import (CharRNN, CharTokenizer, char_data, sample,
                                 shakespeare_chars, streaming_nll, streaming_perplexity)
from course_utils.train import TrainConfig, train


def test_data_helpers_are_the_shared_chardata_ones():
    # chapter 1 reuses chapter 3's tokenizer, split and batches instead of duplicating them
    assert CharTokenizer is chardata.CharTokenizer and char_data is chardata.char_data
    assert shakespeare_chars is chardata.shakespeare_chars


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
    data = char_data("abcd" * 200)
    tok = data.tokenizer
    m = CharRNN(tok.vocab_size, hidden=32, cell="lstm")
    h = train(m, data.batches("train", 8, 16), TrainConfig(max_steps=120, lr=1e-2, progress=False))
    assert h.train_loss[-1] < 0.1 * h.train_loss[0]
    assert streaming_perplexity(m, data.val) < 1.2
    assert tok.decode(sample(m, tok.encode("ab"), 6, temperature=0.5)) == "cdabcd"
    assert count_parameters(m)[0] == sum(p.numel() for p in m.parameters())
    with pytest.raises(ValueError, match="prompt"):
        sample(m, [], 3)
