"""Chapter 1 benchmark: a GRU encoder-decoder reversing digit sequences, accuracy against length
(the fixed-size context-vector bottleneck).

    COURSE_PROFILE=cpu flock /tmp/course-cpu.lock python benchmarks/seq2seq_reverse.py

Writes results/ch1_seq2seq_reverse_<profile>.json (accuracies per length, sizes, environment, date).
"""
from __future__ import annotations

from pathlib import Path

from course_utils import results
from course_utils.runtime import get_device, get_profile, seed_everything
from course_utils.toyseq2seq import EVAL_LENGTHS, REVERSAL_SIZES, Seq2Seq, accuracy_by_length, train_reversal

ROOT = Path(__file__).resolve().parents[1]
# the same sizes as chapters/01_history/03_seq2seq_and_beam_search.ipynb
SIZES = REVERSAL_SIZES[get_profile()]


def main() -> dict:
    profile, device = get_profile(), get_device()
    seed_everything(0)
    model = Seq2Seq(SIZES["hidden"])
    hist, seconds = train_reversal(model, SIZES["steps"], device)
    lengths = EVAL_LENGTHS
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
