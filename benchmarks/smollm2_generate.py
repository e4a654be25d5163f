"""Chapter 3 benchmark: the course's Llama decoder against transformers' on SmolLM2-135M-Instruct.

    COURSE_PROFILE=cpu flock /tmp/course-cpu.lock .venv/bin/python benchmarks/smollm2_generate.py
    .venv/bin/python benchmarks/smollm2_generate.py --profile ci       # a few tokens, seconds

Same weights, same precision, same prompt (a chat message through SmolLM2's template), batch 1,
greedy: ``Llama.generate`` (course_utils.models.llama) and ``LlamaForCausalLM.generate``
(transformers) produce the same new tokens (asserted), timed in interleaved rounds in one process.
The entry gives tokens/s of each (median over rounds, prefill included) and their ratio (also the
ratio of the fastest rounds and of each round's pair, since other work on a shared machine slows
some rounds). Any gain comes from the model code only: a preallocated KV cache, fused q/k/v and
gate/up products, rotary tables computed once, one-query attention without the fused kernel, and
above all how each one-row product is called (``course_utils.models.llama.Linear``: the weight's
two halves as one batched product instead of PyTorch's matrix-vector kernel; same arithmetic,
another order of the sums).

Decoding one token reads every weight once, so it is limited by memory bandwidth: the entry also
measures the bandwidth of a large tensor copy in the same run (bytes read + written per second),
the share of it that decoding reaches (weight bytes per token x tokens/s / copy bandwidth), and
the rate at which each way of calling the one-row product streams the model's weights.
Writes results/smollm2_generate_<profile>.json through course_utils.results.
"""
from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from course_utils import results
from course_utils.models.llama import Linear, load_smollm2, to_transformers
from course_utils.models.smollm2 import STORY_PROMPT as PROMPT
from course_utils.runtime import get_profile, pick

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16}


def copy_bandwidth(mbytes: int, repeats: int = 10) -> float:
    """Best bytes/s (read + write) of copying a ``mbytes`` MB float32 tensor into another."""
    src = torch.ones(mbytes * 2**20 // 4)
    dst = torch.empty_like(src)
    dst.copy_(src)
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        dst.copy_(src)
        best = min(best, time.perf_counter() - t0)
    return 2 * src.numel() * 4 / best


def weight_bytes(model: torch.nn.Module) -> int:
    """Bytes of the weights one decoding step reads (tied embedding/output matrix counted once)."""
    return sum(p.numel() * p.element_size() for p in model.parameters())


def matvec_rates(model: torch.nn.Module, repeats: int = 5) -> dict:
    """Bytes/s of weights streamed by one-row products over every linear layer of ``model`` (best
    of ``repeats`` passes): ``F.linear`` (PyTorch's matrix-vector kernel) against the course's
    ``Linear`` (a batched product of the weight's two halves)."""
    layers = [m for m in model.modules() if isinstance(m, Linear)]
    rows = {m.in_features: torch.randn(1, 1, m.in_features, dtype=m.weight.dtype) for m in layers}
    total = sum(m.weight.numel() * m.weight.element_size() for m in layers)
    ways = {"F.linear": lambda m: F.linear(rows[m.in_features], m.weight), "two halves (course Linear)": lambda m: m(rows[m.in_features])}
    rates = {}
    with torch.no_grad():
        for name, fn in ways.items():
            best = float("inf")
            for _ in range(repeats + 1):                  # the first pass warms up
                t0 = time.perf_counter()
                for m in layers:
                    fn(m)
                best = min(best, time.perf_counter() - t0)
            rates[name] = round(total / best / 1e9, 3)
    return rates


def run(profile: str, new_tokens: int, rounds: int, dtype: str, threads: int | None) -> dict:
    """Time both generates on the same prompt; return the payload for results.save."""
    if threads:
        torch.set_num_threads(threads)
    model, tok = load_smollm2(dtype=DTYPES[dtype])
    hf = to_transformers(model)
    enc = tok.apply_chat_template([{"role": "user", "content": PROMPT}], add_generation_prompt=True,
                                  return_dict=True, return_tensors="pt")
    ids = enc["input_ids"]
    ours = lambda: model.generate(ids, new_tokens)                         # noqa: E731 - timed callables
    theirs = lambda: hf.generate(**enc, max_new_tokens=new_tokens, min_new_tokens=new_tokens,  # noqa: E731 - timed callables
                                 do_sample=False)
    a, b = ours(), theirs()                                                # warm-up, and the check
    if not torch.equal(a, b):
        raise AssertionError("our generate and transformers' chose different tokens")
    times: dict[str, list[float]] = {"ours": [], "transformers": []}
    for _ in range(rounds):                                                # interleaved rounds
        for name, fn in (("ours", ours), ("transformers", theirs)):
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    rate = {k: new_tokens / statistics.median(v) for k, v in times.items()}
    bw = copy_bandwidth(pick(ci=64, cpu=512, gpu=512, profile=profile))
    matvec = matvec_rates(model, repeats=pick(ci=1, cpu=5, gpu=5, profile=profile))
    per_token = weight_bytes(model)
    decode_bw = per_token * rate["ours"]
    return {
        "model": "SmolLM2-135M-Instruct (Q4_1 GGUF, dequantized)", "dtype": dtype,
        "threads": torch.get_num_threads(), "batch": 1, "prompt_tokens": ids.size(1),
        "new_tokens": new_tokens, "rounds": rounds, "identical_tokens": True,
        "answer_start": tok.decode(a[0, ids.size(1):ids.size(1) + 24]),
        "seconds": {k: [round(t, 4) for t in v] for k, v in times.items()},
        "ours_tokens_per_s": round(rate["ours"], 3),
        "transformers_tokens_per_s": round(rate["transformers"], 3),
        "speedup": round(rate["ours"] / rate["transformers"], 4),          # ratio of the medians
        "speedup_best": round(min(times["transformers"]) / min(times["ours"]), 4),   # of the fastest rounds
        "speedup_per_round": [round(b / a, 3) for a, b in zip(times["ours"], times["transformers"])],
        "speedup_target": 1.1,
        "weight_bytes_per_token": per_token,
        "copy_bandwidth_GBps": round(bw / 1e9, 3),
        "decode_bandwidth_GBps": round(decode_bw / 1e9, 3),
        "bandwidth_share": round(decode_bw / bw, 4),
        "one_row_product_GBps": matvec,               # the kernel choice behind the speed-up
        "load_average_1min": round(os.getloadavg()[0], 2),   # other work on a shared machine
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--profile", default=None, help="ci, cpu or gpu (default: COURSE_PROFILE / automatic)")
    ap.add_argument("--tokens", type=int, default=None, help="new tokens per generate (ci 8, cpu 128)")
    ap.add_argument("--rounds", type=int, default=None, help="timed rounds of each (ci 1, cpu 5)")
    ap.add_argument("--dtype", choices=sorted(DTYPES), default="float32")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    ap.add_argument("--out", type=Path, default=None, help="write here instead of results/")
    args = ap.parse_args(argv)
    profile = args.profile or get_profile()
    payload = run(profile, args.tokens or pick(ci=8, cpu=128, gpu=128, profile=profile),
                  args.rounds or pick(ci=1, cpu=5, gpu=5, profile=profile), args.dtype, args.threads)
    path = results.save("smollm2_generate", payload, profile, path=args.out)
    print({k: payload[k] for k in ("ours_tokens_per_s", "transformers_tokens_per_s", "speedup", "speedup_best",
                                   "speedup_per_round", "copy_bandwidth_GBps", "bandwidth_share", "one_row_product_GBps")})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
