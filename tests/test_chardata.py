"""chardata: character tokenizer round trip, nanoGPT's 90/10 split, deterministic batches."""
from __future__ import annotations

import pytest
import torch

from course_utils.chardata import CharTokenizer, char_data


def test_round_trip_and_unknown_character():
    tok = CharTokenizer("hello world")
    assert tok.vocab_size == 8
    assert tok.decode(tok.encode("low hold")) == "low hold"
    with pytest.raises(KeyError, match="not in the vocabulary"):
        tok.encode("xyz")


def test_split_and_batches_are_a_function_of_the_step():
    data = char_data("abcdefghij" * 100)
    assert len(data.train) == 900 and len(data.val) == 100
    get = data.batches("train", batch_size=4, block_size=8, seed=3)
    x, y = get(5)
    assert x.shape == y.shape == (4, 8)
    assert torch.equal(x[:, 1:], y[:, :-1])
    assert torch.equal(get(5)[0], x) and not torch.equal(get(6)[0], x)
    with pytest.raises(ValueError, match="too few"):
        data.batches("val", 2, 200)
