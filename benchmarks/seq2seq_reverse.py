"""Chapter 1 benchmark: a GRU encoder-decoder reversing digit sequences, accuracy against length
(the fixed-size context-vector bottleneck).

    COURSE_PROFILE=cpu flock /tmp/course-cpu.lock python benchmarks/seq2seq_reverse.py

Writes results/ch1_seq2seq_reverse_<profile>.json (accuracies per length, sizes, environment, date).
"""
from __future__ import annotations

import time
from pathlib import Path

from course_utils import results
from course_utils.runtime import get_device, get_profile, pick, seed_everything
from course_utils.toyseq2seq import Seq2Seq, accuracy_by_length, reverse_batch, seq2seq_loss
from course_utils.train import TrainConfig, train

ROOT = Path(__file__).resolve().parents[1]
# the same sizes as chapters/01_history/03_seq2seq_and_beam_search.ipynb
SIZES = pick(ci=dict(hidden=64, steps=250), cpu=dict(hidden=128, steps=3000),
             gpu=dict(hidden=128, steps=3000))


def main() -> dict:
    profile, device = get_profile(), get_device()
    seed_everything(0)
    model = Seq2Seq(SIZES["hidden"])
    t0 = time.perf_counter()
    hist = train(model, reverse_batch, TrainConfig(max_steps=SIZES["steps"], lr=3e-3, warmup_steps=20,
                                                  weight_decay=0.0), loss_fn=seq2seq_loss, device=device)
    seconds = time.perf_counter() - t0
    lengths = list(range(2, 25, 2))
    tok, seq = accuracy_by_length(model, lengths, device=device)
    result = {"benchmark": "ch1 GRU seq2seq digit reversal: accuracy vs source length",
              "sizes": SIZES, "train_lengths": [2, 16], "lengths": lengths,
              "token_accuracy": tok, "sequence_accuracy": seq, "train_seconds": round(seconds, 1),
              "final_train_loss": hist.train_loss[-1]}
    out = results.save("ch1_seq2seq_reverse", result, profile)
    for length, t, s in zip(lengths, tok, seq):
        print(f"length {length:2d}: digits {t:.3f}  sequences {s:.3f}")
    print(f"wrote {out}")
    return result


if __name__ == "__main__":
    main()
