"""Chapter 4 benchmark: what LoRA's scale alpha/r does when the rank r changes (notebook 4.4).

    COURSE_PROFILE=cpu flock /tmp/course-cpu.lock python benchmarks/lora_alpha_r.py
    python benchmarks/lora_alpha_r.py --profile ci --out /tmp/lora_alpha_r.json   # a smoke test

The course's own LoRA (``finetune.add_peft`` on MiniLM, every linear layer, as in
``train_classifier`` and the notebook's rank sweep) computes ``W x + (alpha / r) B A x``. Two
measurements, for r in RANKS:

1. ``first_step``: the size of the update ``(alpha / r) B A`` after ONE AdamW step on the same
   batch, under three scalings: alpha fixed (ALPHA), alpha = 2r (the course's default, so the
   scale is the constant 2), and rsLoRA's alpha / sqrt(r) with alpha fixed (Kalajdzievski 2023,
   arXiv:2312.03732; obtained here as an ordinary LoRA with alpha' = ALPHA * sqrt(r), which has
   the same scale). The size is ||(alpha/r) B A||_F / ||W||_F, averaged over the adapted matrices.
2. ``training``: one short fine-tuning run per (r, alpha) with alpha fixed and with alpha = 2r (the
   rank ALPHA / 2 is in both and trained once): dev accuracy, mean training loss of the last
   quarter of the steps, and the size of the learned update (the same ratio).

Everything else is train_classifier's setting (AdamW at lr 2e-3 with weight decay 0.01, batches of
32, max length 64, linear decay after 6 % warm-up, gradient clipping at 1), except dropout, which is
off (it costs time and the comparison does not need it). The same seed for every run: same data
order, same head and same A at a given rank. One run per setting: SST-2's dev set has 872
sentences, so one run's accuracy is uncertain by about 1 point (benchmarks/finetune_sst2.py).

Profiles: ci = ranks 2 and 8, 96 training and 64 dev sentences (a smoke test: its accuracies are at
chance level); cpu = ranks 2, 8 and 32, 1,000 training sentences (one pass: 32 steps) and the whole
dev set, sized to run in minutes on a shared 2-core CPU; gpu = 20,000 training sentences.

Writes results/lora_alpha_r_<profile>.json (course_utils.results: processor, profile and date).
"""
from __future__ import annotations

import argparse
import math
import time

import torch

from course_utils import finetune as ft
from course_utils import results
from course_utils.data import load_sst2
from course_utils.runtime import get_device, get_profile, pick, seed_everything
from course_utils.train import TrainConfig, train

ALPHA = 16          # the fixed alpha (the course's alpha = 2r at r = 8)
LR = ft.DEFAULT_LR["lora"]


def sizes(profile: str) -> dict:
    """Training sentences, dev sentences and ranks per profile."""
    return pick(ci={"n_train": 96, "n_dev": 64, "ranks": [2, 8]},
                cpu={"n_train": 1_000, "n_dev": None, "ranks": [2, 8, 32]},
                gpu={"n_train": 20_000, "n_dev": None, "ranks": [2, 8, 32]}, profile=profile)


def scalings(r: int) -> dict[str, float]:
    """The alpha handed to LoRA under each scaling (LoRA multiplies B A by alpha / r)."""
    return {"alpha_fixed": float(ALPHA), "alpha_2r": float(2 * r), "rslora": ALPHA * math.sqrt(r)}


def adapted(rank: int, alpha: float, seed: int = 0):
    """(tokenizer, MiniLM with LoRA at this rank and alpha in every linear layer, dropout off)."""
    seed_everything(seed)
    tok, model = ft.load_classifier()
    for m in model.modules():
        if isinstance(m, torch.nn.Dropout):
            m.p = 0.0
    return tok, ft.add_peft(model, "lora", rank=rank, alpha=alpha, dropout=0.0)


def update_size(model) -> float:
    """Mean over the LoRA-adapted matrices of ||(alpha/r) B A||_F / ||W||_F."""
    ratios = []
    with torch.no_grad():
        for module in model.modules():
            if hasattr(module, "lora_A") and "default" in getattr(module, "lora_A", {}):
                delta = module.get_delta_weight("default")
                ratios.append(float(delta.norm() / module.base_layer.weight.norm()))
    if not ratios:
        raise RuntimeError("no LoRA-adapted matrix found in the model")
    return sum(ratios) / len(ratios)


def first_step(ranks: list[int], batch_texts, batch_labels) -> list[dict]:
    """The update's size after one AdamW step on one batch, for every rank and scaling."""
    rows = []
    for r in ranks:
        for name, alpha in scalings(r).items():
            tok, model = adapted(r, alpha)
            batch = ft.encode(tok, batch_texts, batch_labels)
            model.train()
            opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=LR, weight_decay=0.01)
            ft.classification_loss(model, batch).backward()
            opt.step()
            rows.append({"rank": r, "scaling": name, "alpha": round(alpha, 4), "scale": round(alpha / r, 4),
                         "update_size": update_size(model)})
            print(f"first step  r={r:>2} {name:11s} scale {alpha / r:6.3f}: update/W = {rows[-1]['update_size']:.2e}",
                  flush=True)
    return rows


def train_one(r: int, alpha: float, data: dict, device) -> dict:
    """One short LoRA fine-tuning run; its row of the training table."""
    tok, model = adapted(r, alpha)
    model.to(device)
    batches = ft.bucket_batches(tok, data["train_x"], data["train_y"], 32, seed=0)
    steps = len(batches)
    tc = TrainConfig(max_steps=steps, lr=LR, weight_decay=0.01, betas=(0.9, 0.999), warmup_steps=int(0.06 * steps),
                     min_lr_ratio=0.0, schedule="linear", amp="native", eval_every=steps + 1, progress=False)
    t0 = time.perf_counter()
    hist = train(model, batches, tc, loss_fn=ft.classification_loss, device=device,
                 items_fn=lambda b: int(b["labels"].numel()))
    seconds = time.perf_counter() - t0
    model.eval()
    acc = ft.evaluate_classifier(model, tok, data["dev_x"], data["dev_y"])["accuracy"]
    last = hist.train_loss[-max(1, len(hist.train_loss) // 4):]
    trainable, total = ft.count_parameters(model)
    row = {"rank": r, "alpha": alpha, "scale": alpha / r, "dev_accuracy": round(float(acc), 4),
           "final_train_loss": round(sum(last) / len(last), 4), "update_size": update_size(model),
           "steps": len(hist.step), "stopped": hist.stopped, "train_seconds": round(seconds, 1),
           "trainable_params": int(trainable), "total_params": int(total)}
    print(f"training    r={r:>2} alpha={alpha:>4g} (scale {alpha / r:5.2f}): dev {acc:.3f}, "
          f"loss {row['final_train_loss']:.3f}, update/W {row['update_size']:.2e}, {seconds:.0f} s", flush=True)
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--profile", choices=results.PROFILES, default=None, help="default: COURSE_PROFILE or automatic")
    ap.add_argument("--out", default=None, help="write here instead of results/lora_alpha_r_<profile>.json")
    args = ap.parse_args()
    profile = args.profile or get_profile()
    s, device = sizes(profile), get_device()
    train_x, train_y = load_sst2("train")
    dev_x, dev_y = load_sst2("dev")
    n_dev = s["n_dev"] or len(dev_x)
    data = {"train_x": train_x[:s["n_train"]], "train_y": train_y[:s["n_train"]],
            "dev_x": dev_x[:n_dev], "dev_y": dev_y[:n_dev]}
    t0 = time.perf_counter()
    first = first_step(s["ranks"], train_x[:32], train_y[:32])
    runs = {(r, float(a)) for r in s["ranks"] for a in (ALPHA, 2 * r)}
    training = [train_one(r, a, data, device) for r, a in sorted(runs)]
    payload = {"what": "LoRA on MiniLM (every linear layer) at several ranks r: alpha fixed vs alpha = 2r "
                       "(and rsLoRA's alpha/sqrt(r) for the first step)",
               "alpha_fixed": ALPHA, "ranks": s["ranks"], "lr": LR, "batch_size": 32, "dropout": 0.0,
               "train_sentences": len(data["train_x"]), "dev_sentences": n_dev, "seed": 0,
               "update_size": "mean over adapted matrices of ||(alpha/r) B A||_F / ||W||_F",
               "first_step": first, "training": training,
               "total_seconds": round(time.perf_counter() - t0, 1)}
    path = results.save("lora_alpha_r", payload, profile, path=args.out)
    print(f"wrote {path} ({payload['total_seconds']:.0f} s)")


if __name__ == "__main__":
    main()
