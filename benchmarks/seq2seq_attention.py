"""Chapter 1 benchmark: the GRU encoder-decoder of benchmarks/seq2seq_reverse.py with additive
(Bahdanau) attention (Bahdanau, Cho and Bengio 2014, arXiv:1409.0473), reversing digit sequences:
accuracy against length, to compare with the model that passes one context vector.

    COURSE_PROFILE=cpu flock /tmp/course-cpu.lock python benchmarks/seq2seq_attention.py

Writes results/ch1_seq2seq_attention_<profile>.json (accuracies per length, the mean attention
weight on the digit to copy per length, one heatmap of weights, sizes, environment, date). Same sizes, steps, learning rate, batches and test sequences as seq2seq_reverse.py.
"""
from __future__ import annotations

from course_utils import results
from course_utils.runtime import get_device, get_profile, seed_everything
from course_utils.toyseq2seq import (EVAL_LENGTHS, REVERSAL_SIZES, AttnSeq2Seq, accuracy_by_length, greedy_decode_attention,
                                     reverse_batch, train_reversal)

# the same sizes as chapters/01_history/03_seq2seq_and_beam_search.ipynb and seq2seq_reverse.py
SIZES = REVERSAL_SIZES[get_profile()]


def main() -> dict:
    profile, device = get_profile(), get_device()
    seed_everything(0)
    model = AttnSeq2Seq(SIZES["hidden"])
    hist, seconds = train_reversal(model, SIZES["steps"], device)
    lengths = EVAL_LENGTHS
    tok, seq = accuracy_by_length(model, lengths, device=device)
    # where the decoder looks: the share of attention on the source digit to copy (the
    # anti-diagonal), per length, and the weights for the first test sequence of length 8
    anti_diagonal, heatmap = [], None
    for length in lengths:
        src, _, _ = reverse_batch(0, batch=500, lengths=(length, length), seed=12345)
        pred, weights = greedy_decode_attention(model, src.to(device))
        weights = weights.cpu()
        anti_diagonal.append(weights.flip(-1).diagonal(dim1=1, dim2=2).mean().item())
        if length == 8:
            heatmap = {"src": src[0].tolist(), "pred": pred[0].cpu().tolist(),
                       "weights": [[round(w, 4) for w in row] for row in weights[0].tolist()]}
    result = {"benchmark": "ch1 GRU seq2seq with additive attention, digit reversal: accuracy vs source length",
              "sizes": SIZES, "lr": 3e-3, "train_lengths": [2, 16], "lengths": lengths,
              "token_accuracy": tok, "sequence_accuracy": seq,
              "attention_on_anti_diagonal": anti_diagonal, "heatmap_length_8": heatmap, "train_seconds": round(seconds, 1),
              "final_train_loss": hist.train_loss[-1]}
    out = results.save("ch1_seq2seq_attention", result, profile)
    for length, t, s in zip(lengths, tok, seq):
        print(f"length {length:2d}: digits {t:.3f}  sequences {s:.3f}")
    print(f"wrote {out}")
    return result


if __name__ == "__main__":
    main()
