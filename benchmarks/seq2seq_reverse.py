"""Chapter 1 benchmark: a GRU encoder-decoder reversing digit sequences, accuracy against length
(the fixed-size context-vector bottleneck).

    COURSE_PROFILE=cpu flock /tmp/course-cpu.lock python benchmarks/seq2seq_reverse.py

Writes results/ch1_seq2seq_reverse_<profile>.json (accuracies per length, sizes, environment, date).
"""
from __future__ import annotations

from course_utils.runtime import get_device, get_profile, seed_everything
from course_utils.toyseq2seq import REVERSAL_SIZES, Seq2Seq, reversal_run


def main() -> dict:
    """The sizes of chapters/01_history/03_seq2seq_and_beam_search.ipynb (toyseq2seq.REVERSAL_SIZES)."""
    profile, device = get_profile(), get_device()
    seed_everything(0)
    model = Seq2Seq(REVERSAL_SIZES[profile]["hidden"])
    return reversal_run(model, "ch1_seq2seq_reverse", "ch1 GRU seq2seq digit reversal: accuracy vs source length",
                        profile, device)


if __name__ == "__main__":
    main()
