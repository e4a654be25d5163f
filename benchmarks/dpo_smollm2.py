"""Chapter 4 benchmark: preference tuning (DPO) of SmolLM2-135M-Instruct with LoRA, against a frozen reference.

    COURSE_PROFILE=cpu flock /tmp/course-cpu.lock .venv/bin/python benchmarks/dpo_smollm2.py
    COURSE_PROFILE=cpu flock /tmp/course-cpu.lock .venv/bin/python benchmarks/dpo_smollm2.py --dev

Preference pairs, built offline from SST-2 (course_utils.align.preference_pairs): chosen = the correct
one-word label; rejected = the wrong label or a verbose off-format sentence naming the correct label.
In training the rejected kinds come in the pattern --pattern says, and the wrong-label pairs alternate
between the two correct labels (unless --unbalanced); the held-out pairs alternate wrong label and
verbose. The policy is the model with LoRA adapters; the reference is the same model with the adapters
switched off (so policy == reference at step 0). Measures, on held-out pairs (never in training):
preference accuracy (the implicit reward beta * log(pi / pi_ref) ranks chosen above rejected; ties
count one half), the drift from the reference (mean log-ratio), and the most confident wrong answer
left. Writes results/dpo_smollm2_<profile>.json.

--dev compares the settings in DEV_CANDIDATES on a dev split of the training pool (its second half,
which training never reaches) and writes results/dpo_smollm2_dev_<profile>.json: the defaults are
chosen there, never on the held-out pairs.
"""
from __future__ import annotations

import argparse
import time

import torch

from course_utils import align, bench, results
from course_utils.models import load_smollm2
from course_utils.runtime import get_profile, pick, seed_everything


def pair_logps(model, tok, pairs: list[tuple[str, str, str, str]]) -> tuple[torch.Tensor, torch.Tensor]:
    """(chosen, rejected) summed answer log-probabilities, one forward over both."""
    rows = [align.chat_example(tok, p, c) for p, c, _, _ in pairs] + [align.chat_example(tok, p, r) for p, _, r, _ in pairs]
    logps = align.sequence_logps(model, *align.collate(rows, tok.pad_token_id))
    return logps[:len(pairs)], logps[len(pairs):]


@torch.no_grad()
def heldout_logps(model, tok, pairs: list, batch: int = 8, reference: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """Chosen and rejected log-probabilities of every held-out pair (under the reference if asked)."""
    model.eval()
    out = []
    for i in range(0, len(pairs), batch):
        if reference:
            with model.disable_adapter():
                out.append(pair_logps(model, tok, pairs[i:i + batch]))
        else:
            out.append(pair_logps(model, tok, pairs[i:i + batch]))
    return torch.cat([c for c, _ in out]), torch.cat([r for _, r in out])


def preference_accuracy(margin: torch.Tensor) -> float:
    """Share of pairs whose implicit-reward margin is positive (a tie counts one half)."""
    return ((margin > 0).float() + 0.5 * (margin == 0).float()).mean().item()


def report(pairs: list, pc: torch.Tensor, pr: torch.Tensor, rc: torch.Tensor, rr: torch.Tensor, beta: float) -> dict:
    """Preference accuracy overall and per kind of rejected answer, drift, mean reward margin."""
    margin = beta * ((pc - rc) - (pr - rr))
    kinds = sorted({k for *_, k in pairs})
    wrong = {a: [i for i, p in enumerate(pairs) if p[3] == "wrong label" and p[1] == a] for a in align.LABEL_WORDS}
    return {"preference_accuracy": preference_accuracy(margin),
            "by_kind": {k: preference_accuracy(margin[[i for i, p in enumerate(pairs) if p[3] == k]]) for k in kinds},
            "wrong_label_by_answer": {a: {"pairs": len(ix), "accuracy": preference_accuracy(margin[ix]) if ix else None}
                                      for a, ix in wrong.items()},
            "mean_reward_margin": margin.mean().item(),
            "drift_chosen_logratio": (pc - rc).mean().item(), "drift_rejected_logratio": (pr - rr).mean().item(),
            "policy_prefers_chosen": (pc > pr).float().mean().item()}


# Settings compared by --dev on a dev split of the training pool (never on the held-out pairs):
# (name, steps, pairs per step, rejected kinds in turn, wrong-label pairs balanced between the labels)
PATTERNS = {"alternate": ("wrong label", "verbose"), "2wrong": ("wrong label", "wrong label", "verbose")}
DEV_CANDIDATES = [("alternate, 16 x 4", 16, 4, PATTERNS["alternate"], False),
                  ("alternate, balanced, 16 x 4", 16, 4, PATTERNS["alternate"], True),
                  ("2 wrong : 1 verbose, balanced, 16 x 4", 16, 4, PATTERNS["2wrong"], True),
                  ("2 wrong : 1 verbose, balanced, 48 x 8", 48, 8, PATTERNS["2wrong"], True)]


def examples(n_eval: int, dev: bool) -> tuple[list, list]:
    """(training pool, evaluation examples): the held-out set, or with ``dev`` a dev split taken from
    the second half of the (shuffled) training pool, which training never reaches."""
    train, held = align.sst2_instructions(n_eval, seed=1)
    half = len(train) // 2
    if not dev:
        return train[:half], held
    dev_set = [e for e in train[half:] if len(align.input_text(e.prompt).split()) >= 6][:n_eval]
    return train[:half], dev_set


def run(args: argparse.Namespace, profile: str, steps: int, batch: int, pattern: tuple, balance: bool,
        dev: bool = False) -> dict:
    """Train DPO for a fixed number of steps (or until the time limit); evaluate before and after."""
    seed_everything(0)
    t0 = time.perf_counter()
    model, tok = load_smollm2()
    train, held = examples(args.eval or pick(ci=4, cpu=48, gpu=400, profile=profile), dev)
    train_pairs = align.preference_pairs(train[:3 * steps * batch], pattern, balance)[:steps * batch]
    held_pairs = align.preference_pairs(held)
    if len(train_pairs) < steps * batch:
        raise ValueError(f"{len(train_pairs)} training pairs for {steps} steps of {batch}: the pool is too small "
                         "for the balanced pattern; use fewer steps or a smaller batch")
    assert not {p for p, *_ in train_pairs} & {p for p, *_ in held_pairs}, "evaluation prompts were trained on"
    model = align.add_lora(model, args.rank, args.layers)
    rc, rr = heldout_logps(model, tok, held_pairs, reference=True)
    before = report(held_pairs, rc, rr, rc, rr, args.beta)            # policy == reference at step 0
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=args.lr, weight_decay=0.0)
    history, t_train = [], time.perf_counter()
    for step in range(steps):
        chunk = train_pairs[step * batch:(step + 1) * batch]
        model.eval()
        with torch.no_grad(), model.disable_adapter():
            ref_c, ref_r = pair_logps(model, tok, chunk)
        model.train()
        pol_c, pol_r = pair_logps(model, tok, chunk)
        loss = align.dpo_loss(pol_c, pol_r, ref_c, ref_r, beta=args.beta)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        history.append({"loss": round(loss.item(), 4),
                        "chosen_logratio": round((pol_c - ref_c).mean().item(), 4),
                        "rejected_logratio": round((pol_r - ref_r).mean().item(), 4)})
        print(f"step {step + 1}/{steps}  {history[-1]}  {time.perf_counter() - t_train:.0f} s", flush=True)
        if time.perf_counter() - t_train > args.time_limit:
            print(f"time limit {args.time_limit} s reached after {step + 1} steps")
            break
    train_s = time.perf_counter() - t_train
    pc, pr = heldout_logps(model, tok, held_pairs)
    after = report(held_pairs, pc, pr, rc, rr, args.beta)
    wrong = [i for i, p in enumerate(held_pairs) if p[3] == "wrong label"]
    worst = min(wrong, key=lambda i: (pc[i] - pr[i]).item()) if wrong else None
    confident_wrong = None if worst is None else {
        "text": align.input_text(held_pairs[worst][0]), "label": held_pairs[worst][1],
        "policy_logp_correct": pc[worst].item(), "policy_logp_wrong": pr[worst].item()}
    share = lambda ps: sum(p[1] == "positive" for p in ps if p[3] == "wrong label") / max(1, sum(p[3] == "wrong label" for p in ps))
    kinds = " : ".join(f"{pattern.count(k)} {k}" for k in align.REJECTED_KINDS)
    return {"pairs": f"SST-2: chosen = the correct one-word label; rejected = the wrong label or a verbose "
                     f"off-format sentence naming the right one, in turn ({kinds}) in training"
                     + ("; training's wrong-label pairs alternate positive / negative" if balance else "")
                     + "; held-out pairs alternate wrong label and verbose",
            "method": f"DPO, beta {args.beta}, LoRA r={args.rank} on the top {args.layers} blocks, AdamW lr {args.lr}; "
                      "reference = the same model with the adapters off",
            "evaluated_on": "dev split of the training pool" if dev else "held-out set",
            "beta": args.beta, "steps": len(history), "batch_pairs": batch, "train_pairs_seen": len(history) * batch,
            "pattern": list(pattern), "balanced": balance, "heldout_pairs": len(held_pairs),
            "wrong_label_positive_share": {"train": share(train_pairs[:len(history) * batch]), "heldout": share(held_pairs)},
            "train_seconds": round(train_s, 1),
            "total_seconds": round(time.perf_counter() - t0, 1), "history": history,
            "before": before, "after": after, "confident_wrong": confident_wrong,
            "note": bench.load_note()}


def main(args: argparse.Namespace) -> tuple[str, dict]:
    """The measured run with the chosen settings, or (--dev) the candidate settings on the dev split."""
    profile = args.profile or get_profile()
    bench.setup(args)
    if not args.dev:
        steps = args.steps or pick(ci=2, cpu=48, gpu=200, profile=profile)
        batch = args.batch or pick(ci=2, cpu=8, gpu=16, profile=profile)
        return "dpo_smollm2", run(args, profile, steps, batch, PATTERNS[args.pattern], not args.unbalanced)
    rows = []
    for name, steps, batch, pattern, balance in DEV_CANDIDATES[:pick(ci=1, cpu=None, gpu=None, profile=profile)]:
        r = run(args, profile, pick(ci=2, cpu=steps, gpu=steps, profile=profile), pick(ci=2, cpu=batch, gpu=batch,
                profile=profile), pattern, balance, dev=True)
        rows.append({"settings": name, "steps": r["steps"], "train_seconds": r["train_seconds"],
                     "preference_accuracy": r["after"]["preference_accuracy"], "by_kind": r["after"]["by_kind"],
                     "drift_chosen_logratio": r["after"]["drift_chosen_logratio"]})
        print(rows[-1], flush=True)
    return "dpo_smollm2_dev", {"evaluated_on": "dev split of the training pool (never the held-out set)",
                               "dev_pairs": r["heldout_pairs"], "candidates": rows, "note": bench.load_note()}


if __name__ == "__main__":
    ap = bench.lora_run_parser(__doc__, sizes="ci 2, cpu 48", time_limit=360.0)
    ap.add_argument("--beta", type=float, default=0.1)
    ap.add_argument("--pattern", choices=sorted(PATTERNS), default="2wrong",
                    help="rejected answers in training: alternate wrong label / verbose, or 2 wrong label : 1 verbose")
    ap.add_argument("--unbalanced", action="store_true", help="do not balance the wrong-label pairs' labels")
    ap.add_argument("--dev", action="store_true",
                    help="compare DEV_CANDIDATES on a dev split of the training pool (to choose settings)")
    args = ap.parse_args()
    name, payload = main(args)
    path = results.save(name, payload, args.profile or get_profile(), path=args.out)
    if name == "dpo_smollm2":
        print({k: payload[k] for k in ("steps", "train_seconds", "total_seconds")},
              "\nbefore", payload["before"], "\nafter ", payload["after"])
    print(f"-> {path}")
