"""Chapter 1 benchmark: the GRU encoder-decoder of benchmarks/seq2seq_reverse.py with additive
(Bahdanau) attention (Bahdanau, Cho and Bengio 2014, arXiv:1409.0473), reversing digit sequences:
accuracy against length, to compare with the model that passes one context vector.

    COURSE_PROFILE=cpu flock /tmp/course-cpu.lock python benchmarks/seq2seq_attention.py

Writes results/ch1_seq2seq_attention_<profile>.json (accuracies per length, the mean attention
weight on the digit to copy per length, one heatmap of weights, sizes, environment, date). Same sizes, steps, learning rate, batches and test sequences as seq2seq_reverse.py.
"""
from __future__ import annotations

from course_utils.runtime import get_device, get_profile, seed_everything
from course_utils.toyseq2seq import (EVAL_LENGTHS, REVERSAL_SIZES, AttnSeq2Seq, greedy_decode_attention, reverse_batch,
                                     reversal_run)


def where_it_looks(model, device) -> dict:
    """The share of attention on the source digit to copy (the anti-diagonal), per length, and the
    weights for the first test sequence of length 8."""
    anti_diagonal, heatmap = [], None
    for length in EVAL_LENGTHS:
        src, _, _ = reverse_batch(0, batch=500, lengths=(length, length), seed=12345)
        pred, weights = greedy_decode_attention(model, src.to(device))
        weights = weights.cpu()
        anti_diagonal.append(weights.flip(-1).diagonal(dim1=1, dim2=2).mean().item())
        if length == 8:
            heatmap = {"src": src[0].tolist(), "pred": pred[0].cpu().tolist(),
                       "weights": [[round(w, 4) for w in row] for row in weights[0].tolist()]}
    return {"attention_on_anti_diagonal": anti_diagonal, "heatmap_length_8": heatmap}


def main() -> dict:
    """The sizes of chapters/01_history/03_seq2seq_and_beam_search.ipynb and seq2seq_reverse.py."""
    profile, device = get_profile(), get_device()
    seed_everything(0)
    model = AttnSeq2Seq(REVERSAL_SIZES[profile]["hidden"])
    return reversal_run(model, "ch1_seq2seq_attention",
                        "ch1 GRU seq2seq with additive attention, digit reversal: accuracy vs source length",
                        profile, device, extra=lambda m: where_it_looks(m, device))


if __name__ == "__main__":
    main()
