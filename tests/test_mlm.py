"""mlm: 15 % selection, 80/10/10 replacement, specials never chosen, loss on chosen positions only."""
from __future__ import annotations

import pytest
import torch

from course_utils.mlm import IGNORE, mask_tokens, mlm_loss

MASK, VOCAB = 3, 1000


def corrupt(n=200_000, **kw):
    ids = torch.randint(10, VOCAB, (n // 100, 100))
    g = torch.Generator().manual_seed(0)
    return ids, *mask_tokens(ids, MASK, VOCAB, generator=g, **kw)


def test_fifteen_percent_chosen_and_80_10_10():
    ids, inputs, labels = corrupt()
    chosen = labels != IGNORE
    assert abs(chosen.float().mean().item() - 0.15) < 0.005
    assert torch.equal(labels[chosen], ids[chosen])
    n = chosen.sum().item()
    masked = (inputs == MASK) & chosen
    kept = (inputs == ids) & chosen
    changed = chosen & ~masked & ~kept                   # replaced by a different random token
    assert abs(masked.sum().item() / n - 0.8) < 0.01
    assert abs(kept.sum().item() / n - 0.1) < 0.01       # 10 % kept (+ random draws of the same id)
    assert abs(changed.sum().item() / n - 0.1) < 0.01
    assert torch.equal(inputs[~chosen], ids[~chosen])    # unchosen positions are untouched


def test_special_tokens_are_never_chosen():
    ids = torch.randint(10, VOCAB, (50, 40))
    special = torch.zeros_like(ids, dtype=torch.bool)
    special[:, 0] = special[:, -1] = True
    _, labels = mask_tokens(ids, MASK, VOCAB, special_tokens_mask=special,
                            generator=torch.Generator().manual_seed(1))
    assert (labels[special] == IGNORE).all() and (labels != IGNORE).any()


def test_loss_ignores_unchosen_positions():
    ids, _, labels = corrupt(2_000)
    logits = torch.randn(*ids.shape, VOCAB)
    loss = mlm_loss(logits, labels)
    other = logits.clone()
    other[labels == IGNORE] = torch.randn_like(other[labels == IGNORE])
    assert mlm_loss(other, labels) == pytest.approx(loss.item())
    sel = labels != IGNORE
    manual = -torch.log_softmax(logits[sel], -1).gather(-1, labels[sel][:, None]).mean()
    assert loss.item() == pytest.approx(manual.item(), rel=1e-5)


def test_bad_input():
    with pytest.raises(ValueError, match="mlm_probability"):
        mask_tokens(torch.zeros(2, 2, dtype=torch.long), MASK, VOCAB, mlm_probability=0)
    with pytest.raises(ValueError, match="no position"):
        mlm_loss(torch.zeros(1, 2, 5), torch.full((1, 2), IGNORE))
