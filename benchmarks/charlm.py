"""Chapter 1 benchmark: the best Kneser-Ney character n-gram vs a character RNN and LSTM on the
validation split of Tiny Shakespeare (nanoGPT split: first 90% train, last 10% validation).

    COURSE_PROFILE=cpu flock /tmp/course-cpu.lock python benchmarks/charlm.py
    (on a shared, busy CPU, OMP_NUM_THREADS=1 avoids thread over-subscription)
    COURSE_PROFILE=gpu python benchmarks/charlm.py          # on a CUDA machine

Writes results/ch1_neural_vs_ngram_<profile>.json with both perplexities, the sizes, the
training time, the environment record and the date.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path


from course_utils.charlm import PROFILE_SIZES, CharRNN, shakespeare_chars, streaming_perplexity
from course_utils.models import count_parameters
from course_utils.ngram import NGramLM
from course_utils import results
from course_utils.runtime import get_device, get_profile, seed_everything
from course_utils.train import TrainConfig, train

ROOT = Path(__file__).resolve().parents[1]


def main() -> dict:
    profile = get_profile()
    sizes = PROFILE_SIZES[profile]
    device = get_device(profile)
    data = shakespeare_chars()                       # course_utils.chardata: nanoGPT 90/10 split
    tok, train_ids, val_ids = data.tokenizer, data.train, data.val
    result: dict = {"benchmark": "ch1 character LM: n-gram vs RNN vs LSTM", "profile": profile,
                    "split": "nanoGPT: first 90% train, last 10% validation",
                    "metric": "per-character perplexity on val[1:], every character given all before it",
                    "sizes": sizes, "ngram": {}, "neural": {}}
    # n-grams: interpolated Kneser-Ney (d = 0.75), n = 1..max_n
    tr_np, va_np = train_ids.numpy(), val_ids.numpy()
    for n in range(1, sizes["ngram_max_n"] + 1):
        lm = NGramLM(n, tok.vocab_size, "kneser-ney").fit(tr_np)
        result["ngram"][str(n)] = lm.perplexity(va_np, skip_first=1)
        print(f"kneser-ney n={n}: val perplexity {result['ngram'][str(n)]:.3f}", flush=True)
    best_n = min(result["ngram"], key=result["ngram"].get)
    result["best_ngram"] = {"n": int(best_n), "smoothing": "interpolated Kneser-Ney, d=0.75",
                            "val_perplexity": result["ngram"][best_n]}
    for cell in ("rnn", "lstm"):
        seed_everything(0)
        model = CharRNN(tok.vocab_size, sizes["hidden"], sizes["layers"], cell, embed=sizes["embed"],
                        dropout=sizes["dropout"])
        cfg = TrainConfig(max_steps=sizes["steps"], lr=sizes["lr"], warmup_steps=sizes["warmup"],
                          eval_every=max(1, sizes["steps"] // 5), eval_batches=5, weight_decay=0.0)
        get = data.batches("train", sizes["batch"], sizes["block"], seed=0, device=device)
        val = data.batches("val", sizes["batch"], sizes["block"], seed=0, device=device)
        t0 = time.perf_counter()
        hist = train(model, get, cfg, eval_data={"val": val}, device=device)
        seconds = time.perf_counter() - t0
        ppl = streaming_perplexity(model, val_ids, device=device)
        result["neural"][cell] = {"val_perplexity": ppl, "params": count_parameters(model)[0],
                                  "train_seconds": round(seconds, 1),
                                  "final_window_val_loss": hist.eval_loss["val"][-1]}
        print(f"{cell}: val perplexity {ppl:.3f} ({count_parameters(model)[0]:,} params, {seconds:.0f} s)", flush=True)
    best = min(result["neural"], key=lambda c: result["neural"][c]["val_perplexity"])
    result["best_neural"] = {"cell": best, "val_perplexity": result["neural"][best]["val_perplexity"]}
    result["neural_beats_ngram"] = result["best_neural"]["val_perplexity"] < result["best_ngram"]["val_perplexity"]
    out = results.save("ch1_neural_vs_ngram", result, profile)
    print(f"wrote {out}; neural beats n-gram: {result['neural_beats_ngram']}")
    return result


if __name__ == "__main__":
    main()
    sys.exit(0)
