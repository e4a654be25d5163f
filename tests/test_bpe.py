"""bpe: pre-tokenizer loses nothing, merges follow counts, round trip, comparison with HF tokenizers."""
from __future__ import annotations

import pytest

from course_utils.bpe import ByteBPE, hf_byte_level_bpe, merge_pair, pretokenize

TEXT = ("the cat sat on the mat. the dog sat on the log! " * 30
        + "First Citizen: Before we proceed any further, hear me speak.\n" * 10)
ODD = "Hello_world!  It's 2024, naïve café — 你好 🙂.\n\n\t x  "


def test_pretokenize_keeps_every_character():
    assert "".join(pretokenize(ODD)) == ODD
    assert pretokenize("the cat's hat") == ["the", " cat", "'s", " hat"]


def test_merge_pair_is_left_to_right_non_overlapping():
    assert merge_pair((1, 1, 1, 2, 1, 1), (1, 1), 9) == (9, 1, 2, 9)


def test_first_merge_is_the_most_frequent_pair():
    bpe = ByteBPE().train("aab aab ab", 258)    # chunks "aab", " aab", " ab"
    assert bpe.merges[0].pair == (ord("a"), ord("b")) and bpe.merges[0].count == 3
    assert bpe.token_bytes(257) == b"aab" and bpe.merges[1].count == 2


@pytest.mark.parametrize("text", [TEXT[-200:], ODD, "", "zzz unseen words qqq"])
def test_round_trip(text):
    bpe = ByteBPE().train(TEXT, 300)
    assert bpe.decode(bpe.encode(text)) == text


def test_merges_compress_and_vocab_size():
    bpe = ByteBPE().train(TEXT, 300)
    assert bpe.vocab_size == 300
    assert len(bpe.encode(TEXT)) < 0.5 * len(TEXT.encode())
    assert any(bpe.token_str(m.new_id) == "·the" for m in bpe.merges)
    with pytest.raises(ValueError, match="256"):
        ByteBPE().train(TEXT, 100)


def test_comparable_to_hf_tokenizers_byte_level_bpe():
    bpe = ByteBPE().train(TEXT, 300)
    hf = hf_byte_level_bpe(TEXT, 300)
    held = "the dog sat on the cat. Before we proceed, hear the log speak!"
    ours, theirs = len(bpe.encode(held)), len(hf.encode(held).ids)
    assert hf.decode(hf.encode(held).ids) == held
    assert 0.8 < ours / theirs < 1.25, (ours, theirs)
