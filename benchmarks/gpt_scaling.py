"""Scaling experiment: train several sizes of models.GPT on Tiny Shakespeare (characters) for the
same number of tokens and record the final validation loss of each, for a log-log fit.

    flock /tmp/course-cpu.lock .venv/bin/python benchmarks/gpt_scaling.py --profile cpu

Writes results/gpt_scaling_<profile>.json (through course_utils.results: stamped with the environment, date and commit).
The same experiment, at ci size, is in chapters/03_pretraining/06_scaling.ipynb.
"""
from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np
import torch

from course_utils import results
from course_utils.chardata import shakespeare_chars
from course_utils.models import GPT, GPTConfig
from course_utils.runtime import get_device, get_profile, seed_everything
from course_utils.train import TrainConfig, evaluate, train

ROOT = Path(__file__).resolve().parents[1]


# (layers, width); heads = width // 16; every size sees the same tokens
SIZES = {"ci": [(1, 16), (1, 32), (2, 32), (2, 48)],
         "cpu": [(1, 32), (2, 48), (2, 64), (3, 96), (4, 128)],
         "gpu": [(2, 64), (3, 128), (4, 192), (6, 256), (6, 384), (8, 512)]}
BUDGET = {"ci": dict(steps=30, batch=8, block=32), "cpu": dict(steps=600, batch=16, block=64),
          "gpu": dict(steps=3000, batch=64, block=128)}


def run_size(data, n_layer: int, n_embd: int, steps: int, batch: int, block: int, device) -> dict:
    """Train one size for ``steps`` steps of ``batch`` x ``block`` tokens; return its numbers."""
    seed_everything(0)
    cfg = GPTConfig(vocab_size=data.tokenizer.vocab_size, block_size=block, n_layer=n_layer,
                    n_head=max(1, n_embd // 16), n_embd=n_embd)
    model = GPT(cfg)
    hist = train(model, data.batches("train", batch, block, seed=0),
                 TrainConfig(max_steps=steps, lr=3e-3, warmup_steps=max(1, steps // 20), progress=False),
                 device=device, items_fn=lambda b: b[0].numel())
    val = evaluate(model, data.batches("val", 64, block, seed=1), 10, device)
    n = model.num_params(non_embedding=True)
    return {"n_layer": n_layer, "n_embd": n_embd, "params_non_embedding": n,
            "params_total": model.num_params(), "tokens": hist.items,
            "compute_flops_6ND": 6 * n * hist.items, "val_loss": val, "seconds": hist.seconds}


def fit_power_law(x: list[float], loss: list[float]) -> tuple[float, float]:
    """Least-squares line through (log10 x, log10 loss): returns (exponent alpha, intercept)."""
    slope, intercept = np.polyfit(np.log10(x), np.log10(loss), 1)
    return float(-slope), float(intercept)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--profile", choices=["ci", "cpu", "gpu"], default=None)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    profile = args.profile or get_profile()
    os.environ["COURSE_PROFILE"] = profile
    device = get_device(profile)
    if device.type == "cpu":
        torch.set_num_threads(min(2, os.cpu_count() or 1))
    data = shakespeare_chars()
    runs = []
    for n_layer, n_embd in SIZES[profile]:
        runs.append(run_size(data, n_layer, n_embd, **BUDGET[profile], device=device))
        print(f"{n_layer} x {n_embd}: {runs[-1]['params_non_embedding']:>9,} params, "
              f"val loss {runs[-1]['val_loss']:.3f}, {runs[-1]['seconds']:.0f} s", flush=True)
    alpha, intercept = fit_power_law([r["params_non_embedding"] for r in runs], [r["val_loss"] for r in runs])
    result = {"benchmark": "gpt_scaling", "threads": torch.get_num_threads(),
              "budget": BUDGET[profile], "runs": runs,
              "fit": {"form": "log10(val_loss) = intercept - alpha * log10(N_non_embedding)",
                      "alpha_N": alpha, "intercept": intercept}}
    out = results.save("gpt_scaling", result, profile, path=args.out)
    print(f"fitted alpha_N = {alpha:.3f} -> {out}")


if __name__ == "__main__":
    main()
