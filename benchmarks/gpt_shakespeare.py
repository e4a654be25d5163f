"""Train models.GPT on Tiny Shakespeare (character level, nanoGPT's 90/10 split) for a fixed
wall-clock budget and record the best validation loss; on CUDA also measure MFU for a
GPT-2-small-shaped model.

    flock /tmp/course-cpu.lock .venv/bin/python benchmarks/gpt_shakespeare.py            # cpu profile
    .venv/bin/python benchmarks/gpt_shakespeare.py --profile gpu                         # on a GPU

Writes results/gpt_shakespeare_<profile>.json (through course_utils.results: stamped with the environment, date and commit).
"""
from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import torch

from course_utils import energy, results
from course_utils.chardata import shakespeare_chars
from course_utils.decoding import generate
from course_utils.models import GPT, GPTConfig
from course_utils.runtime import get_device, get_profile, seed_everything
from course_utils.train import TrainConfig, autocast_context, decay_groups, evaluate, make_optimizer, train

ROOT = Path(__file__).resolve().parents[1]

RECIPES = {  # model shape and optimisation for each profile; the cpu one was tuned on 2 cores
    "cpu": dict(n_layer=4, n_head=4, n_embd=128, block_size=128, batch=16, lr=5e-3, amp="measure",
                warmup=100, seconds=180.0, dropout=0.0, opt="muon"),
    "gpu": dict(n_layer=6, n_head=6, n_embd=384, block_size=256, batch=64, lr=1e-3, amp="bf16",
                warmup=100, seconds=180.0, dropout=0.2, opt="adamw"),
    "ci": dict(n_layer=2, n_head=2, n_embd=64, block_size=64, batch=8, lr=3e-3, amp="off",
               warmup=5, seconds=5.0, dropout=0.0, opt="adamw"),
}


def steps_per_second(cfg: GPTConfig, batch: int, amp: str, device: torch.device, get, n: int = 8) -> float:
    """Measure training speed on a throw-away copy (calibrates the cosine schedule to the budget)."""
    model = GPT(cfg).to(device)
    opt = make_optimizer(model, TrainConfig(max_steps=1))
    for i in range(n + 2):
        if i == 2:
            if device.type == "cuda":
                torch.cuda.synchronize()
            t0 = time.perf_counter()
        x, y = get(i)
        with autocast_context(device, amp):
            logits = model(x.to(device))
            loss = torch.nn.functional.cross_entropy(logits.flatten(0, 1), y.to(device).flatten())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return n / (time.perf_counter() - t0)


class MuonAdamW:
    """Muon (torch.optim.Muon) for the 2-D weight matrices inside the Transformer blocks, AdamW for
    everything else (embeddings, the tied output layer, norms), behind one optimizer interface.

    Muon replaces each update matrix by its nearest orthogonal matrix (a few Newton-Schulz
    iterations) before applying it; ``adjust_lr_fn="match_rms_adamw"`` scales it so that the
    learning rate and weight decay tuned for AdamW carry over (Liu et al. 2025, "Muon is Scalable
    for LLM Training"). Used only when a recipe asks for ``opt=muon``.
    """

    def __init__(self, model: torch.nn.Module, lr: float, weight_decay: float, betas) -> None:
        named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
        is_matrix = {n: n.startswith("blocks.") and p.dim() == 2 for n, p in named}
        self.opts = [torch.optim.Muon([p for n, p in named if is_matrix[n]], lr=lr,
                                      weight_decay=weight_decay, adjust_lr_fn="match_rms_adamw"),
                     torch.optim.AdamW(decay_groups([(n, p) for n, p in named if not is_matrix[n]],
                                                    weight_decay), lr=lr, betas=betas)]
        self.param_groups = [g for o in self.opts for g in o.param_groups]

    def zero_grad(self, set_to_none: bool = True) -> None:
        for o in self.opts:
            o.zero_grad(set_to_none=set_to_none)

    def step(self) -> None:
        for o in self.opts:
            o.step()

    def state_dict(self) -> dict:
        return {"muon": self.opts[0].state_dict(), "adamw": self.opts[1].state_dict()}


def shakespeare_run(profile: str, device: torch.device, overrides: dict) -> dict:
    r = {**RECIPES[profile], **overrides}
    seed_everything(0)
    data = shakespeare_chars()
    cfg = GPTConfig(vocab_size=data.tokenizer.vocab_size, block_size=r["block_size"],
                    n_layer=r["n_layer"], n_head=r["n_head"], n_embd=r["n_embd"], dropout=r["dropout"])
    get = data.batches("train", r["batch"], r["block_size"], seed=0)
    # "measure": time fp32 and bf16 autocast on this machine and train with the faster one
    candidates = ["off", "bf16"] if r["amp"] == "measure" else [r["amp"]]
    speeds = {amp: steps_per_second(cfg, r["batch"], amp, device, get) for amp in candidates}
    r["amp"] = max(speeds, key=speeds.get)
    sps = speeds[r["amp"]]
    # the time budget stops training and the learning-rate schedule follows the clock
    # (schedule_clock="time"); max_steps is set far out of reach so that a machine that speeds up
    # after the calibration (other load gone) still trains for the whole budget
    max_steps = max(500, int(sps * r["seconds"] * 20))
    tcfg = TrainConfig(max_steps=max_steps, lr=r["lr"], warmup_steps=r["warmup"], betas=(0.9, 0.99),
                       weight_decay=0.1, min_lr_ratio=0.1, schedule_clock="time",
                       eval_every=max(1, int(sps * r["seconds"]) // 6),
                       eval_batches=8, amp=r["amp"], max_seconds=r["seconds"], progress=False)
    seed_everything(0)
    model = GPT(cfg)
    opt = (MuonAdamW(model, r["lr"], tcfg.weight_decay, tcfg.betas) if r.get("opt") == "muon"
           else make_optimizer(model, tcfg))
    val_eval = data.batches("val", 64, r["block_size"], seed=1)
    hist = train(model, get, tcfg, eval_data={"val": val_eval}, device=device,
                 items_fn=lambda b: b[0].numel(), optimizer=opt)
    # the headline number: a larger, fixed validation sample (nanoGPT: 200 batches), outside the budget
    final_val = evaluate(model, data.batches("val", 64, r["block_size"], seed=2), 40, device, amp=r["amp"])
    return {"recipe": r, "schedule": "linear warm-up (steps), then cosine over the wall-clock budget (TrainConfig.schedule_clock=\"time\")", "config": cfg.__dict__, "params": model.num_params(),
            "calibrated_steps_per_s": speeds, "max_steps": max_steps, "steps_done": hist.step[-1] + 1,
            "train_seconds": hist.seconds, "tokens_per_s": hist.items / hist.seconds,
            "stopped": hist.stopped or "max_steps", "eval_step": hist.eval_step,
            "val_loss_during_training": hist.eval_loss["val"],
            "final_val_loss_40x64_blocks": final_val,
            "best_val_loss": min(min(hist.eval_loss["val"]), final_val),
            "train_loss_tail_mean": sum(hist.train_loss[-50:]) / len(hist.train_loss[-50:]),
            "samples": samples(model, data.tokenizer, device)}


SAMPLE_PROMPTS = ["ROMEO:\n", "First Citizen:\n"]


def samples(model: GPT, tokenizer, device: torch.device, n_chars: int = 300) -> list[dict]:
    """Text from the trained model: each fixed prompt greedy, and sampled (T=0.8, top-k 20, seed 0)."""
    out = []
    for prompt in SAMPLE_PROMPTS:
        idx = torch.tensor([tokenizer.encode(prompt)], device=device)
        for how, kw in (("greedy", dict(greedy=True)), ("temperature 0.8, top-k 20, seed 0",
                                                        dict(temperature=0.8, top_k=20))):
            gen = torch.Generator(device=device).manual_seed(0)
            text = tokenizer.decode(generate(model, idx, n_chars, generator=gen, **kw)[0].tolist())
            out.append({"prompt": prompt, "decoding": how, "text": text})
    return out


def mfu_run(device: torch.device, steps: int = 30) -> dict:
    """Model FLOPs utilisation of a GPT-2-small-shaped model (12 x 768, 1024 context) in bf16."""
    cfg = GPTConfig(vocab_size=50304, block_size=1024, n_layer=12, n_head=12, n_embd=768)
    model = GPT(cfg).to(device)
    model = torch.compile(model)
    opt = make_optimizer(model, TrainConfig(max_steps=1))
    x = torch.randint(0, cfg.vocab_size, (16, 1024), device=device)
    for i in range(steps + 5):
        if i == 5:
            torch.cuda.synchronize()
            t0 = time.perf_counter()
        with autocast_context(device, "bf16"):
            loss = torch.nn.functional.cross_entropy(model(x).flatten(0, 1), x.flatten())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    torch.cuda.synchronize()
    tok_s = steps * x.numel() / (time.perf_counter() - t0)
    name = torch.cuda.get_device_name(device)
    peak = energy.peak_flops(name, "bf16")   # the course's one table of datasheet peaks
    achieved = tok_s * GPT(cfg).flops_per_token()
    return {"gpu": name, "tokens_per_s": tok_s, "flops_per_token": GPT(cfg).flops_per_token(),
            "achieved_flops": achieved, "peak_bf16_flops": peak,
            "mfu": achieved / peak if peak else "unknown GPU: add its datasheet peak to course_utils.energy.ACCELERATORS"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--profile", choices=["ci", "cpu", "gpu"], default=None)
    ap.add_argument("--seconds", type=float, default=None)
    ap.add_argument("--set", nargs="*", default=[], help="recipe overrides, e.g. lr=2e-3 amp=bf16")
    ap.add_argument("--out", default=None)
    ap.add_argument("--name", default="gpt_shakespeare",
                    help="result name (e.g. gpt_shakespeare_adamw for an ablation): results/<name>_<profile>.json")
    ap.add_argument("--threads", type=int, default=2, help="CPU threads (the cpu recipe is timed with 2)")
    args = ap.parse_args()
    profile = args.profile or get_profile()
    os.environ["COURSE_PROFILE"] = profile
    device = get_device(profile)
    if device.type == "cpu":
        torch.set_num_threads(min(args.threads, os.cpu_count() or 1))
    overrides = {}
    for kv in args.set:
        k, v = kv.split("=", 1)
        overrides[k] = v if k in ("amp", "opt") else (float(v) if "." in v or "e" in v else int(v))
    if args.seconds:
        overrides["seconds"] = args.seconds
    result = {"benchmark": "gpt_shakespeare", "threads": torch.get_num_threads(),
              "split": "first 90% train / last 10% val (nanoGPT shakespeare_char)",
              "run": shakespeare_run(profile, device, overrides)}
    if device.type == "cuda":
        result["mfu_gpt2_small"] = mfu_run(device)
    else:
        result["mfu_gpt2_small"] = "not yet measured (no GPU in this run)"
    out = results.save(args.name, json.loads(json.dumps(result, default=str)), profile, path=args.out)
    run = result["run"]
    print(f"{profile}: best val loss {run['best_val_loss']:.4f} after {run['steps_done']} steps, "
          f"{run['train_seconds']:.0f} s, {run['tokens_per_s']:,.0f} tokens/s -> {out}")


if __name__ == "__main__":
    main()
