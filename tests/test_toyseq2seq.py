import pytest
import torch

from course_utils.toyseq2seq import (BOS, Seq2Seq, accuracy_by_length, greedy_decode, reverse_batch,
                                     seq2seq_loss)
from course_utils.train import TrainConfig, train


def test_reverse_batch_is_a_teacher_forced_reversal():
    src, tgt_in, tgt = reverse_batch(3, batch=5, lengths=(4, 4))
    assert src.shape == tgt.shape == tgt_in.shape == (5, 4)
    assert torch.equal(tgt, src.flip(1))
    assert torch.all(tgt_in[:, 0] == BOS) and torch.equal(tgt_in[:, 1:], tgt[:, :-1])
    assert torch.equal(reverse_batch(3, batch=5, lengths=(4, 4))[0], src)  # deterministic per step
    with pytest.raises(ValueError, match="lengths"):
        reverse_batch(0, lengths=(5, 2))


def test_untrained_model_is_near_chance_and_trained_model_reverses_short_sequences():
    torch.manual_seed(0)
    model = Seq2Seq(24)
    tok0, _ = accuracy_by_length(model, [3], n=200)
    assert tok0[0] < 0.3                                   # chance is 0.1 per digit
    train(model, lambda s: reverse_batch(s, batch=32, lengths=(2, 3)),
          TrainConfig(max_steps=150, lr=1e-2, weight_decay=0.0, progress=False), loss_fn=seq2seq_loss)
    tok, seq = accuracy_by_length(model, [2, 3], n=200)
    assert min(tok) > 0.9 and min(seq) > 0.8
    src = torch.tensor([[1, 2, 3]])
    assert greedy_decode(model, src).tolist() == [[3, 2, 1]]
    assert model.training                                  # greedy_decode restores the mode
