"""Energy and carbon of training runs: FLOPs (6ND), peak FLOP/s, MFU, kWh, CO2e, and :func:`measure`.

Units are in every name: ``_flops`` (floating-point operations), ``_flop_per_s``, ``_w`` (watts),
``_kwh``, ``_kg``. :func:`measure` reads a real energy counter when one exists (NVML on NVIDIA
GPUs, RAPL under /sys/class/powercap on CPUs) and otherwise returns a clearly labelled estimate.
No function here touches the network.
"""
from __future__ import annotations

import functools
import math
import os
import re
import resource
import threading
import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

# ----------------------------------------------------------------------------- validation


def _check(name: str, value: float, low: float, high: float, hint: str = "") -> float:
    """Return ``value`` as float, or raise ValueError naming the argument when outside [low, high]."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, not {value!r}") from None
    if not math.isfinite(value) or not low <= value <= high:
        raise ValueError(f"{name}={value!r} is outside the plausible range [{low:g}, {high:g}]. {hint}".strip())
    return value


# ----------------------------------------------------------------------------- counting FLOPs


def training_flops(n_params: float, n_tokens: float) -> float:
    """Training compute in FLOPs, C = 6·N·D (2 for the forward, 4 for the backward pass per parameter and token)."""
    n = _check("n_params", n_params, 1, 1e15, "Pass the parameter count, e.g. 7e9 for a 7B model.")
    d = _check("n_tokens", n_tokens, 1, 1e16, "Pass the number of training tokens, e.g. 2e12.")
    return 6.0 * n * d


def gpt_non_embedding_params(n_layers: int, d_model: int, d_ff: int | None = None) -> int:
    """Weights of the attention (4·d²) and MLP (2·d·d_ff) matrices of a GPT, biases and norms left out."""
    d_ff = 4 * d_model if d_ff is None else d_ff
    for name, v in (("n_layers", n_layers), ("d_model", d_model), ("d_ff", d_ff)):
        _check(name, v, 1, 1e6)
    return n_layers * (4 * d_model * d_model + 2 * d_model * d_ff)


def gpt_flops_per_token(n_layers: int, d_model: int, context_len: int, vocab_size: int,
                        d_ff: int | None = None, training: bool = True, attention: str = "full") -> float:
    """Matmul FLOPs per token of a decoder-only GPT, attention and output layer included.

    Forward: 2·N (weight matmuls, N = :func:`gpt_non_embedding_params`) + 2·d·V (output layer)
    + attention: ``"full"`` 4·L·T·d (QKᵀ and AV over the whole T×T matrix, what a plain matmul
    computes), ``"causal"`` 2·L·T·d (only the unmasked half, as Kaplan et al. 2020 count), ``"none"``.
    Training multiplies the forward by 3 (the backward pass costs twice the forward).
    """
    _check("context_len", context_len, 1, 1e8)
    _check("vocab_size", vocab_size, 1, 1e8)
    per_layer = {"full": 4.0, "causal": 2.0, "none": 0.0}
    if attention not in per_layer:
        raise ValueError(f"attention must be 'full', 'causal' or 'none', not {attention!r}")
    n = gpt_non_embedding_params(n_layers, d_model, d_ff)
    forward = 2.0 * n + 2.0 * d_model * vocab_size + per_layer[attention] * n_layers * context_len * d_model
    return 3.0 * forward if training else forward


# ----------------------------------------------------------------------------- peak FLOP/s


@dataclass(frozen=True)
class Accelerator:
    """Dense (no 2:4 sparsity) peak FLOP/s per dtype and the board power of one accelerator."""

    name: str
    pattern: str                       # regex matched against the device name
    peak_flop_per_s: dict[str, float]  # dtype -> FLOP/s; a dtype missing here is not supported
    tdp_w: float
    source: str


T = 1e12
ACCELERATORS: list[Accelerator] = [
    Accelerator("NVIDIA V100 SXM2", r"V100", {"fp32": 15.7 * T, "fp16": 125 * T}, 300,
                "NVIDIA Tesla V100 GPU datasheet (2020), https://images.nvidia.com/content/technologies/volta/pdf/"
                "volta-v100-datasheet-update-us-1165301-r5.pdf; no bf16/tf32 support (Volta)"),
    Accelerator("NVIDIA A100 SXM4", r"A100",
                {"fp32": 19.5 * T, "tf32": 156 * T, "fp16": 312 * T, "bf16": 312 * T}, 400,
                "NVIDIA A100 Tensor Core GPU datasheet (2021), https://www.nvidia.com/content/dam/en-zz/Solutions/"
                "Data-Center/a100/pdf/nvidia-a100-datasheet-us-nvidia-1758950-r4-web.pdf"),
    Accelerator("NVIDIA H100 SXM5", r"H100(?!.*(PCIe|NVL))",   # the PCIe and NVL boards are slower: not these figures
                {"fp32": 67 * T, "tf32": 494.5 * T, "fp16": 989.5 * T, "bf16": 989.5 * T}, 700,
                "NVIDIA H100 Tensor Core GPU datasheet (2023), https://resources.nvidia.com/en-us-tensor-core/"
                "nvidia-tensor-core-gpu-datasheet; tensor figures there are with sparsity, halved here"),
    Accelerator("NVIDIA H200 SXM", r"H200",
                {"fp32": 67 * T, "tf32": 494.5 * T, "fp16": 989.5 * T, "bf16": 989.5 * T}, 700,
                "NVIDIA H200 Tensor Core GPU datasheet (2024), https://resources.nvidia.com/en-us-data-center-overview/"
                "h200-datasheet; same GH100 compute as H100 SXM; sparsity figures halved here"),
    Accelerator("NVIDIA L4", r"\bL4\b",
                {"fp32": 30.3 * T, "tf32": 60 * T, "fp16": 121 * T, "bf16": 121 * T}, 72,
                "NVIDIA L4 Tensor Core GPU datasheet (2023), https://resources.nvidia.com/en-us-data-center-overview/"
                "l4-gpu-datasheet; tensor figures there are with sparsity, halved here"),
    Accelerator("NVIDIA T4", r"\bT4\b", {"fp32": 8.1 * T, "fp16": 65 * T}, 70,
                "NVIDIA T4 Tensor Core GPU datasheet (2019), https://www.nvidia.com/content/dam/en-zz/Solutions/"
                "Data-Center/tesla-t4/t4-tensor-core-datasheet-951643.pdf; fp16 = mixed FP16/FP32; no bf16/tf32 (Turing)"),
]

# A CPU core with two 256-bit fused multiply-add units does 2 units x 8 fp32 lanes x 2 FLOPs = 32 FLOPs
# per cycle (AVX2 / AVX-512 on Zen 4); bf16 dot-product instructions (AVX512_BF16, AMX aside) double it.
CPU_FLOPS_PER_CYCLE = {"fp32": 32.0, "bf16": 64.0}


def cpu_peak_flops(n_cores: int, clock_hz: float, flops_per_cycle: float) -> float:
    """A stated estimate of CPU peak FLOP/s: cores x clock x FLOPs per cycle per core."""
    _check("n_cores", n_cores, 1, 1e5)
    _check("clock_hz", clock_hz, 1e8, 1e10, "Pass the clock in hertz, e.g. 2.6e9.")
    _check("flops_per_cycle", flops_per_cycle, 1, 1024)
    return n_cores * clock_hz * flops_per_cycle


def _cpu_clock_hz(cpuinfo: Path = Path("/proc/cpuinfo")) -> float | None:
    try:
        m = re.search(r"^cpu MHz\s*:\s*([\d.]+)", cpuinfo.read_text(), re.M)
    except OSError:
        return None
    return float(m.group(1)) * 1e6 if m else None


def peak_flops(device_name: str, dtype: str = "bf16") -> float | None:
    """Dense peak FLOP/s of a device for a dtype, from :data:`ACCELERATORS` (or a CPU estimate).

    ``device_name`` is e.g. ``torch.cuda.get_device_name()`` or ``"cpu"``. An unknown device or an
    unsupported dtype gives None and a warning: never a silent default.
    """
    dtype = dtype.lower().replace("float", "fp").replace("bfp16", "bf16")
    dtype = {"fp": "fp32", "half": "fp16", "bfloat16": "bf16"}.get(dtype, dtype)
    if device_name.strip().lower() == "cpu":
        clock = _cpu_clock_hz()
        if clock is None or dtype not in CPU_FLOPS_PER_CYCLE:
            warnings.warn(f"no CPU peak estimate for dtype {dtype!r} (clock known: {clock is not None})", stacklevel=2)
            return None
        from course_utils.runtime import has_native_bf16

        if dtype == "bf16" and not has_native_bf16("cpu"):
            warnings.warn("this CPU has no bf16 instructions (AVX512-BF16/AMX): it emulates bf16, so there "
                          "is no bf16 peak; use the fp32 peak", stacklevel=2)
            return None
        return cpu_peak_flops(os.cpu_count() or 1, clock, CPU_FLOPS_PER_CYCLE[dtype])
    for acc in ACCELERATORS:
        if re.search(acc.pattern, device_name, re.I):
            value = acc.peak_flop_per_s.get(dtype)
            if value is None:
                warnings.warn(f"{acc.name} has no {dtype} peak in its datasheet; returning None", stacklevel=2)
            return value
    warnings.warn(f"unknown device {device_name!r}: no peak FLOP/s (known: "
                  f"{', '.join(a.name for a in ACCELERATORS)}, cpu); returning None", stacklevel=2)
    return None


def mfu(tokens_per_s: float, flops_per_token: float, peak_flop_per_s: float | None) -> float:
    """Model FLOPs utilisation: achieved FLOP/s (tokens/s x FLOPs/token) over the peak FLOP/s."""
    if peak_flop_per_s is None:
        raise ValueError("peak_flop_per_s is None (unknown device or dtype): pass the datasheet figure yourself.")
    _check("tokens_per_s", tokens_per_s, 0, 1e12)
    _check("flops_per_token", flops_per_token, 1, 1e16)
    _check("peak_flop_per_s", peak_flop_per_s, 1e6, 1e19, "Pass FLOP/s, e.g. 312e12 for an A100 in bf16.")
    return tokens_per_s * flops_per_token / peak_flop_per_s


# ----------------------------------------------------------------------------- energy and carbon


def energy_kwh(accelerator_hours: float, power_w: float, pue: float = 1.0) -> float:
    """Facility energy in kWh: accelerator-hours x average power per accelerator x PUE."""
    h = _check("accelerator_hours", accelerator_hours, 0, 1e9, "Pass device-hours (GPUs x hours).")
    p = _check("power_w", power_w, 0, 5000, "Pass the average power of ONE accelerator in watts (e.g. 400).")
    u = _check("pue", pue, 1.0, 3.0, "PUE is facility energy / IT energy, 1.0 at best (typical 1.1-1.6).")
    return h * p * u / 1000.0


def co2e_kg(energy_kwh: float, grid_kg_per_kwh: float) -> float:
    """Emissions in kg CO2e: energy (kWh) x grid carbon intensity (kg CO2e per kWh)."""
    e = _check("energy_kwh", energy_kwh, 0, 1e12)
    g = _check("grid_kg_per_kwh", grid_kg_per_kwh, 0, 2.0,
               "Pass kg per kWh (e.g. 0.4), not g per kWh (400): even coal is about 1 kg/kWh.")
    return e * g


# ----------------------------------------------------------------------------- measuring

POWERCAP = Path("/sys/class/powercap")
# Stated fallback when no counter is readable: 4 W per logical CPU, the default codecarbon 3.x uses
# for an unknown CPU (codecarbon/core/cpu.py, DEFAULT_POWER_PER_CORE). An assumption, not a measurement.
DEFAULT_W_PER_CPU = 4.0


@dataclass
class Measurement:
    """Energy of a block of code: joules, seconds, average watts, and how it was obtained."""

    joules: float = 0.0
    seconds: float = 0.0
    method: str = ""          # "nvml", "rapl" or "estimate"
    detail: str = ""          # which counters / what assumption

    @property
    def watts(self) -> float:
        """Average power over the measured interval (W)."""
        return self.joules / self.seconds if self.seconds > 0 else 0.0

    @property
    def kwh(self) -> float:
        """Energy in kWh."""
        return self.joules / 3.6e6

    def as_dict(self) -> dict[str, Any]:
        """Plain dict for result JSON files."""
        return {**asdict(self), "watts": self.watts, "kwh": self.kwh}


def rapl_zones(root: Path = POWERCAP) -> list[Path]:
    """Readable top-level RAPL package zones (``intel-rapl:N``; AMD uses the same interface)."""
    zones = []
    for z in sorted(root.glob("*rapl:[0-9]*")) if root.is_dir() else []:
        if z.name.count(":") == 1 and os.access(z / "energy_uj", os.R_OK):
            try:
                int((z / "energy_uj").read_text())
                zones.append(z)
            except (OSError, ValueError):
                continue
    return zones


class measure:  # noqa: N801 (used like a function: `with measure() as m`, `@measure()`)
    """Measure energy of a ``with`` block or a decorated function; the result fills this object.

    ``method="auto"`` tries NVML (all visible NVIDIA GPUs), then RAPL, then the estimate
    ``tdp_w x CPU utilisation of this process`` (utilisation = process CPU time / wall time / CPUs).
    RAPL counters are polled every ``poll_s`` seconds in a thread so wrap-arounds are never missed.
    """

    def __init__(self, method: str = "auto", *, rapl_root: Path | str = POWERCAP, tdp_w: float | None = None,
                 poll_s: float = 5.0, n_cpus: int | None = None):
        if method not in ("auto", "nvml", "rapl", "estimate"):
            raise ValueError(f"method must be 'auto', 'nvml', 'rapl' or 'estimate', not {method!r}")
        self.requested, self.rapl_root, self.poll_s = method, Path(rapl_root), poll_s
        self.n_cpus = n_cpus or os.cpu_count() or 1
        self.tdp_w = _check("tdp_w", tdp_w, 0.1, 5000) if tdp_w is not None else DEFAULT_W_PER_CPU * self.n_cpus
        self.result: Measurement | None = None
        self.method = ""
        self._lock = threading.Lock()

    # --- counters
    def _start_nvml(self) -> bool:
        try:
            import pynvml

            pynvml.nvmlInit()
            n = pynvml.nvmlDeviceGetCount()
            self._nv = [pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(n)]
            self._nv0 = [pynvml.nvmlDeviceGetTotalEnergyConsumption(h) for h in self._nv]  # millijoules
            self._detail = f"NVML total-energy counter of {n} GPU(s): " + ", ".join(
                str(pynvml.nvmlDeviceGetName(h)) for h in self._nv)
            return n > 0
        except Exception:  # no driver, no GPU, or a GPU without the counter (pre-Volta)
            return False

    def _start_rapl(self) -> bool:
        self._zones = rapl_zones(self.rapl_root)
        if not self._zones:
            return False
        self._max = []
        for z in self._zones:
            try:
                self._max.append(int((z / "max_energy_range_uj").read_text()))
            except (OSError, ValueError):
                self._max.append(2 ** 32)
        self._last = [self._read(z) for z in self._zones]
        self._uj = 0
        names = [(z / "name").read_text().strip() if (z / "name").is_file() else z.name for z in self._zones]
        self._detail = f"RAPL energy_uj of {', '.join(names)} under {self.rapl_root} (CPU package only, not DRAM/GPU)"
        return True

    @staticmethod
    def _read(zone: Path) -> int:
        return int((zone / "energy_uj").read_text())

    def poll(self) -> None:
        """Add the RAPL energy since the last poll, handling counter wrap-around (called by the thread)."""
        if self.method != "rapl":
            return
        with self._lock:
            for i, z in enumerate(self._zones):
                now = self._read(z)
                delta = now - self._last[i]
                if delta < 0:                       # the counter wrapped past max_energy_range_uj
                    delta += self._max[i]
                self._uj += delta
                self._last[i] = now

    def _cpu_seconds(self) -> float:
        r, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        return r.ru_utime + r.ru_stime + c.ru_utime + c.ru_stime

    # --- context manager
    def __enter__(self) -> measure:
        order = ["nvml", "rapl", "estimate"] if self.requested == "auto" else [self.requested]
        self.method = ""
        for m in order:
            if m == "nvml" and self._start_nvml() or m == "rapl" and self._start_rapl() or m == "estimate":
                self.method = m
                break
        if not self.method:
            raise RuntimeError(f"method={self.requested!r} is not available here: no readable counter "
                               "(use method='auto' to fall back to an estimate)")
        self._cpu0, self._t0 = self._cpu_seconds(), time.perf_counter()
        self._stop = threading.Event()
        if self.method == "rapl":
            self._thread = threading.Thread(target=self._loop, daemon=True)
            self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.wait(self.poll_s):
            self.poll()

    def __exit__(self, *exc: object) -> None:
        seconds = time.perf_counter() - self._t0
        if self.method == "nvml":
            import pynvml

            mj = sum(pynvml.nvmlDeviceGetTotalEnergyConsumption(h) - s for h, s in zip(self._nv, self._nv0))
            joules, detail = mj / 1000.0, self._detail
        elif self.method == "rapl":
            self._stop.set()
            self._thread.join()
            self.poll()
            joules, detail = self._uj / 1e6, self._detail
        else:
            util = min(1.0, (self._cpu_seconds() - self._cpu0) / max(seconds, 1e-9) / self.n_cpus)
            joules = self.tdp_w * util * seconds
            detail = (f"ESTIMATE, not measured: {self.tdp_w:g} W stated TDP x CPU utilisation {util:.2f} "
                      f"(process CPU time / wall time / {self.n_cpus} CPUs)")
        self.result = Measurement(joules, seconds, self.method, detail)

    # --- decorator
    def __call__(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """Decorate ``fn``: each call is measured; the last Measurement is ``wrapper.last_measurement``."""
        settings = dict(method=self.requested, rapl_root=self.rapl_root, tdp_w=self.tdp_w,
                        poll_s=self.poll_s, n_cpus=self.n_cpus)

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with measure(**settings) as m:
                out = fn(*args, **kwargs)
            wrapper.last_measurement = m.result  # type: ignore[attr-defined]
            return out

        wrapper.last_measurement = None  # type: ignore[attr-defined]
        return wrapper

    # --- convenient access to the result
    def __getattr__(self, name: str) -> Any:
        if name in ("joules", "seconds", "watts", "kwh", "detail", "as_dict"):
            res = self.__dict__.get("result")
            if res is None:
                raise AttributeError(f"{name}: the measurement is not finished (leave the `with` block first)")
            return getattr(res, name)
        raise AttributeError(name)


# The carbon calculator for the web page lives in course_utils.calculator; importable from here too.
from course_utils.calculator import CALCULATOR_CONTROLS, CALCULATOR_JS, calculator_html, footprint_text  # noqa: E402,F401 - re-exported
