"""Chapter 4 benchmark: instruction tuning (SFT) of SmolLM2-135M-Instruct with LoRA, loss on the answer only.

    COURSE_PROFILE=cpu flock /tmp/course-cpu.lock .venv/bin/python benchmarks/sft_smollm2.py

Task: SST-2 sentences -> the answer ``positive`` or ``negative``, one word (course_utils.align). Trains
LoRA adapters (rank r on the fused q/k/v, output, gate/up and down matrices of the top layers) with
AdamW on answer-only labels; before and after, greedily answers held-out prompts (never in training:
align.split_heldout) and measures how often the answer follows the format, the task accuracy and the
held-out answer loss. Writes results/sft_smollm2_<profile>.json.
"""
from __future__ import annotations

import argparse
import time

import torch

from course_utils import align, bench, results
from course_utils.models import load_smollm2
from course_utils.runtime import get_profile, pick, seed_everything


def evaluate(model, tok, examples: list[align.Instruction], batch: int = 16) -> dict:
    """Greedy answers to held-out prompts: format rate, accuracy, answer loss and a few examples."""
    model.eval()
    answers = align.generate_answers(model, tok, [e.prompt for e in examples], max_new_tokens=5, batch_size=batch)
    fmt = [align.follows_format(a) for a in answers]
    correct = [a.strip() == e.answer for a, e in zip(answers, examples)]
    with torch.no_grad():
        losses = [align.answer_loss(model, *align.collate([align.chat_example(tok, e.prompt, e.answer)
                                                           for e in examples[i:i + batch]], tok.pad_token_id))
                  .item() for i in range(0, len(examples), batch)]
    return {"format_rate": sum(fmt) / len(fmt), "accuracy": sum(correct) / len(correct),
            "answer_loss": sum(losses) / len(losses),
            "examples": [{"text": align.input_text(e.prompt), "label": e.answer, "answer": a}
                         for e, a in zip(examples[:6], answers[:6])]}


def main(args: argparse.Namespace) -> dict:
    """Evaluate, train, evaluate; return the payload."""
    profile = args.profile or get_profile()
    steps = args.steps or pick(ci=2, cpu=24, gpu=200, profile=profile)
    batch = args.batch or pick(ci=2, cpu=8, gpu=16, profile=profile)
    n_eval = args.eval or pick(ci=4, cpu=48, gpu=400, profile=profile)
    bench.setup(args)
    seed_everything(0)
    t0 = time.perf_counter()
    model, tok = load_smollm2()
    train, held = align.sst2_instructions(n_eval)
    model = align.add_lora(model, args.rank, args.layers)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    t_eval = time.perf_counter()
    before = evaluate(model, tok, held)
    eval_s = time.perf_counter() - t_eval
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=args.lr, weight_decay=0.0)
    history, t_train = [], time.perf_counter()
    model.train()
    for step in range(steps):
        chunk = train[step * batch:(step + 1) * batch]
        ids, labels = align.collate([align.chat_example(tok, e.prompt, e.answer) for e in chunk], tok.pad_token_id)
        loss = align.answer_loss(model, ids, labels)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        history.append(round(loss.item(), 4))
        print(f"step {step + 1}/{steps}  answer loss {loss.item():.4f}  {time.perf_counter() - t_train:.0f} s", flush=True)
        if time.perf_counter() - t_train > args.time_limit:
            print(f"time limit {args.time_limit} s reached after {step + 1} steps")
            break
    train_s = time.perf_counter() - t_train
    t_eval = time.perf_counter()
    after = evaluate(model, tok, held)
    eval_after_s = time.perf_counter() - t_eval
    return {"task": "SST-2 sentiment, one-word answer (positive / negative)",
            "method": f"LoRA r={args.rank} on qkv/proj/gate_up/down of the top {args.layers} of "
                      f"{model.config.n_layer} blocks, AdamW lr {args.lr}, loss on the answer tokens only",
            "trainable_params": trainable, "steps": len(history), "batch": batch,
            "train_examples_seen": len(history) * batch, "heldout_examples": len(held),
            "train_seconds": round(train_s, 1), "eval_seconds_before": round(eval_s, 1),
            "eval_seconds_after": round(eval_after_s, 1),
            "total_seconds": round(time.perf_counter() - t0, 1), "loss_history": history,
            "before": before, "after": after,
            "note": bench.load_note()}


if __name__ == "__main__":
    ap = bench.lora_run_parser(__doc__, sizes="ci 2, cpu 24", time_limit=330.0)
    args = ap.parse_args()
    payload = main(args)
    path = results.save("sft_smollm2", payload, args.profile or get_profile(), path=args.out)
    print({k: payload[k] for k in ("steps", "train_seconds", "total_seconds")},
          "\nbefore", {k: payload["before"][k] for k in ("format_rate", "accuracy", "answer_loss")},
          "\nafter ", {k: payload["after"][k] for k in ("format_rate", "accuracy", "answer_loss")}, f"\n-> {path}")
