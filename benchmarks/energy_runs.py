"""Energy of the course's own runs, measured with course_utils.energy.measure (chapter 6).

    flock /tmp/course-cpu.lock env COURSE_PROFILE=cpu python benchmarks/energy_runs.py
    COURSE_PROFILE=gpu python benchmarks/energy_runs.py        # on a GPU: NVML-measured

Runs, each inside ``measure()``: a short pretraining run of the chapter-3 GPT on Tiny Shakespeare
(with its MFU), the levers (fp32 vs bf16, batch size, model width) on the same GPT, and a short
SST-2 fine-tuning of MiniLM, full vs LoRA. Writes results/energy_runs_<profile>.json.
"""
from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import torch

from course_utils import energy as E
from course_utils.chardata import shakespeare_chars
from course_utils.data import load_sst2
from course_utils.models.gpt import GPT, GPTConfig
from course_utils import results
from course_utils.runtime import get_device, get_profile, pick, seed_everything
from course_utils.train import TrainConfig, train

ROOT = Path(__file__).resolve().parents[1]


def gpt_run(data, device, *, n_layer: int, n_embd: int, block: int, batch: int, steps: int,
            amp: str = "off", n_head: int = 4, inference: bool = False) -> dict:
    """Train a fresh GPT for ``steps`` steps inside measure(); energy, speed and FLOPs of the run."""
    seed_everything(0)
    cfg = GPTConfig(vocab_size=data.tokenizer.vocab_size, block_size=block, n_layer=n_layer,
                    n_head=n_head, n_embd=n_embd)
    model = GPT(cfg)
    get = data.batches("train", batch, block, device=device)
    tcfg = TrainConfig(max_steps=steps, lr=1e-3, warmup_steps=min(10, steps // 5), amp=amp,
                       progress=False, eval_every=10 ** 9)
    train(model, get, TrainConfig(max_steps=2, amp=amp, progress=False), device=device)  # warm-up
    with E.measure() as m:
        hist = train(model, get, tcfg, device=device, items_fn=lambda b: b[0].numel())
    tokens = steps * batch * block
    extra = {}
    if inference:   # the same number of tokens through the trained model, forward only (no_grad)
        model.eval()
        with torch.no_grad(), E.measure() as mi:
            for step in range(steps):
                model(get(10_000 + step)[0])
        extra = {"inference_joules_per_token": mi.joules / tokens, "inference_tokens_per_s": tokens / mi.seconds,
                 "inference_energy": mi.result.as_dict()}
    fpt = E.gpt_flops_per_token(n_layer, n_embd, block, cfg.vocab_size, attention="causal")
    return {"n_layer": n_layer, "n_embd": n_embd, "block_size": block, "batch_size": batch, "steps": steps,
            "amp": amp, "params": model.num_params(), "tokens": tokens, "final_loss": hist.train_loss[-1],
            "tokens_per_s": tokens / m.seconds, "flops_per_token": fpt,
            "joules_per_token": m.joules / tokens, "energy": m.result.as_dict(), **extra}


def finetune_run(method: str, device, *, steps: int, batch: int, max_length: int = 64) -> dict:
    """Fine-tune MiniLM on SST-2 for ``steps`` steps inside measure(), as chapter 4 does: ``"full"``
    or a method of the PEFT registry (course_utils.peft, chapter 4's defaults: every linear layer,
    rank 8), length-bucketed batches, chapter 4's learning rate and loss."""
    from course_utils import finetune as ft
    from course_utils.peft import add_peft

    seed_everything(0)
    tok, model = ft.load_classifier()
    if method != "full":
        model = add_peft(model, method)
    texts, labels = load_sst2("train")
    n = steps * batch
    batches = ft.bucket_batches(tok, texts[:n], labels[:n], batch_size=batch, max_length=max_length, seed=0)
    trainable, total = ft.count_parameters(model)
    tcfg = TrainConfig(max_steps=steps, lr=ft.DEFAULT_LR[method], weight_decay=0.01, amp="off", progress=False,
                       eval_every=10 ** 9)
    with E.measure() as m:
        hist = train(model, batches, tcfg, loss_fn=ft.classification_loss, device=device)
    tokens = sum(int(b["attention_mask"].sum()) for b in batches)
    return {"method": method, "steps": steps, "batch_size": batch, "max_length": max_length,
            "batching": "length-bucketed (finetune.bucket_batches), as chapter 4 trains",
            "trainable_params": trainable, "total_params": total, "final_loss": hist.train_loss[-1],
            "tokens": tokens, "examples_per_s": n / m.seconds, "joules_per_example": m.joules / n,
            "energy": m.result.as_dict()}


def _median(runs: list[dict], key: str) -> dict:
    """The run with the median ``key`` (lower median), with every repeat's value attached."""
    ordered = sorted(runs, key=lambda r: r[key])
    return {**ordered[(len(ordered) - 1) // 2], f"repeats_{key}": [r[key] for r in runs]}


def repeated(data, device, reps: int, settings: list[dict]) -> list[dict]:
    """Run every setting ``reps`` times, interleaved (A B C A B C ...) so drift hits all alike."""
    runs = [[gpt_run(data, device, **kw) for kw in settings] for _ in range(reps)]
    return [_median([rep[i] for rep in runs], "joules_per_token") for i in range(len(settings))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=None, help="result JSON (default results/energy_runs_<profile>.json)")
    args = ap.parse_args()
    profile, device = get_profile(), get_device()
    torch.set_num_threads(max(1, torch.get_num_threads()))
    data = shakespeare_chars()
    steps = pick(ci=3, cpu=40, gpu=300)
    base = dict(n_layer=pick(ci=1, cpu=4, gpu=6), n_embd=pick(ci=32, cpu=128, gpu=384),
                block=pick(ci=32, cpu=128, gpu=256), batch=pick(ci=4, cpu=16, gpu=64))
    t0 = time.perf_counter()
    out: dict = {"what": "energy of the course's own runs (chapter 6)"}
    print(f"profile {profile}, device {results.environment()['device']}")

    pre = gpt_run(data, device, steps=steps, inference=True, **base)
    dev_name = torch.cuda.get_device_name() if device.type == "cuda" else "cpu"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        peak = E.peak_flops(dev_name, "bf16" if device.type == "cuda" else "fp32")
    pre["peak_flop_per_s"] = peak
    pre["mfu"] = E.mfu(pre["tokens_per_s"], pre["flops_per_token"], peak) if peak else None
    out["pretraining"] = pre
    print(f"pretraining: {pre['energy']['joules']:.1f} J ({pre['energy']['method']}), {pre['tokens_per_s']:.0f} tok/s, MFU {pre['mfu']}")

    lever_steps = max(2, steps // 2)
    reps = pick(ci=1, cpu=3, gpu=3)   # settings interleaved, repeated; the median run is kept
    out["repeats"] = reps
    out["precision"] = repeated(data, device, reps, [dict(steps=lever_steps, amp=a, **base) for a in ("off", "bf16")])
    out["batch_size"] = repeated(data, device, reps, [
        dict(steps=max(2, lever_steps * base["batch"] // b), **{**base, "batch": b})
        for b in pick(ci=[2, 8], cpu=[4, 16, 64], gpu=[16, 64, 256])])
    out["width"] = repeated(data, device, reps, [dict(steps=lever_steps, **{**base, "n_embd": w})
                                                 for w in pick(ci=[16, 32], cpu=[64, 128, 256], gpu=[192, 384, 768])])
    for k in ("precision", "batch_size", "width"):
        print(k, [(r["amp"], r["batch_size"], r["n_embd"], round(r["joules_per_token"] * 1e3, 3)) for r in out[k]],
              "mJ/token")

    ft_steps, ft_batch = pick(ci=2, cpu=20, gpu=200), pick(ci=4, cpu=16, gpu=32)
    methods = ("full", "lora")   # any name of course_utils.peft.METHODS can be added
    ft = [[finetune_run(mth, device, steps=ft_steps, batch=ft_batch) for mth in methods]
          for _ in range(pick(ci=1, cpu=2, gpu=2))]
    out["finetuning"] = [_median([rep[i] for rep in ft], "joules_per_example") for i in range(len(methods))]
    for r in out["finetuning"]:
        print(f"fine-tuning {r['method']}: {r['energy']['joules']:.1f} J, {r['trainable_params']:,} trainable, "
              f"{r['examples_per_s']:.1f} ex/s")
    out["total_seconds"] = time.perf_counter() - t0
    path = results.save("energy_runs", out, profile, path=args.out)
    print(f"wrote {path} ({out['total_seconds']:.0f} s)")


if __name__ == "__main__":
    main()
