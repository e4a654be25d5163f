import math

import pytest
import torch
from torch import nn

from course_utils.train import TrainConfig, load_checkpoint, lr_at, train


class Tiny(nn.Module):
    """A bigram-style model with dropout, so RNG state matters for resume."""

    def __init__(self, vocab: int = 11):
        super().__init__()
        self.emb = nn.Embedding(vocab, 16)
        self.drop = nn.Dropout(0.2)
        self.out = nn.Linear(16, vocab)

    def forward(self, x):
        return self.out(self.drop(self.emb(x)))


def batch(step: int):
    g = torch.Generator().manual_seed(step)
    x = torch.randint(0, 11, (8, 5), generator=g)
    return x, (x + 1) % 11


def fresh():
    torch.manual_seed(0)
    return Tiny()


def test_schedule_warmup_and_cosine():
    cfg = TrainConfig(max_steps=110, lr=1e-3, warmup_steps=10, min_lr_ratio=0.1)
    assert lr_at(0, cfg) == pytest.approx(1e-4)
    assert lr_at(9, cfg) == pytest.approx(1e-3)
    assert lr_at(10, cfg) == pytest.approx(1e-3)
    assert lr_at(60, cfg) == pytest.approx(1e-4 + 0.9e-3 * 0.5)
    assert lr_at(110, cfg) == pytest.approx(1e-4)
    assert lr_at(35, TrainConfig(max_steps=110, lr=1e-3, schedule="constant")) == 1e-3


def test_time_clock_schedule_follows_the_budget():
    cfg = TrainConfig(max_steps=10_000, lr=1e-3, warmup_steps=10, min_lr_ratio=0.1,
                      schedule_clock="time", max_seconds=60.0)
    assert lr_at(5, cfg, seconds=0.5) == pytest.approx(6e-4)            # warmup still counts steps
    assert lr_at(10, cfg, seconds=0.0) == pytest.approx(1e-3)
    assert lr_at(500, cfg, seconds=30.0) == pytest.approx(1e-4 + 0.9e-3 * 0.5)
    assert lr_at(50, cfg, seconds=30.0) == lr_at(5000, cfg, seconds=30.0)  # the step no longer matters
    assert lr_at(500, cfg, seconds=90.0) == pytest.approx(1e-4)          # past the budget: the floor
    assert lr_at(10_000, cfg, seconds=1.0) == pytest.approx(1e-4)        # steps ran out first
    with pytest.raises(ValueError, match="max_seconds"):
        lr_at(50, TrainConfig(max_steps=100, schedule_clock="time"), seconds=1.0)
    with pytest.raises(ValueError, match="schedule_clock"):
        lr_at(50, TrainConfig(max_steps=100, schedule_clock="wall"), seconds=1.0)


def test_time_clock_training_decays_within_the_budget():
    cfg = TrainConfig(max_steps=10**9, lr=1e-2, schedule_clock="time", max_seconds=0.5,
                      progress=False)
    h = train(fresh(), batch, cfg)
    assert h.stopped == "max_seconds"
    assert h.lr[0] == pytest.approx(1e-2)
    assert h.lr[-1] < 0.2e-2 and h.lr == sorted(h.lr, reverse=True)


def test_learns_and_evaluates():
    cfg = TrainConfig(max_steps=150, lr=1e-2, eval_every=50, eval_batches=2, progress=False)
    h = train(fresh(), batch, cfg, eval_data={"val": lambda i: batch(10_000 + i)})
    assert h.eval_step == [0, 50, 100, 150]
    assert h.eval_loss["val"][0] > math.log(11) - 0.5
    assert h.best("val") < 0.5 * h.eval_loss["val"][0]


def test_resume_continues_the_same_curve(tmp_path):
    cfg = dict(max_steps=40, lr=5e-3, warmup_steps=5, progress=False)
    full = train(fresh(), batch, TrainConfig(**cfg))
    ckpt = tmp_path / "run.pt"

    def crash_at_25(step):
        if step == 25:
            raise KeyboardInterrupt
        return batch(step)

    part = train(fresh(), crash_at_25, TrainConfig(**cfg, checkpoint_path=str(ckpt)))
    assert part.stopped == "interrupted" and len(part.train_loss) == 25
    # a new process rebuilds the model from scratch; resume must restore everything else
    resumed = train(fresh(), batch, TrainConfig(**cfg, checkpoint_path=str(ckpt)))
    assert resumed.step == full.step
    assert resumed.train_loss == pytest.approx(full.train_loss, rel=1e-6, abs=1e-7)


def test_interrupt_saves_a_checkpoint(tmp_path):
    ckpt = tmp_path / "run.pt"

    def interrupting(step):
        if step == 7:
            raise KeyboardInterrupt
        return batch(step)

    h = train(fresh(), interrupting, TrainConfig(max_steps=20, progress=False, checkpoint_path=str(ckpt)))
    assert h.stopped == "interrupted"
    step, saved = load_checkpoint(ckpt, fresh())
    assert step == 7 and len(saved.train_loss) == 7


def test_divergence_stops_with_a_message(capsys):
    h = train(fresh(), batch, TrainConfig(max_steps=50, lr=1e6, grad_clip=None, warmup_steps=0,
                                          progress=False))
    assert h.stopped == "diverged" and len(h.train_loss) < 50
    assert "too high" in capsys.readouterr().out


def test_bad_amp_and_schedule():
    with pytest.raises(ValueError, match="amp"):
        train(fresh(), batch, TrainConfig(max_steps=1, amp="fp8", progress=False))
    with pytest.raises(ValueError, match="schedule"):
        lr_at(5, TrainConfig(max_steps=10, schedule="step"))


@pytest.mark.parametrize("native", [False, True])
def test_amp_settings_follow_the_processors_bf16_support(monkeypatch, native):
    """'native' is bf16 only where the CPU has bf16 instructions; 'auto' keeps fp32 on any CPU;
    an explicit 'bf16' is honoured but warns where it would be emulated."""
    import warnings

    import course_utils.train as tr

    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: native, raising=False)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False, raising=False)
    assert tr.has_native_bf16("cpu") is native
    assert tr.resolve_amp("cpu", "native") == ("bf16" if native else "off")
    assert tr.resolve_amp("cpu", "auto") == "off" and tr.resolve_amp("cpu", "off") == "off"
    assert tr.resolve_amp("cpu", "bf16") == "bf16"
    assert tr.autocast_context(torch.device("cpu"), "native")._enabled is native
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        train(fresh(), batch, TrainConfig(max_steps=1, amp="bf16", progress=False))
        train(fresh(), batch, TrainConfig(max_steps=1, amp="native", progress=False))
    slow = [w for w in caught if issubclass(w.category, tr.SlowPrecisionWarning)]
    assert len(slow) == (0 if native else 1)
    assert not slow or "amp='native'" in str(slow[0].message)


def test_amp_on_a_cpu_with_amx_only(monkeypatch):
    import course_utils.train as tr

    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False, raising=False)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: True, raising=False)
    assert tr.resolve_amp("cpu", "native") == "bf16"
    with pytest.raises(ValueError, match="'native'"):
        tr.resolve_amp("cpu", "fp16")


def test_emulated_bf16_warning_names_the_hardware(monkeypatch):
    import course_utils.train as tr

    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False, raising=False)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False, raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.warns(tr.SlowPrecisionWarning, match="CPU without AVX512-BF16 or AMX"):
        tr.warn_if_emulated("cpu", "bf16")
    with pytest.warns(tr.SlowPrecisionWarning, match="GPU older than Ampere"):
        tr.warn_if_emulated("cuda", "bf16")
