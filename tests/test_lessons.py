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
from scripts import benchmark

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


# 1.3: the toy seq2seq (one context vector) and its version with additive attention ------------

S2S_NB = "chapters/01_history/03_seq2seq_and_beam_search.ipynb"


def _seq2seq_gaps(ns: dict, attention: bool = False) -> dict:
    """Largest differences between the lesson's and course_utils.toyseq2seq's batches, logits,
    losses over three training steps, greedy digits (and attention weights) for the same weights."""
    from course_utils import toyseq2seq as pkg

    name = "AttnSeq2Seq" if attention else "Seq2Seq"
    torch.manual_seed(0)
    package = getattr(pkg, name)(16)
    ours = ns[name](16)
    ours.load_state_dict(package.state_dict())
    gaps = {}
    batch = ns["reverse_batch"](3, batch=8)
    gaps["batch"] = max(float((a != b).sum()) for a, b in zip(batch, pkg.reverse_batch(3, batch=8)))
    src, tgt_in, _ = batch
    with torch.no_grad():
        gaps["logits"] = (ours(src, tgt_in) - package(src, tgt_in)).abs().max().item()
    cfg = TrainConfig(max_steps=3, lr=1e-2, warmup_steps=0, weight_decay=0.0, progress=False)
    mine = train(ours, ns["reverse_batch"], cfg, loss_fn=ns["seq2seq_loss"]).train_loss
    theirs = train(package, pkg.reverse_batch, cfg, loss_fn=pkg.seq2seq_loss).train_loss
    gaps["losses"] = max(abs(a - b) for a, b in zip(mine, theirs))
    src = pkg.reverse_batch(9, batch=16, lengths=(6, 6))[0]
    if attention:
        (d1, w1), (d2, w2) = ns["greedy_decode_attention"](ours, src), pkg.greedy_decode_attention(package, src)
        gaps["weights"] = (w1 - w2).abs().max().item()
    else:
        d1, d2 = ns["greedy_decode"](ours, src), pkg.greedy_decode(package, src)
    gaps["digits"] = float((d1 != d2).sum())
    return gaps


def test_lesson_seq2seq_equals_the_package_seq2seq():
    gaps = _seq2seq_gaps(lesson(S2S_NB, "lesson-seq2seq", "lesson-greedy"))
    assert gaps["batch"] == 0 and gaps["digits"] == 0
    assert gaps["logits"] < 1e-6 and gaps["losses"] < 1e-5


def test_lesson_attention_seq2seq_equals_the_package_version():
    ns = lesson(S2S_NB, "lesson-seq2seq", "lesson-additive-attention", "lesson-attn-seq2seq")
    gaps = _seq2seq_gaps(ns, attention=True)
    assert gaps["batch"] == 0 and gaps["digits"] == 0
    assert gaps["logits"] < 1e-6 and gaps["losses"] < 1e-5 and gaps["weights"] < 1e-6


@pytest.mark.parametrize("edit, caught", [(("tgt = src.flip(1)", "tgt = src"), "batch"),
                                          (("self.out(out)", "self.out(out).tanh()"), "logits"),
                                          (("tok = model.out(o).argmax(-1)", "tok = model.out(o).argmin(-1)"), "digits")])
def test_a_changed_lesson_seq2seq_is_caught(edit, caught):
    assert _seq2seq_gaps(lesson(S2S_NB, "lesson-seq2seq", "lesson-greedy", edit=edit))[caught] > 1e-3


@pytest.mark.parametrize("edit, caught", [(("scores.softmax(dim=-1)", "scores.softmax(dim=0)"), "weights"),
                                          (("self.W_s(s)[:, None, :] + self.W_h(H)", "self.W_h(H)"), "weights"),
                                          (("torch.cat([s, context], dim=-1)", "torch.cat([s, 0 * context], dim=-1)"),
                                           "logits")])
def test_a_changed_lesson_attention_is_caught(edit, caught):
    ns = lesson(S2S_NB, "lesson-seq2seq", "lesson-additive-attention", "lesson-attn-seq2seq", edit=edit)
    assert _seq2seq_gaps(ns, attention=True)[caught] > 1e-4


# 3.6: the scaling runs and the power-law fit ----------------------------------------------------

SCALING_NB = "chapters/03_pretraining/06_scaling.ipynb"
TINY = dict(steps=3, batch=4, block=16)


def _run_gap(ns: dict) -> float:
    """The lesson's run of one tiny size vs benchmarks/gpt_scaling.py's (which made the stored cpu
    numbers the lesson plots): the same parameter count, tokens, compute and validation loss."""
    bench = benchmark("gpt_scaling")
    mine = ns["run_size"](1, 16, **TINY)
    theirs = bench.run_size(ns["data"], 1, 16, **TINY, device=torch.device("cpu"))
    keys = ("params_non_embedding", "tokens", "compute_flops_6ND", "val_loss")
    return max(abs(mine[k] - theirs[k]) for k in keys)


def test_lesson_scaling_run_equals_the_benchmark_run():
    assert _run_gap(lesson(SCALING_NB, "lesson-scaling-run")) < 1e-6


@pytest.mark.parametrize("edit", [("seed_everything(0)", "seed_everything(1)"),
                                  ("lr=3e-3", "lr=3e-4"),
                                  ("non_embedding=True", "non_embedding=False")])
def test_a_changed_scaling_run_is_caught(edit):
    assert _run_gap(lesson(SCALING_NB, "lesson-scaling-run", edit=edit)) > 1e-4


def _fit_gap(ns: dict) -> float:
    """The lesson's fit vs the benchmark's and vs the closed-form least-squares line, on an exact
    power law (alpha 0.3) and on noisy points."""
    import numpy as np

    bench = benchmark("gpt_scaling")
    n = np.array([1e3, 1e4, 3e4, 1e5, 1e6])
    gaps = [abs(ns["fit_power_law"](n, 5 * n ** -0.3)[0] - 0.3)]
    loss = 5 * n ** -0.3 * np.array([1.02, 0.97, 1.01, 0.99, 1.03])
    x, y = np.log10(n), np.log10(loss)
    slope = ((x - x.mean()) * (y - y.mean())).sum() / ((x - x.mean()) ** 2).sum()
    for a, b in (bench.fit_power_law(n, loss), (-slope, y.mean() - slope * x.mean())):
        gaps += [abs(u - v) for u, v in zip(ns["fit_power_law"](n, loss), (a, b))]
    return max(gaps)


def test_lesson_power_law_fit_equals_the_benchmark_and_least_squares():
    assert _fit_gap(lesson(SCALING_NB, "lesson-power-law-fit")) < 1e-9


@pytest.mark.parametrize("edit", [("float(-slope)", "float(slope)"), ("np.log10(loss)", "np.log(loss)")])
def test_a_changed_power_law_fit_is_caught(edit):
    assert _fit_gap(lesson(SCALING_NB, "lesson-power-law-fit", edit=edit)) > 1e-3
