"""Chapter 6 benchmark: SmolLM2-135M-Instruct in the course's Llama stored as float32, bfloat16 and
weight-only int8 (one scale per output channel): weight memory, validation perplexity, generation
speed and energy per generated token of each, in one run.

    COURSE_PROFILE=cpu flock /tmp/course-cpu.lock .venv/bin/python benchmarks/smollm2_quant.py
    .venv/bin/python benchmarks/smollm2_quant.py --profile ci        # a few hundred tokens

The four forms are ``course_utils.quant.precisions``: float32, bfloat16, int8 multiplied by
PyTorch's int8 weight-only kernel on a CPU (activations rounded to bfloat16 for each product), and
int8 decoded to float32 at every call. "float32" holds the weights as the GGUF file stores them
after decoding Q4_1, so the others are compared with exactly what the file gives. In the gpu
profile everything runs on the GPU, where the int8 kernel is not used: both int8 forms decode.

Perplexity: the first tokens (SmolLM2's tokenizer) of Tiny Shakespeare's validation text (its last
10 %, the split of chapter 3), in consecutive windows. Speed: greedy generation, batch 1, the prompt
of chapter 3's speed measurement (smollm2.STORY_PROMPT) through the chat template, a fixed number
of new tokens, the four forms timed in interleaved rounds (median tokens/s, prefill included).
Energy per token: ``course_utils.energy.measure`` around the timed generations (a counter where the
machine has one, otherwise its labelled estimate, which then only restates the time). Targets for
int8: >= 3.5x less weight memory, perplexity within 3 %. Writes results/smollm2_quant_<profile>.json
through course_utils.results.
"""
from __future__ import annotations

import argparse
import statistics
from pathlib import Path

import torch

from course_utils import energy, quant, results
from course_utils.bench import timed
from course_utils.data import load_tinyshakespeare
from course_utils.models.llama import load_smollm2
from course_utils.models.smollm2 import STORY_PROMPT as PROMPT
from course_utils.runtime import get_device, get_profile, pick


def validation_ids(tok, n_tokens: int) -> torch.Tensor:
    """The first ``n_tokens`` tokens of Tiny Shakespeare's validation text (its last 10 %)."""
    text = load_tinyshakespeare()
    val = text[int(len(text) * 0.9):]
    ids = tok(val[: n_tokens * 8], return_tensors="pt")["input_ids"][0]     # ~4 characters per token
    if ids.numel() < n_tokens:
        raise ValueError(f"only {ids.numel()} validation tokens, {n_tokens} asked")
    return ids[:n_tokens]


def generation(models: dict, prompt_ids: torch.Tensor, new_tokens: int, rounds: int) -> dict:
    """Tokens/s (median of interleaved rounds) and energy per new token of each model; how many of
    the new greedy tokens equal float32's, counted from the first one until they part."""
    first = {name: m.generate(prompt_ids, new_tokens) for name, m in models.items()}   # warm-up
    times: dict[str, list[float]] = {name: [] for name in models}
    joules = dict.fromkeys(models, 0.0)
    method = ""
    for _ in range(rounds):
        for name, m in models.items():
            with energy.measure() as e:
                times[name].append(timed(lambda: m.generate(prompt_ids, new_tokens), prompt_ids.device)[1])
            joules[name] += e.joules
            method = e.result.method
    ref = first["float32"][0, prompt_ids.size(1):]
    out = {}
    for name in models:
        new = first[name][0, prompt_ids.size(1):]
        parted = (new != ref).nonzero()
        out[name] = {"tokens_per_s": round(new_tokens / statistics.median(times[name]), 3),
                     "seconds": [round(t, 4) for t in times[name]],
                     "joules_per_token": round(joules[name] / (rounds * new_tokens), 4),
                     "same_tokens_as_float32": int(parted[0, 0]) if parted.numel() else new_tokens}
    return {"energy_method": method, "by_format": out}


def run(profile: str, n_tokens: int, window: int, new_tokens: int, rounds: int, threads: int | None) -> dict:
    """Weight bytes, perplexity, tokens/s and energy per token of the four forms of SmolLM2."""
    if threads:
        torch.set_num_threads(threads)
    device = get_device(profile)
    model, tok = load_smollm2(device=device)
    ids = validation_ids(tok, n_tokens).to(device)
    models = quant.precisions(model)
    row = {}
    for name, m in models.items():
        ppl, seconds = timed(lambda: quant.perplexity(m, ids, window), device)
        row[name] = {"perplexity": round(ppl, 4), "weight_bytes": quant.weight_bytes(m),
                     "perplexity_seconds": round(seconds, 2)}
    prompt_ids = tok.apply_chat_template([{"role": "user", "content": PROMPT}], add_generation_prompt=True,
                                         return_dict=True, return_tensors="pt")["input_ids"].to(device)
    gen = generation(models, prompt_ids, new_tokens, rounds)
    for name in models:
        row[name].update(gen["by_format"][name])
        row[name]["speed_over_float32"] = round(row[name]["tokens_per_s"] / gen["by_format"]["float32"]["tokens_per_s"], 3)
    shrink = row["float32"]["weight_bytes"] / row["int8"]["weight_bytes"]
    change = row["int8"]["perplexity"] / row["float32"]["perplexity"] - 1
    return {"model": "SmolLM2-135M-Instruct (Q4_1 GGUF decoded to float32)", "text": "Tiny Shakespeare, validation (last 10 %)",
            "tokens": int(ids.numel()), "window": window, "threads": torch.get_num_threads(), "device": str(device),
            "generation": {"prompt": PROMPT, "prompt_tokens": int(prompt_ids.size(1)), "new_tokens": new_tokens,
                           "rounds": rounds, "batch": 1, "energy_method": gen["energy_method"]},
            "formats": row,
            "memory_ratio": round(shrink, 3), "perplexity_change": round(change, 5),
            "targets": {"memory_ratio_at_least": 3.5, "perplexity_change_at_most": 0.03},
            "targets_met": bool(shrink >= 3.5 and abs(change) <= 0.03)}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--profile", default=None, help="ci, cpu or gpu (default: COURSE_PROFILE / automatic)")
    ap.add_argument("--tokens", type=int, default=None, help="validation tokens (ci 256, cpu 4096)")
    ap.add_argument("--window", type=int, default=512, help="tokens per forward pass")
    ap.add_argument("--new-tokens", type=int, default=None, help="generated tokens per round (ci 8, cpu 128)")
    ap.add_argument("--rounds", type=int, default=None, help="timed generation rounds (ci 1, cpu 3)")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    ap.add_argument("--out", type=Path, default=None, help="write here instead of results/")
    args = ap.parse_args(argv)
    profile = args.profile or get_profile()
    payload = run(profile, args.tokens or pick(ci=256, cpu=4096, gpu=4096, profile=profile), args.window,
                  args.new_tokens or pick(ci=8, cpu=128, gpu=128, profile=profile),
                  args.rounds or pick(ci=1, cpu=3, gpu=3, profile=profile), args.threads)
    path = results.save("smollm2_quant", payload, profile, path=args.out)
    for name, r in payload["formats"].items():
        print(f"{name:26s} {r['weight_bytes'] / 1e6:6.1f} MB  perplexity {r['perplexity']:8.3f}  "
              f"{r['tokens_per_s']:6.1f} tokens/s ({r['speed_over_float32']:.2f}x)  {r['joules_per_token']:.3f} J/token")
    print({k: payload[k] for k in ("memory_ratio", "perplexity_change", "targets_met")})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
