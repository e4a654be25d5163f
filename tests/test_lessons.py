"""The code that IS the lesson, written in the notebooks, equals the package's version that later
chapters import (issue 26): same outputs for the same weights, the same losses for the same steps.
Each test also shows that a changed lesson would be caught."""
from __future__ import annotations

import copy

import pytest
import torch

from course_utils.attention import MultiHeadAttention, causal_mask, padding_mask
from course_utils.chardata import shakespeare_chars
from course_utils.models import GPT, GPTConfig
from course_utils.train import TrainConfig, train
from nbcells import lesson

GPT_NB = "chapters/03_pretraining/03_training_a_mini_gpt.ipynb"
MHA_NB = "chapters/02_attention/03_masks_and_multi_head.ipynb"
CFG = GPTConfig(vocab_size=65, block_size=32, n_layer=2, n_head=4, n_embd=32)


def _logit_gap(ns: dict, seed: int = 0) -> float:
    torch.manual_seed(seed)
    package = GPT(CFG).eval()
    ours = ns["LessonGPT"](CFG).eval()
    ours.load_state_dict(package.state_dict())
    x = torch.randint(0, CFG.vocab_size, (3, CFG.block_size))
    with torch.no_grad():
        return (ours(x) - package(x)).abs().max().item()


def test_lesson_gpt_equals_the_package_gpt():
    assert _logit_gap(lesson(GPT_NB, "lesson-gpt")) < 1e-5
    assert _logit_gap(lesson(GPT_NB, "lesson-gpt"), seed=1) < 1e-5


def test_a_lesson_gpt_without_its_causal_mask_is_caught():
    broken = lesson(GPT_NB, "lesson-gpt", edit=("triu(diagonal=1)", "triu(diagonal=2)"))
    assert _logit_gap(broken) > 1e-3


def _losses(ns: dict, steps: int = 5) -> tuple[list[float], list[float]]:
    data = shakespeare_chars()
    torch.manual_seed(0)
    start = GPT(CFG).state_dict()
    ours, package = ns["LessonGPT"](CFG), GPT(CFG)
    ours.load_state_dict(start)
    package.load_state_dict(copy.deepcopy(start))
    batches = data.batches("train", 4, CFG.block_size, seed=5)
    mine = ns["train_steps"](ours, batches, steps=steps, peak_lr=3e-3, warmup=2)
    hist = train(package, batches, TrainConfig(max_steps=steps, lr=3e-3, warmup_steps=2, betas=(0.9, 0.99),
                                               amp="off", eval_every=10**9, progress=False))
    return mine, hist.train_loss


def test_lesson_training_loop_equals_the_package_loop_for_five_steps():
    mine, theirs = _losses(lesson(GPT_NB, "lesson-gpt", "lesson-loop"))
    assert len(mine) == len(theirs) == 5
    assert max(abs(a - b) for a, b in zip(mine, theirs)) < 1e-5
    assert mine[-1] < mine[0]                                            # it does learn


@pytest.mark.parametrize("edit", [("clip_grad_norm_(model.parameters(), 1.0)", "clip_grad_norm_(model.parameters(), 1e9)"),
                                  ("opt.zero_grad(set_to_none=True)", "pass")])
def test_a_changed_training_loop_is_caught(edit):
    mine, theirs = _losses(lesson(GPT_NB, "lesson-gpt", "lesson-loop", edit=edit))
    assert max(abs(a - b) for a, b in zip(mine, theirs)) > 1e-4


def _mha_gap(ns: dict) -> float:
    torch.manual_seed(0)
    package = MultiHeadAttention(16, 4).eval()
    ours = ns["MultiHeadSelfAttention"](16, 4).eval()
    ours.load_state_dict(package.state_dict(), strict=False)
    x = torch.randn(2, 6, 16)
    gap = 0.0
    for mask in (None, causal_mask(6), padding_mask([6, 3], 6)):
        (a, wa), (b, wb) = ours(x, mask), package(x, mask=mask)
        gap = max(gap, (a - b).abs().max().item(), (wa - wb).abs().max().item())
    return gap


def test_lesson_multi_head_attention_equals_the_package_module():
    assert _mha_gap(lesson(MHA_NB, "multi-head-from-scratch")) < 1e-6
    assert _mha_gap(lesson(MHA_NB, "multi-head-from-scratch", edit=("math.sqrt(self.d_head)", "self.d_head"))) > 1e-3
