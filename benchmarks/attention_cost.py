"""Chapter 2 benchmark: time and peak memory of attention vs sequence length, for the course's
from-the-formula version (`course_utils.attention`, materialises the n x n weights) and PyTorch's
fused `torch.nn.functional.scaled_dot_product_attention`.

    COURSE_PROFILE=cpu flock /tmp/course-cpu.lock python benchmarks/attention_cost.py
    COURSE_PROFILE=gpu python benchmarks/attention_cost.py          # on a CUDA machine

Writes results/attention_cost_<profile>.json: per length the best and median time of each implementation,
their ratio, the peak extra memory of one call, the n^2 fit and the environment record with the date.
Memory: on CUDA the allocator's peak; on the CPU the rise of the peak resident set size (RSS) of a
fresh process that makes one call (Linux/macOS), so it includes everything the call touches.
"""
from __future__ import annotations

import resource
import subprocess
import sys
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from course_utils.attention import scaled_dot_product_attention
from course_utils import results
from course_utils.bench import time_call
from course_utils.runtime import get_device, get_profile, pick, seed_everything

ROOT = Path(__file__).resolve().parents[1]
BATCH, HEADS, D_HEAD = 1, 8, 64
CPU_THREADS = 1  # one thread: on a shared laptop/CI machine, multi-threaded timings are mostly noise


def _reset_rss_peak() -> None:
    """On Linux, reset the process's peak RSS (VmHWM) to its current RSS; elsewhere do nothing."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def _rss_peak_bytes() -> int:
    status = Path("/proc/self/status")
    if status.is_file():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * (1 if sys.platform == "darwin" else 1024)


def _calls(n: int, device: torch.device) -> dict[str, Callable[[], object]]:
    q, k, v = (torch.randn(BATCH, HEADS, n, D_HEAD, device=device) for _ in range(3))
    return {"ours": lambda: scaled_dot_product_attention(q, k, v),
            "fused": lambda: F.scaled_dot_product_attention(q, k, v)}


def peak_extra_bytes(impl: str, n: int, device: torch.device) -> int:
    """Peak memory one call adds: the CUDA allocator's peak, or on the CPU the rise of the peak RSS
    of a fresh Python process (a forked one can deadlock in OpenMP) that makes one call."""
    if device.type == "cuda":
        fn = _calls(n, device)[impl]
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        base = torch.cuda.memory_allocated(device)
        fn()
        torch.cuda.synchronize(device)
        return torch.cuda.max_memory_allocated(device) - base
    out = subprocess.run([sys.executable, __file__, "--peak", impl, str(n)], check=True,
                         capture_output=True, text=True)
    return int(out.stdout.strip().splitlines()[-1])


def _peak_child(impl: str, n: int) -> None:
    torch.set_num_threads(CPU_THREADS)
    with torch.no_grad():
        _calls(16, torch.device("cpu"))[impl]()  # load the kernels and thread pools first
        fn = _calls(n, torch.device("cpu"))[impl]
        _reset_rss_peak()
        before = _rss_peak_bytes()
        fn()
    print(_rss_peak_bytes() - before)


def fit_power(ns: list[int], ys: list[float]) -> dict[str, float]:
    """Least-squares fits y = c * n^2 (through the origin) and log y = p log n + b (free exponent p)."""
    n, y = np.asarray(ns, dtype=float), np.asarray(ys, dtype=float)
    c = float((n ** 2 @ y) / (n ** 2 @ n ** 2))
    p, b = np.polyfit(np.log(n), np.log(y), 1)
    return {"c_n2": c, "exponent": float(p), "log_intercept": float(b)}


def main() -> dict:
    profile = get_profile()
    device = get_device(profile)
    seed_everything(0)
    if device.type == "cpu":
        torch.set_num_threads(CPU_THREADS)
    lengths = pick(ci=[64, 128, 256], cpu=[128, 256, 512, 1024, 2048, 4096],
                   gpu=[256, 512, 1024, 2048, 4096, 8192, 16384])
    rows = []
    for n in lengths:
        calls = _calls(n, device)
        with torch.no_grad():
            (t_ours, med_ours), (t_fused, med_fused) = time_call(calls["ours"], device), time_call(calls["fused"], device)
            m_ours, m_fused = peak_extra_bytes("ours", n, device), peak_extra_bytes("fused", n, device)
        flops = 4 * BATCH * HEADS * n * n * D_HEAD  # two matmuls of 2*n*n*d each
        row = {"n": n, "ours_s": t_ours, "fused_s": t_fused, "ratio_ours_over_fused": t_ours / t_fused,
               "ours_median_s": med_ours, "fused_median_s": med_fused,
               "ours_peak_bytes": m_ours, "fused_peak_bytes": m_fused,
               "weights_bytes": BATCH * HEADS * n * n * 4, "matmul_flops": flops,
               "ours_gflop_per_s": flops / t_ours / 1e9}
        rows.append(row)
        print(f"n={n:6d}: ours {t_ours * 1e3:9.2f} ms, fused {t_fused * 1e3:9.2f} ms "
              f"(ratio {row['ratio_ours_over_fused']:.2f}); peak +{m_ours / 2**20:8.1f} MiB vs "
              f"+{m_fused / 2**20:8.1f} MiB", flush=True)
        del calls
    ns = [r["n"] for r in rows]
    result = {
        "benchmark": "ch2 attention cost vs sequence length",
        "shape": {"batch": BATCH, "heads": HEADS, "d_head": D_HEAD, "dtype": "float32", "mask": None},
        "implementations": {"ours": "course_utils.attention.scaled_dot_product_attention (materialises weights)",
                            "fused": "torch.nn.functional.scaled_dot_product_attention"},
        "cpu_threads": CPU_THREADS if device.type == "cpu" else None,
        "timing": "best (ours_s, fused_s) and median wall time of repeated calls after one warm-up, "
                  "no autograd",
        "memory": "CUDA allocator peak" if device.type == "cuda"
                  else "rise of the peak RSS of a fresh process making one call",
        "rows": rows,
        "fit_time_ours": fit_power(ns, [r["ours_s"] for r in rows]),
        "fit_time_fused": fit_power(ns, [r["fused_s"] for r in rows]),
    }
    out = results.save("attention_cost", result, profile)
    print(f"wrote {out}")
    return result


if __name__ == "__main__":
    if sys.argv[1:2] == ["--peak"]:
        _peak_child(sys.argv[2], int(sys.argv[3]))
    else:
        main()
