"""Chapter 6 benchmark: weight-only int8 (one scale per output channel) for SmolLM2-135M-Instruct in
the course's Llama: weight memory and validation perplexity against the float32 model.

    COURSE_PROFILE=cpu flock /tmp/course-cpu.lock .venv/bin/python benchmarks/smollm2_quant.py
    .venv/bin/python benchmarks/smollm2_quant.py --profile ci        # a few hundred tokens

Perplexity is measured on the first tokens (SmolLM2's tokenizer) of Tiny Shakespeare's validation
text (its last 10 %, the split of chapter 3), in consecutive windows. The float32 model holds the
weights as the GGUF file stores them after decoding Q4_1, so "float32" here means "Q4_1 decoded to
float32": int8 is compared with exactly what the file gives. Targets: >= 3.5x less weight memory,
perplexity within 3 %. Writes results/smollm2_quant_<profile>.json through course_utils.results.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from course_utils import quant, results
from course_utils.data import load_tinyshakespeare
from course_utils.models.llama import load_smollm2
from course_utils.runtime import get_profile, pick


def validation_ids(tok, n_tokens: int) -> torch.Tensor:
    """The first ``n_tokens`` tokens of Tiny Shakespeare's validation text (its last 10 %)."""
    text = load_tinyshakespeare()
    val = text[int(len(text) * 0.9):]
    ids = tok(val[: n_tokens * 8], return_tensors="pt")["input_ids"][0]     # ~4 characters per token
    if ids.numel() < n_tokens:
        raise ValueError(f"only {ids.numel()} validation tokens, {n_tokens} asked")
    return ids[:n_tokens]


def run(profile: str, n_tokens: int, window: int, threads: int | None) -> dict:
    """Perplexity and weight bytes of the float32 and the int8 model on the same tokens."""
    if threads:
        torch.set_num_threads(threads)
    model, tok = load_smollm2()
    ids = validation_ids(tok, n_tokens)
    row = {}
    for name in ("float32", "int8"):
        if name == "int8":
            quant.quantize_llama_int8(model)
        t0 = time.perf_counter()
        ppl = quant.perplexity(model, ids, window)
        row[name] = {"perplexity": round(ppl, 4), "weight_bytes": quant.weight_bytes(model),
                     "seconds": round(time.perf_counter() - t0, 2)}
    shrink = row["float32"]["weight_bytes"] / row["int8"]["weight_bytes"]
    change = row["int8"]["perplexity"] / row["float32"]["perplexity"] - 1
    return {"model": "SmolLM2-135M-Instruct (Q4_1 GGUF decoded to float32)", "text": "Tiny Shakespeare, validation (last 10 %)",
            "tokens": int(ids.numel()), "window": window, "threads": torch.get_num_threads(), **row,
            "memory_ratio": round(shrink, 3), "perplexity_change": round(change, 5),
            "targets": {"memory_ratio_at_least": 3.5, "perplexity_change_at_most": 0.03},
            "targets_met": bool(shrink >= 3.5 and abs(change) <= 0.03)}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--profile", default=None, help="ci, cpu or gpu (default: COURSE_PROFILE / automatic)")
    ap.add_argument("--tokens", type=int, default=None, help="validation tokens (ci 256, cpu 4096)")
    ap.add_argument("--window", type=int, default=512, help="tokens per forward pass")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    ap.add_argument("--out", type=Path, default=None, help="write here instead of results/")
    args = ap.parse_args(argv)
    profile = args.profile or get_profile()
    payload = run(profile, args.tokens or pick(ci=256, cpu=4096, gpu=4096, profile=profile),
                  args.window, args.threads)
    path = results.save("smollm2_quant", payload, profile, path=args.out)
    print({k: payload[k] for k in ("float32", "int8", "memory_ratio", "perplexity_change", "targets_met")})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
