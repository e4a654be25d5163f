"""One training loop for the whole course: AdamW, warmup + cosine schedule, gradient clipping,
bf16 autocast, periodic evaluation, checkpoint + resume, a progress bar, and a history to plot.

Batches come from a function ``get_batch(step) -> batch`` (deterministic per step, so a resumed
run sees exactly the batches the uninterrupted run would have seen) or from any iterable.
"""
from __future__ import annotations

import math
import os
import sys
import time
import warnings
from dataclasses import asdict, dataclass, field
from itertools import cycle
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import torch
import torch.nn.functional as F
from torch import nn

from course_utils.runtime import has_native_bf16

Batch = Any
BatchSource = Callable[[int], Batch] | Iterable[Batch]
LossFn = Callable[[nn.Module, Batch], torch.Tensor]


@dataclass
class TrainConfig:
    """Hyper-parameters of :func:`train`; every field has a sensible default except ``max_steps``."""

    max_steps: int
    lr: float = 3e-4
    weight_decay: float = 0.1
    betas: tuple[float, float] = (0.9, 0.95)
    warmup_steps: int = 0
    min_lr_ratio: float = 0.1          # the cosine decays to lr * min_lr_ratio
    schedule: str = "cosine"           # "cosine" | "linear" | "constant" (all after warmup)
    schedule_clock: str = "steps"      # "steps": decay over max_steps; "time": also over max_seconds
    grad_clip: float | None = 1.0
    eval_every: int = 100
    eval_batches: int = 10
    amp: str = "auto"                  # "auto" (bf16 on CUDA), "native", "bf16", "off": see resolve_amp
    checkpoint_path: str | None = None
    checkpoint_every: int | None = None
    resume: bool = True
    max_seconds: float | None = None   # stop early when this much training time is spent
    progress: bool = True
    log_every: int = 1


@dataclass
class History:
    """What happened during training, step by step (ready for :func:`course_utils.viz.plot_history`)."""

    step: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    eval_step: list[int] = field(default_factory=list)
    eval_loss: dict[str, list[float]] = field(default_factory=dict)
    seconds: float = 0.0
    items: int = 0                     # tokens or examples seen (from items_fn)
    stopped: str = ""                  # "", "max_seconds", "interrupted", "diverged"

    def best(self, split: str = "val") -> float:
        """The lowest evaluation loss on a split (inf if never evaluated)."""
        return min(self.eval_loss.get(split, []), default=math.inf)


def lr_at(step: int, cfg: TrainConfig, seconds: float = 0.0) -> float:
    """Learning rate at a step: linear warmup, then cosine / linear decay to lr * min_lr_ratio.

    With ``schedule_clock="time"`` the decay also follows the training time spent (``seconds``)
    over ``max_seconds`` and ends with whichever budget runs out first, so it has finished when
    the time is up however fast or slow the machine is (warmup still counts steps).
    """
    if cfg.schedule_clock not in ("steps", "time"):
        raise ValueError(f"schedule_clock must be 'steps' or 'time', not {cfg.schedule_clock!r}")
    if cfg.warmup_steps and step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    if cfg.schedule == "constant":
        return cfg.lr
    progress = min(1.0, (step - cfg.warmup_steps) / max(1, cfg.max_steps - cfg.warmup_steps))
    if cfg.schedule_clock == "time":   # whichever budget runs out first ends the decay
        if not cfg.max_seconds:
            raise ValueError("schedule_clock='time' needs max_seconds (the budget the decay spans)")
        progress = max(progress, min(1.0, seconds / cfg.max_seconds))
    floor = cfg.lr * cfg.min_lr_ratio
    if cfg.schedule == "linear":
        return floor + (cfg.lr - floor) * (1 - progress)
    if cfg.schedule == "cosine":
        return floor + (cfg.lr - floor) * 0.5 * (1 + math.cos(math.pi * progress))
    raise ValueError(f"schedule must be 'cosine', 'linear' or 'constant', not {cfg.schedule!r}")


def lm_loss(model: nn.Module, batch: Batch) -> torch.Tensor:
    """Default loss: batch is (inputs, targets), the model returns logits (..., vocab)."""
    x, y = batch
    out = model(x)
    logits = out[0] if isinstance(out, tuple) else out
    return F.cross_entropy(logits.reshape(-1, logits.size(-1)), y.reshape(-1))


AMP_CHOICES = ("auto", "native", "bf16", "off")


class SlowPrecisionWarning(UserWarning):
    """bf16 autocast was asked for on a processor that has no bf16 arithmetic (it is emulated there)."""


def resolve_amp(device: torch.device | str, amp: str) -> str:
    """The precision an ``amp`` setting means on ``device``: ``"bf16"`` or ``"off"`` (fp32).

    ``auto``: bf16 on a CUDA GPU that supports it, fp32 elsewhere (the small models of chapter 3
    gain little from bf16 on a CPU). ``native``: bf16 wherever the hardware computes in bf16
    (:func:`has_native_bf16`, CPUs included), fp32 elsewhere. ``bf16`` and ``off`` are taken as given.
    """
    if amp not in AMP_CHOICES:
        raise ValueError(f"amp must be one of {', '.join(map(repr, AMP_CHOICES))}, not {amp!r}")
    device = torch.device(device)
    if amp == "auto":
        return "bf16" if device.type == "cuda" and has_native_bf16(device) else "off"
    if amp == "native":
        return "bf16" if has_native_bf16(device) else "off"
    return amp


def warn_if_emulated(device: torch.device | str, amp: str) -> None:
    """Warn when bf16 autocast is asked for explicitly on a device without bf16 arithmetic."""
    if amp == "bf16" and not has_native_bf16(device):
        device = torch.device(device)
        why = {"cpu": "a CPU without AVX512-BF16 or AMX instructions",
               "cuda": "a GPU older than Ampere"}.get(device.type, f"a {device.type} device")
        warnings.warn(f"bf16 autocast on {why} is emulated and can run many times slower than fp32 (more than "
                      "ten times for a MiniLM training step on an AVX2 CPU); pass amp='native' to use bf16 only "
                      "where the hardware has it, or amp='off'", SlowPrecisionWarning, stacklevel=3)


def autocast_context(device: torch.device, amp: str):
    """An autocast context: bf16 where :func:`resolve_amp` says so, else a no-op."""
    use = resolve_amp(device, amp) == "bf16"
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=use)


def _batches(source: BatchSource) -> Callable[[int], Batch]:
    if callable(source):
        return source
    it: Iterator[Batch] = cycle(source) if not isinstance(source, Iterator) else source
    return lambda _step: next(it)


def _to(batch: Batch, device: torch.device) -> Batch:
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, (list, tuple)):
        return type(batch)(_to(b, device) for b in batch)
    if isinstance(batch, dict):
        return {k: _to(v, device) for k, v in batch.items()}
    return batch


@torch.no_grad()
def evaluate(model: nn.Module, source: BatchSource, n_batches: int, device: torch.device,
             loss_fn: LossFn = lm_loss, amp: str = "auto") -> float:
    """Mean loss over ``n_batches`` batches, in eval mode (restores the previous mode)."""
    was_training = model.training
    model.eval()
    get = _batches(source)
    total = 0.0
    for i in range(n_batches):
        with autocast_context(device, amp):
            total += float(loss_fn(model, _to(get(i), device)))
    model.train(was_training)
    return total / n_batches


def static_output() -> bool:
    """True when outputs end up in a static page or a test log (no live progress widgets)."""
    if os.environ.get("COURSE_STATIC_OUTPUT", "") == "1":
        return True
    return "ipykernel" not in sys.modules and not sys.stdout.isatty()


def progress(total: int, initial: int = 0, desc: str = "train", enabled: bool = True):
    """A tqdm progress bar in Jupyter and terminals; silent in static builds and tests."""
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, desc=desc, disable=not enabled or static_output())


def save_checkpoint(path: str | os.PathLike, model: nn.Module, opt: torch.optim.Optimizer,
                    step: int, history: History, cfg: TrainConfig) -> None:
    """Write model, optimizer, step, history and RNG states atomically (write then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {"model": model.state_dict(), "optimizer": opt.state_dict(), "step": step,
             "history": asdict(history), "config": asdict(cfg), "rng_cpu": torch.get_rng_state(),
             "rng_cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None}
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def load_checkpoint(path: str | os.PathLike, model: nn.Module,
                    opt: torch.optim.Optimizer | None = None) -> tuple[int, History]:
    """Restore a checkpoint written by :func:`save_checkpoint`; returns (next step, history)."""
    state = torch.load(path, map_location="cpu", weights_only=False)
    model.load_state_dict(state["model"])
    if opt is not None:
        opt.load_state_dict(state["optimizer"])
    torch.set_rng_state(state["rng_cpu"])
    if state.get("rng_cuda") is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["rng_cuda"])
    return int(state["step"]), History(**state["history"])


def decay_groups(named_params: Iterable[tuple[str, torch.Tensor]], weight_decay: float,
                 lr_scale: Callable[[str], float] | None = None) -> list[dict]:
    """Optimizer parameter groups: weight decay on matrices only (not on biases, norms or 1-d
    parameters); ``lr_scale(name)`` optionally gives a parameter a learning-rate multiplier that
    the schedule keeps (stored as the group's ``lr_scale``), e.g. LoRA+'s larger rate for B."""
    groups: dict[tuple[bool, float], dict] = {}
    for name, p in named_params:
        if not p.requires_grad:
            continue
        decay, scale = p.dim() >= 2, float(lr_scale(name)) if lr_scale else 1.0
        group = groups.setdefault((decay, scale), {"params": [], "lr_scale": scale,
                                                   "weight_decay": weight_decay if decay else 0.0})
        group["params"].append(p)
    return list(groups.values())


def make_optimizer(model: nn.Module, cfg: TrainConfig,
                   lr_scale: Callable[[str], float] | None = None) -> torch.optim.AdamW:
    """AdamW over :func:`decay_groups` of the model's trainable parameters."""
    groups = decay_groups(model.named_parameters(), cfg.weight_decay, lr_scale)
    params = [p for g in groups for p in g["params"]]
    # the fused kernel updates each tensor in one multi-threaded pass instead of a dozen separate
    # operations: on a 2-core CPU it cut MiniLM's optimizer step from 74 ms to 8 ms (chapter 4)
    fused = bool(params) and all(p.is_floating_point() and p.device.type in ("cpu", "cuda") for p in params)
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=cfg.betas, fused=fused or None)


def train(model: nn.Module, train_data: BatchSource, cfg: TrainConfig, *,
          eval_data: dict[str, BatchSource] | None = None, loss_fn: LossFn = lm_loss,
          device: torch.device | str = "cpu", items_fn: Callable[[Batch], int] | None = None,
          optimizer: torch.optim.Optimizer | None = None) -> History:
    """Train ``model`` for ``cfg.max_steps`` steps and return its :class:`History`.

    If ``cfg.checkpoint_path`` exists and ``cfg.resume`` is true, training continues from it.
    Ctrl-C (KeyboardInterrupt) saves a checkpoint (when a path is set) and returns the history.
    """
    device = torch.device(device)
    amp = resolve_amp(device, cfg.amp)              # once, before any work: "bf16" or "off" from here on
    warn_if_emulated(device, cfg.amp)
    model.to(device).train()
    opt = optimizer or make_optimizer(model, cfg)
    history, start = History(), 0
    if cfg.checkpoint_path and cfg.resume and Path(cfg.checkpoint_path).is_file():
        start, history = load_checkpoint(cfg.checkpoint_path, model, opt)
    get = _batches(train_data)
    eval_data = eval_data or {}

    def run_eval(step: int) -> None:
        history.eval_step.append(step)
        for name, src in eval_data.items():
            loss = evaluate(model, src, cfg.eval_batches, device, loss_fn, amp)
            history.eval_loss.setdefault(name, []).append(loss)

    bar = progress(cfg.max_steps, start, enabled=cfg.progress)
    t0, spent0 = time.perf_counter(), history.seconds
    step = start
    try:
        for step in range(start, cfg.max_steps):
            if eval_data and step % cfg.eval_every == 0 and step not in history.eval_step:
                run_eval(step)
            lr = lr_at(step, cfg, history.seconds)
            for group in opt.param_groups:
                group["lr"] = lr * group.get("lr_scale", 1.0)
            batch = _to(get(step), device)
            with autocast_context(device, amp):
                loss = loss_fn(model, batch)
            loss_value = loss.item()
            if not math.isfinite(loss_value):
                history.stopped = "diverged"
                print(f"step {step}: loss is {loss_value}; stopping (learning rate {lr:.2e} too high?)")
                break
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.grad_clip:
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            opt.step()
            if step % cfg.log_every == 0:
                history.step.append(step)
                history.train_loss.append(loss_value)
                history.lr.append(lr)
            history.items += items_fn(batch) if items_fn else 0
            history.seconds = spent0 + time.perf_counter() - t0
            bar.update(1)
            bar.set_postfix(loss=f"{loss_value:.3f}")
            if cfg.checkpoint_path and cfg.checkpoint_every and (step + 1) % cfg.checkpoint_every == 0:
                save_checkpoint(cfg.checkpoint_path, model, opt, step + 1, history, cfg)
            if cfg.max_seconds and history.seconds >= cfg.max_seconds:
                history.stopped = "max_seconds"
                step += 1
                break
        else:
            step = cfg.max_steps
        if eval_data and history.stopped != "diverged" and step not in history.eval_step:
            run_eval(step)
    except KeyboardInterrupt:
        history.stopped = "interrupted"
        print(f"interrupted at step {step}" + (f"; checkpoint saved to {cfg.checkpoint_path}"
                                                 if cfg.checkpoint_path else ""))
    finally:
        bar.close()
    if cfg.checkpoint_path:
        save_checkpoint(cfg.checkpoint_path, model, opt, step, history, cfg)
    if static_output() and cfg.progress:
        rate = f", {history.items / history.seconds:,.0f} items/s" if history.items and history.seconds else ""
        print(f"trained to step {step} of {cfg.max_steps} in {history.seconds:.1f} s{rate}")
    return history
