"""Runtime: which profile runs (ci / cpu / gpu), on which device, with which seed and versions.

Every notebook calls :func:`banner` once and picks its sizes with :func:`pick`, so the same
notebook runs unchanged on a CI runner, a laptop and a Colab GPU.
"""
from __future__ import annotations

import os
import platform
import random
import sys
from typing import TypeVar

import numpy as np
import torch

PROFILES = ("ci", "cpu", "gpu")
T = TypeVar("T")


def get_profile() -> str:
    """Return "ci", "cpu" or "gpu": COURSE_PROFILE wins, then CI=true -> ci, then CUDA -> gpu, else cpu."""
    forced = os.environ.get("COURSE_PROFILE", "").strip().lower()
    if forced:
        if forced not in PROFILES:
            raise ValueError(
                f"COURSE_PROFILE={forced!r} is not a profile; use one of {', '.join(PROFILES)} "
                "(or unset it to choose automatically)."
            )
        return forced
    if os.environ.get("CI", "").strip().lower() in ("1", "true", "yes"):
        return "ci"
    return "gpu" if torch.cuda.is_available() else "cpu"


def get_device(profile: str | None = None) -> torch.device:
    """The torch device for a profile: CUDA for gpu, else the CPU (ci always runs on the CPU)."""
    profile = profile or get_profile()
    if profile == "gpu":
        if not torch.cuda.is_available():
            raise RuntimeError(
                "COURSE_PROFILE=gpu but no CUDA device is visible. On Colab choose "
                "Runtime > Change runtime type > GPU, or unset COURSE_PROFILE."
            )
        return torch.device("cuda")
    return torch.device("cpu")


def pick(ci: T, cpu: T, gpu: T, profile: str | None = None) -> T:
    """Choose a value (a size, a step count) for the active profile."""
    return {"ci": ci, "cpu": cpu, "gpu": gpu}[profile or get_profile()]


def seed_everything(seed: int = 0) -> int:
    """Seed Python, NumPy and PyTorch (CPU and CUDA) so that a re-run gives the same numbers."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)
    return seed


def in_colab() -> bool:
    """True inside Google Colab."""
    return "google.colab" in sys.modules or "COLAB_RELEASE_TAG" in os.environ


def cpu_model() -> str:
    """The CPU's model name (from /proc/cpuinfo on Linux, else what ``platform`` knows)."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return cpu


def device_name(device: torch.device | None = None) -> str:
    """A human-readable name of the device: the GPU model, or the CPU model and core count."""
    device = device or get_device()
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"{cpu_model()} ({os.cpu_count()} logical cores)"


def has_native_bf16(device: torch.device | str = "cpu") -> bool:
    """Whether ``device`` computes in bf16 natively: a CUDA GPU with bf16 support, or a CPU with
    AVX512-BF16 or AMX instructions. Elsewhere (most laptop CPUs, Apple silicon, older servers)
    PyTorch emulates bf16 in fp32 and autocast only adds conversions: a MiniLM training step ran
    more than ten times *slower* in bf16 than in fp32 on an AVX2-only CPU
    (benchmarks/minilm_precision.py, results/minilm_precision_cpu.json)."""
    device = torch.device(device)
    if device.type == "cuda":   # Ampere and later; a T4 (Colab's free GPU) only emulates bf16
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported(including_emulation=False)
    if device.type != "cpu":
        return False
    probes = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(bool(getattr(torch.cpu, name, lambda: False)()) for name in probes)


def versions() -> dict[str, str]:
    """Versions of Python and the main libraries, for result files and banners."""
    out = {"python": platform.python_version(), "torch": torch.__version__}
    for name in ("transformers", "peft", "tokenizers", "numpy"):
        try:
            out[name] = __import__(name).__version__
        except ImportError:
            out[name] = "not installed"
    return out


def environment_record() -> dict[str, object]:
    """Profile, device and versions in one dict: stored with every measured result."""
    profile = get_profile()
    device = get_device(profile)
    return {"profile": profile, "device": device_name(device), "bf16_instructions": has_native_bf16(device),
            **versions()}


def banner(seed: int | None = 0) -> dict[str, object]:
    """Print which profile and device this notebook runs on, seed everything, and return the record."""
    if seed is not None:
        seed_everything(seed)
    rec = environment_record()
    others = {"ci": "tiny sizes for automated tests", "cpu": "a laptop, minutes per chapter",
              "gpu": "a CUDA GPU (Colab), the sizes behind the headline numbers"}
    print(f"profile: {rec['profile']}  ({others[str(rec['profile'])]})")
    print(f"device:  {rec['device']}; bf16 instructions: {'yes' if rec['bf16_instructions'] else 'no'}")
    print("versions: " + ", ".join(f"{k} {v}" for k, v in rec.items()
                                   if k not in ("profile", "device", "bf16_instructions")))
    if seed is not None:
        print(f"seed:    {seed}")
    return rec


def glue(name: str, value, display: bool = False):
    """Put ``value`` into the book's text where it says {glue:text}`name` (MyST-NB's glue); outside
    a book build without myst_nb (e.g. on Colab) it does nothing, and the cell's own print shows the
    value. Returns ``value``."""
    try:
        from myst_nb import glue as myst_glue
    except ImportError:
        return value
    myst_glue(name, value, display=display)
    return value
