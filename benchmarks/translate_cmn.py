"""Train the chapter-5 English->Chinese Transformer on Tatoeba cmn-eng and measure BLEU (sacreBLEU,
tokenize="zh") with greedy and beam decoding on a held-out split of unseen English sentences.

    flock /tmp/course-cpu.lock .venv/bin/python benchmarks/translate_cmn.py              # cpu profile
    .venv/bin/python benchmarks/translate_cmn.py --profile gpu                           # on a GPU

Writes results/ch5_translation_<profile>.json (through course_utils.results: stamped with the environment, date and commit).
"""
from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import torch

from course_utils import results
from course_utils import translate as T
from course_utils.data import load_cmn_eng
from course_utils.models import Seq2SeqConfig, Seq2SeqTransformer
from course_utils.models.seq2seq import translation_loss
from course_utils.runtime import get_device, seed_everything
from course_utils.train import TrainConfig, train

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--profile", default=None, help="ci | cpu | gpu (default: COURSE_PROFILE or automatic)")
    ap.add_argument("--max-seconds", type=float, default=360.0, help="stop training after this long")
    args = ap.parse_args()
    if args.profile:
        os.environ["COURSE_PROFILE"] = args.profile
    from course_utils.runtime import get_profile

    profile = get_profile()
    r = T.RECIPES[profile]
    if r["threads"]:
        torch.set_num_threads(r["threads"])
    device = get_device(profile)
    seed_everything(0)

    train_pairs, val_pairs, test_pairs = T.split_pairs(load_cmn_eng(), n_val=500, n_test=r["n_test"], seed=0)
    tr = T.Translator.from_pairs(train_pairs, min_freq=2)
    cfg = Seq2SeqConfig(len(tr.src), len(tr.tgt), d_model=r["d_model"], n_heads=r["n_heads"],
                        n_encoder_layers=r["layers"], n_decoder_layers=r["layers"], d_ff=r["d_ff"],
                        dropout=r["dropout"], max_len=tr.max_len + 2)
    model = Seq2SeqTransformer(cfg)
    val_batches = [tr.batch(val_pairs[i:i + 100]) for i in range(0, len(val_pairs), 100)]
    tcfg = TrainConfig(max_steps=r["steps"], lr=r["lr"], warmup_steps=r["warmup"], weight_decay=0.01,
                       eval_every=max(1, r["steps"] // 8), eval_batches=len(val_batches),
                       max_seconds=args.max_seconds, progress=False)
    hist = train(model, tr.batches(train_pairs, r["batch"]), tcfg, eval_data={"val": val_batches},
                 loss_fn=translation_loss, device=device, items_fn=lambda b: int((b[2] != T.PAD).sum()))

    model.eval()
    sources = [en for en, _ in test_pairs]
    refs = [zh for _, zh in test_pairs]
    t0 = time.perf_counter()
    greedy = tr.translate(model, sources)
    greedy_s = time.perf_counter() - t0
    n = r["n_beam"]
    t0 = time.perf_counter()
    beam = tr.translate(model, sources[:n], beam_size=4)
    beam_s = time.perf_counter() - t0
    result = {
        "benchmark": "ch5_translation", "recipe": r,
        "data": {"train_pairs": len(train_pairs), "val_pairs": len(val_pairs), "test_pairs": len(test_pairs),
                 "src_vocab": len(tr.src), "tgt_vocab": len(tr.tgt),
                 "split": "by distinct English sentence, seed 0 (no test source seen in training)"},
        "params": model.num_params(), "steps": hist.step[-1] + 1 if hist.step else 0,
        "stopped": hist.stopped or "max_steps", "train_seconds": round(hist.seconds, 1),
        "train_loss_last": round(sum(hist.train_loss[-50:]) / len(hist.train_loss[-50:]), 4),
        "val_loss": {str(s): round(v, 4) for s, v in zip(hist.eval_step, hist.eval_loss["val"])},
        "bleu_greedy": round(T.bleu_zh(greedy, refs).score, 2),
        "bleu_greedy_subset": round(T.bleu_zh(greedy[:n], refs[:n]).score, 2),
        "bleu_beam4_subset": round(T.bleu_zh(beam, refs[:n]).score, 2),
        "beam_subset_size": n, "greedy_seconds": round(greedy_s, 1), "beam4_seconds": round(beam_s, 1),
        "bleu_signature": T.bleu_signature(),
        "examples": [{"en": s, "reference": ref, "greedy": g, "beam4": b}
                     for s, ref, g, b in list(zip(sources, refs, greedy, beam))[:8]],
    }
    out = results.save("ch5_translation", result, profile)
    print(json.dumps({k: result[k] for k in ("steps", "train_seconds", "bleu_greedy",
                                              "bleu_greedy_subset", "bleu_beam4_subset")}))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
