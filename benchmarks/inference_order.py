"""Chapter 4 benchmark: scoring sentences sorted by length against scoring them in file order.

    COURSE_PROFILE=cpu flock /tmp/course-cpu.lock python benchmarks/inference_order.py
    COURSE_PROFILE=gpu python benchmarks/inference_order.py        # on a CUDA machine

Embeds the linear probe's training sentences (notebook 2 and ``finetune_sst2.py --methods probe``:
a random 20,000 of SST-2's training phrases in the cpu profile) with the frozen MiniLM, once in
batches of 64 taken in file order (each batch padded to its longest sentence) and once with
``finetune.embed``, which sorts the sentences by token length first and puts the vectors back in
their order. Reports the seconds of each, their ratio, the share of padding positions in each
and the largest difference between the two sets of vectors (only rounding: padding is masked).

Writes results/inference_order_<profile>.json, one entry per processor (a rerun on the same kind of
processor replaces its entry), each with the environment record and date.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path

import numpy as np
import torch

from course_utils import finetune as ft
from course_utils.data import load_sst2
from course_utils.models import load_minilm
from course_utils import results
from course_utils.bench import processor, save_per_processor, timed
from course_utils.runtime import get_device, get_profile, pick


ROOT = Path(__file__).resolve().parents[1]
BATCH = 64


@torch.no_grad()
def embed_in_file_order(encoder, tokenizer, texts, device) -> tuple[np.ndarray, float]:
    """Mean-pooled vectors with batches taken as the texts come, and the share of padding in them."""
    out, batches = [], []
    for s in range(0, len(texts), BATCH):
        b = {k: v.to(device) for k, v in ft.encode(tokenizer, texts[s:s + BATCH]).items()}
        out.append(ft.mean_pool(encoder(**b).last_hidden_state, b["attention_mask"]).float().cpu().numpy())
        batches.append(b)
    return np.concatenate(out), ft.padding_share(batches)


def measure(n: int) -> dict:
    device = get_device()
    texts = load_sst2("train")[0]
    texts = [texts[i] for i in np.random.default_rng(0).permutation(len(texts))[:n]]   # the probe's sample
    tok, enc = load_minilm()
    enc.to(device).eval()
    ft.embed(enc, tok, texts[:BATCH])                                              # warm-up, not timed
    (plain, plain_pad), file_s = timed(lambda: embed_in_file_order(enc, tok, texts, device), device)
    by_length, sorted_s = timed(lambda: ft.embed(enc, tok, texts, batch_size=BATCH), device)
    sorted_pad = ft.padding_share([b for _, b in ft.length_sorted_batches(tok, texts, BATCH)])
    return {"processor": processor(device), "sentences": len(texts), "batch_size": BATCH,
            "seconds": {"file_order": round(file_s, 3), "sorted_by_length": round(sorted_s, 3)},
            "file_order_over_sorted": round(file_s / sorted_s, 2),
            "padding_share": {"file_order": round(plain_pad, 3), "sorted_by_length": round(sorted_pad, 3)},
            "max_abs_difference": float(np.abs(plain - by_length).max()),
            "environment": results.environment(),
            "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=None, help="sentences (default per profile: ci 640, else 20,000)")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)
    profile = get_profile()
    entry = measure(args.n or pick(ci=640, cpu=20_000, gpu=20_000))
    out = args.out or ROOT / "results" / f"inference_order_{profile}.json"
    save_per_processor(out, entry, profile, benchmark="benchmarks/inference_order.py",
          task="frozen MiniLM embedding SST-2 training phrases, file order vs sorted by length")
    print(json.dumps({k: entry[k] for k in ("processor", "seconds", "file_order_over_sorted", "padding_share",
                                            "max_abs_difference")}))
    print(f"saved {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
