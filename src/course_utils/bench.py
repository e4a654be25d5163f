"""What every benchmark script shares: its command line, its setup, and one way to time code.

    ap = bench.parser(__doc__)                       # --profile, --out, --threads, --set KEY=VALUE
    ap.add_argument("--steps", type=int)             # the benchmark's own options
    args = ap.parse_args()
    profile = bench.setup(args)                      # checks the profile, applies --threads
    result, seconds = bench.timed(lambda: step(), device)
    best, median = bench.time_call(lambda: f(x), device, min_time=0.5)
    results.save("my_benchmark", payload, profile, path=args.out)

Benchmarks import the installed package (``make install``; on the GPU machine
``benchmarks/gpu_profiles.sh`` puts ``src/`` on PYTHONPATH): no script edits ``sys.path`` and no
script imports another.
"""
from __future__ import annotations

import argparse
import ast
import statistics
import time
from pathlib import Path
from typing import Any, Callable, Iterable

PROFILE_CHOICES = ("ci", "cpu", "gpu")


def parser(doc: str | None, *, settings: bool = False) -> argparse.ArgumentParser:
    """An argument parser with the options every benchmark takes: ``--profile`` (default:
    COURSE_PROFILE, else automatic), ``--out`` (write the result there instead of results/),
    ``--threads`` (torch threads); with ``settings=True`` also ``--set KEY=VALUE ...``."""
    ap = argparse.ArgumentParser(description=(doc or "").strip().split("\n")[0] or None)
    ap.add_argument("--profile", choices=PROFILE_CHOICES, default=None,
                    help="ci, cpu or gpu (default: COURSE_PROFILE, else CI=true -> ci, a GPU -> gpu, else cpu)")
    ap.add_argument("--out", type=Path, default=None, help="write the result here instead of results/")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    if settings:
        ap.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="override settings, e.g. lr=2e-3")
    return ap


def setup(args: argparse.Namespace) -> str:
    """Apply ``--threads`` and return the profile (``--profile``, else the active one)."""
    import torch

    from course_utils.runtime import get_profile

    if getattr(args, "threads", None) is not None:
        if args.threads < 1:
            raise SystemExit(f"--threads must be at least 1, not {args.threads}")
        torch.set_num_threads(args.threads)
    return getattr(args, "profile", None) or get_profile()


def parse_settings(pairs: Iterable[str], known: Iterable[str] | None = None) -> dict[str, Any]:
    """``["lr=2e-3", "amp=bf16", "layers=(2, 3)"]`` -> ``{"lr": 0.002, "amp": "bf16", "layers": (2, 3)}``.

    Values are Python literals where they parse as one (numbers, tuples, None, True), else strings.
    With ``known``, an unknown key is an error that lists the known ones."""
    allowed = None if known is None else set(known)
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise SystemExit(f"--set {pair!r}: write KEY=VALUE, e.g. lr=2e-3")
        if allowed is not None and key not in allowed:
            raise SystemExit(f"--set {key}: unknown setting; known: {', '.join(sorted(allowed))}")
        try:
            out[key] = ast.literal_eval(raw.strip())
        except (ValueError, SyntaxError):
            out[key] = raw.strip()
    return out


def _sync(device: Any) -> None:
    if device is not None and getattr(device, "type", device) == "cuda":
        import torch

        torch.cuda.synchronize(device)


def timed(fn: Callable[[], Any], device: Any = None) -> tuple[Any, float]:
    """``(fn(), seconds)``, waiting for a GPU to finish its queued work before and after."""
    _sync(device)
    t0 = time.perf_counter()
    result = fn()
    _sync(device)
    return result, time.perf_counter() - t0


def time_call(fn: Callable[[], object], device: Any = None, min_time: float = 0.5,
              max_repeats: int = 50) -> tuple[float, float]:
    """``(best, median)`` wall time of ``fn()`` over repeats, after one warm-up call: at least 3
    calls, more until ``min_time`` seconds are spent (at most ``max_repeats``)."""
    fn()
    _sync(device)
    times: list[float] = []
    while len(times) < 3 or (sum(times) < min_time and len(times) < max_repeats):
        times.append(timed(fn, device)[1])
    return min(times), statistics.median(times)


def processor(device: Any) -> dict:
    """What decides a precision's speed: the processor's name, its widest vector instructions, bf16 support."""
    import torch

    from course_utils.runtime import cpu_model, has_native_bf16

    device = torch.device(device)
    if device.type == "cuda":
        return {"name": torch.cuda.get_device_name(device), "native_bf16": has_native_bf16(device)}
    return {"name": cpu_model(), "vector_isa": torch.backends.cpu.get_cpu_capability(),
            "native_bf16": has_native_bf16(device)}


def save_per_processor(out: Path, entry: dict, profile: str, benchmark: str, task: str) -> dict:
    """Add ``entry`` (with ``processor`` and ``environment`` keys) to the results file ``out``,
    replacing an earlier entry from the same kind of processor, so one file keeps one measurement
    per processor; the file's stamp is the newest entry's environment. Returns the file's payload."""
    import json

    from course_utils import results

    out = Path(out)
    doc = results.payload(json.loads(out.read_text())) if out.exists() else {}
    key = json.dumps(entry["processor"], sort_keys=True)
    kept = [e for e in doc.get("processors", []) if json.dumps(e["processor"], sort_keys=True) != key]
    doc.update(benchmark=benchmark, task=task, processors=kept + [entry])
    results.save(Path(benchmark).stem, doc, profile, env=entry["environment"], path=out)
    return doc


def load_note() -> str:
    """A sentence on how busy the machine is now, for a result's ``note``: a load average above
    the number of logical CPUs means other work competed with the measurement."""
    import os

    try:
        one, five, _ = os.getloadavg()
    except (AttributeError, OSError):
        return "machine load unknown"
    cpus = os.cpu_count() or 1
    if five > cpus:
        return (f"measured on a shared machine (load average {five:.1f} over 5 minutes on {cpus} logical CPUs): "
                "times are upper bounds")
    return f"measured on a quiet machine (load average {five:.1f} over 5 minutes on {cpus} logical CPUs)"


def lora_run_parser(doc: str | None, *, sizes: str, time_limit: float) -> argparse.ArgumentParser:
    """The command line of a LoRA training run on SmolLM2 (chapter 4's SFT and DPO benchmarks): the
    shared options plus --steps, --batch, --eval (default per profile, as ``sizes`` says), --lr,
    --rank, --layers (LoRA on the top N blocks) and --time-limit (seconds of training)."""
    ap = parser(doc)
    ap.add_argument("--steps", type=int, default=None, help=f"optimizer steps ({sizes})")
    ap.add_argument("--batch", type=int, default=None, help="examples (or pairs) per step (default per profile)")
    ap.add_argument("--eval", type=int, default=None, help="held-out examples (default per profile)")
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--rank", type=int, default=8)
    ap.add_argument("--layers", type=int, default=8, help="LoRA on the top N blocks")
    ap.add_argument("--time-limit", type=float, default=time_limit, help="stop training after this many seconds")
    return ap
