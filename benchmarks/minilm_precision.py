"""Chapter 4 benchmark: does bf16 autocast pay off for fine-tuning MiniLM on *this* processor?

    COURSE_PROFILE=cpu flock /tmp/course-cpu.lock python benchmarks/minilm_precision.py
    COURSE_PROFILE=gpu python benchmarks/minilm_precision.py        # on a CUDA machine

Times full fine-tuning steps of MiniLM on SST-2 (length-bucketed batches of 32, max length 64,
fused AdamW; forward, backward and optimizer step) in fp32 and under bf16 autocast, the two
interleaved round by round on the same batches, and reports the median step time of each and
their ratio. It also counts the step's floating-point operations in matrix products (torch's
``FlopCounterMode``) and times the same kinds of matrix products called on their own, so the entry says
how close a step comes to the arithmetic rate the processor reaches at those shapes: a step that
runs near it is compute-bound, and only fewer multiplications or faster ones can speed it up.
On a CPU with bf16 instructions (AVX512-BF16 or AMX) bf16 can win; on one without
them PyTorch emulates bf16 and autocast is many times slower, which is why
``ClassifierConfig(amp="native")`` (the default) only uses bf16 where
``course_utils.runtime.has_native_bf16`` says the hardware has it.

Writes results/minilm_precision_<profile>.json, one entry per processor (a rerun on the same kind
of processor replaces its entry, others are kept), each with the environment record and date.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import sys
from pathlib import Path

import torch

from course_utils import finetune as ft
from course_utils.data import load_sst2
from course_utils import results
from course_utils.bench import processor, save_per_processor, timed
from course_utils.runtime import (get_device, get_profile, pick, seed_everything)
from course_utils.train import TrainConfig, autocast_context, make_optimizer

ROOT = Path(__file__).resolve().parents[1]
PRECISIONS = ("off", "bf16")


def step_times(model, batches, device, rounds: int) -> dict[str, list[float]]:
    """Seconds per training step in each precision, interleaved: each round runs every batch once in each."""
    opt = make_optimizer(model, TrainConfig(max_steps=1, lr=1e-5, weight_decay=0.01))
    times: dict[str, list[float]] = {amp: [] for amp in PRECISIONS}
    model.train()
    for r in range(rounds + 1):                      # round 0 warms up both paths and is not kept
        for amp in PRECISIONS:
            for batch in batches:
                batch = {k: v.to(device) for k, v in batch.items()}

                def train_step():
                    with autocast_context(device, amp):
                        loss = ft.classification_loss(model, batch)
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    opt.step()

                _, seconds = timed(train_step, device)
                if r:
                    times[amp].append(seconds)
    return times


def step_flops(model, batch: dict[str, torch.Tensor]) -> int:
    """Floating-point operations in the matrix products of one forward and backward pass (FlopCounterMode;
    elementwise work and the optimizer step are not counted)."""
    from torch.utils.flop_counter import FlopCounterMode

    model.zero_grad(set_to_none=True)
    with FlopCounterMode(display=False) as counter:
        ft.classification_loss(model, batch).backward()
    model.zero_grad(set_to_none=True)
    return int(counter.get_total_flops())


def matmul_rate(rows: int, hidden: int, ffn: int, device: torch.device, amp: str, repeats: int) -> float:
    """GFLOP/s of one Transformer layer's forward matrix products (four hidden x hidden, one hidden x ffn,
    one ffn x hidden) on ``rows`` token rows, called on their own as the step calls them (``F.linear`` on
    fp32 tensors under the same autocast setting, casts included): what this processor and library reach
    at the shapes a training step multiplies (median of ``repeats`` timings after one warm-up)."""
    g = torch.Generator().manual_seed(0)
    shapes = [(hidden, hidden)] * 4 + [(hidden, ffn), (ffn, hidden)]
    pairs = [(torch.randn(rows, k, generator=g).to(device), torch.randn(n, k, generator=g).to(device))
             for k, n in shapes]

    def products():
        with torch.no_grad(), autocast_context(device, amp):
            for x, w in pairs:
                torch.nn.functional.linear(x, w)

    times = [timed(products, device)[1] for _ in range(repeats + 1)][1:]   # the first call warms up
    return sum(2 * rows * k * n for k, n in shapes) / statistics.median(times) / 1e9


def measure(n_batches: int, rounds: int, matmul_repeats: int = 10) -> dict:
    device = get_device()
    seed_everything(0)
    tok, model = ft.load_classifier()
    model.to(device)
    texts, labels = load_sst2("train")
    batches = ft.bucket_batches(tok, texts[:4000], labels[:4000], batch_size=32, max_length=64, seed=0)[:n_batches]
    times = step_times(model, batches, device, rounds)
    median = {amp: statistics.median(t) for amp, t in times.items()}
    examples = sum(len(b["labels"]) for b in batches)
    flops = [step_flops(model, {k: v.to(device) for k, v in b.items()}) for b in batches]
    # each round ran every batch once in each precision: the rate is all the work over all the time
    achieved = {amp: sum(flops) * rounds / sum(t) / 1e9 for amp, t in times.items()}
    rows = round(statistics.mean(b["input_ids"].numel() for b in batches))   # padded tokens: all are computed
    hidden, ffn = model.config.hidden_size, model.config.intermediate_size
    reference = {amp: matmul_rate(rows, hidden, ffn, device, amp, matmul_repeats) for amp in PRECISIONS}
    label = {"off": "fp32", "bf16": "bf16_autocast"}
    return {"processor": processor(device),
            "steps_per_precision": len(times["off"]),
            "mean_tokens_per_batch": round(sum(int(b["attention_mask"].sum()) for b in batches) / len(batches), 1),
            "median_step_seconds": {"fp32": round(median["off"], 4), "bf16_autocast": round(median["bf16"], 4)},
            "examples_per_second": {"fp32": round(examples / len(batches) / median["off"], 1),
                                    "bf16_autocast": round(examples / len(batches) / median["bf16"], 1)},
            "bf16_time_over_fp32": round(median["bf16"] / median["off"], 3),
            "faster": "bf16 autocast" if median["bf16"] < median["off"] else "fp32",
            "matmul_gflop_per_step": round(statistics.mean(flops) / 1e9, 2),
            "padded_tokens_per_batch": rows,
            "step_gflops_per_second": {label[a]: round(v, 2) for a, v in achieved.items()},
            "matmul_alone_gflops_per_second": {label[a]: round(v, 2) for a, v in reference.items()},
            "step_share_of_matmul_rate": {label[a]: round(achieved[a] / reference[a], 3) for a in achieved},
            "environment": results.environment(),
            "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--batches", type=int, default=None, help="batches per round (default per profile)")
    ap.add_argument("--rounds", type=int, default=None, help="timed rounds (default per profile)")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)
    profile = get_profile()
    entry = measure(args.batches or pick(ci=2, cpu=4, gpu=20), args.rounds or pick(ci=1, cpu=2, gpu=3),
                    matmul_repeats=pick(ci=2, cpu=10, gpu=20))
    out = args.out or ROOT / "results" / f"minilm_precision_{profile}.json"
    save_per_processor(out, entry, profile, "benchmarks/minilm_precision.py",
                       "MiniLM full fine-tuning steps on SST-2, fp32 vs bf16 autocast")
    print(json.dumps({k: entry[k] for k in ("processor", "median_step_seconds", "bf16_time_over_fp32", "faster",
                                            "step_gflops_per_second", "matmul_alone_gflops_per_second")}))
    print(f"saved {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
