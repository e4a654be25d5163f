"""Training throughput (tokens/s) of course_utils.models.GPT vs nanoGPT's model.py on the same
config, data and machine, in one run, measurements interleaved so that load changes hit both.

    flock /tmp/course-cpu.lock .venv/bin/python benchmarks/gpt_vs_nanogpt.py

nanoGPT is imported from ../shared/reference/nanogpt (relative to the repository root); when
that folder is absent the comparison is skipped with a message. Writes results/gpt_vs_nanogpt_<profile>.json.
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from course_utils import results
from course_utils.chardata import shakespeare_chars
from course_utils.models import GPT, GPTConfig
from course_utils.runtime import get_profile
from course_utils.train import TrainConfig, autocast_context, make_optimizer

ROOT = Path(__file__).resolve().parents[1]
NANOGPT = ROOT.parent / "shared" / "reference" / "nanogpt" / "model.py"

SHAPE = dict(block_size=64, n_layer=4, n_head=4, n_embd=128)   # nanoGPT's CPU quickstart
BATCH = 12


def load_nanogpt():
    """nanoGPT's model module, or None when the reference folder is not there."""
    if not NANOGPT.is_file():
        return None
    spec = importlib.util.spec_from_file_location("nanogpt_model", NANOGPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


class Runner:
    """One model + optimizer + settings; ``time(n)`` runs n training steps and returns seconds."""

    def __init__(self, name: str, model: torch.nn.Module, amp: str, compiled: bool, get, device):
        self.name, self.amp, self.get, self.device = name, amp, get, device
        self.model = model.to(device).train()
        self.opt = make_optimizer(self.model, TrainConfig(max_steps=1))
        self.fwd = torch.compile(self.model) if compiled else self.model
        self.step_i = 0
        t0 = time.perf_counter()
        self.time(3)                       # warm-up (and compilation, when compiled)
        self.warmup_s = time.perf_counter() - t0
        self.samples: list[float] = []

    def time(self, n: int) -> float:
        t0 = time.perf_counter()
        for _ in range(n):
            x, y = self.get(self.step_i)
            self.step_i += 1
            with autocast_context(self.device, self.amp):
                if self.name.startswith("nanoGPT"):      # nanoGPT computes its loss itself
                    loss = self.fwd(x, y)[1]
                else:
                    loss = F.cross_entropy(self.fwd(x).flatten(0, 1).float(), y.flatten())
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
            self.opt.step()
        if self.device.type == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=12)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--no-compile", action="store_true")
    ap.add_argument("--out", default=None, help="result JSON (default results/gpt_vs_nanogpt_<profile>.json)")
    args = ap.parse_args()
    nano = load_nanogpt()
    if nano is None:
        print(f"nanoGPT reference not found at {NANOGPT}; skipping the comparison.")
        return
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.type == "cpu":
        torch.set_num_threads(min(2, os.cpu_count() or 1))
    data = shakespeare_chars()
    get = data.batches("train", BATCH, SHAPE["block_size"], seed=0, device=device)
    vocab = data.tokenizer.vocab_size

    def ours(**kw):
        torch.manual_seed(0)
        return GPT(GPTConfig(vocab_size=vocab, dropout=0.0, bias=False, **SHAPE, **kw))

    def theirs():
        torch.manual_seed(0)
        return nano.GPT(nano.GPTConfig(vocab_size=vocab, dropout=0.0, bias=False, **SHAPE))

    runners = [Runner("nanoGPT fp32 eager", theirs(), "off", False, get, device),
               Runner("nanoGPT bf16 eager", theirs(), "bf16", False, get, device),
               Runner("course GPT fp32 eager", ours(), "off", False, get, device),
               Runner("course GPT bf16 eager", ours(), "bf16", False, get, device)]
    if not args.no_compile:
        runners += [Runner("nanoGPT fp32 compiled", theirs(), "off", True, get, device),
                    Runner("course GPT fp32 compiled", ours(), "off", True, get, device),
                    Runner("course GPT bf16 compiled", ours(), "bf16", True, get, device)]
    for _ in range(args.rounds):             # interleaved: every round times every runner once
        for r in runners:
            r.samples.append(args.steps * BATCH * SHAPE["block_size"] / r.time(args.steps))
    # best round per setting: other load on a shared machine only ever slows a round down, so the
    # fastest round is the least disturbed estimate; medians are stored too
    rates = {r.name: max(r.samples) for r in runners}
    medians = {r.name: statistics.median(r.samples) for r in runners}
    base = rates["nanoGPT fp32 eager"]
    best = max((n for n in rates if n.startswith("course")), key=rates.get)
    result = {
        "benchmark": "gpt_vs_nanogpt",
        "note": "Both models use F.scaled_dot_product_attention and the same optimizer, so in "
                "fp32 they run at the same speed. Under bf16 autocast the matrix products run "
                "about twice as fast on a CPU with AVX-512 BF16, but PyTorch's CPU attention "
                "kernel becomes several times slower in bf16; the course GPT keeps attention in "
                "fp32 under CPU autocast (nanoGPT does not), which is what makes it faster.", "threads": torch.get_num_threads(),
        "config": {**SHAPE, "batch_size": BATCH, "vocab_size": vocab, "dropout": 0.0, "bias": False},
        "nanogpt_commit": (NANOGPT.parent / "COMMIT").read_text().strip()
        if (NANOGPT.parent / "COMMIT").is_file() else "unknown",
        "method": f"best of {args.rounds} interleaved rounds of {args.steps} training steps "
                  "(forward, backward, clip, AdamW) on the same batches; 2 threads",
        "tokens_per_s_best": rates,
        "tokens_per_s_median": medians,
        "tokens_per_s_samples": {r.name: r.samples for r in runners},
        "warmup_or_compile_seconds": {r.name: r.warmup_s for r in runners},
        "ratio_same_settings": rates["course GPT fp32 eager"] / base,
        "best_course_setting": best,
        "ratio_best_course_vs_nanogpt_eager": rates[best] / base,
    }
    if "nanoGPT fp32 compiled" in rates:
        result["ratio_compiled_vs_compiled"] = rates["course GPT fp32 compiled"] / rates["nanoGPT fp32 compiled"]
    results.save("gpt_vs_nanogpt", result, get_profile(), path=args.out)
    for name, rate in rates.items():
        print(f"{name:28s} {rate:10,.0f} tokens/s best, {medians[name]:10,.0f} median  "
              f"({rate / base:.2f}x nanoGPT eager)")
    print(f"-> {args.out}")


if __name__ == "__main__":
    main()
