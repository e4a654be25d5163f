"""course_utils.energy: every formula against hand-computed values, and measure() on fake counters."""
from __future__ import annotations

import csv
import math
import time
import warnings
from pathlib import Path

import pytest

from course_utils import energy as E

ROOT = Path(__file__).resolve().parents[1]
FOOTPRINTS = ROOT / "chapters" / "06_environment" / "published_footprints.csv"


# ----------------------------------------------------------------------------- formulas

def test_training_flops_is_6nd():
    assert E.training_flops(1e9, 2e10) == pytest.approx(1.2e20)       # 6 x 1e9 x 2e10
    assert E.training_flops(175e9, 300e9) == pytest.approx(3.15e23)   # GPT-3 sized: 6 x 175e9 x 300e9


def test_gpt_params_and_flops_per_token_by_hand():
    # 2 layers, d=64, d_ff=256: per layer 4*64^2 + 2*64*256 = 16384 + 32768 = 49152
    assert E.gpt_non_embedding_params(2, 64) == 98_304
    assert E.gpt_non_embedding_params(2, 64, d_ff=128) == 2 * (16384 + 2 * 64 * 128)
    # forward: 2*98304 + 2*64*65 (output layer) + 4*2*128*64 (attention) = 196608 + 8320 + 65536
    fwd = E.gpt_flops_per_token(2, 64, context_len=128, vocab_size=65, training=False)
    assert fwd == 270_464
    assert E.gpt_flops_per_token(2, 64, 128, 65) == 3 * 270_464
    no_attn = E.gpt_flops_per_token(2, 64, 128, 65, attention="none")
    assert no_attn == 3 * (196_608 + 8_320)
    assert E.gpt_flops_per_token(2, 64, 128, 65, attention="causal") == 3 * (196_608 + 8_320 + 32_768)
    # without attention and output layer, the count is exactly 6N
    assert E.gpt_flops_per_token(2, 64, 128, 1, attention="none") == pytest.approx(6 * 98_304, rel=1e-3)
    with pytest.raises(ValueError, match="attention"):
        E.gpt_flops_per_token(2, 64, 128, 65, attention=True)


def test_attention_share_grows_with_context():
    short = E.gpt_flops_per_token(12, 768, 128, 50257)
    long = E.gpt_flops_per_token(12, 768, 8192, 50257)
    assert long > 1.5 * short


def test_peak_flops_table():
    assert E.peak_flops("NVIDIA A100-SXM4-80GB", "bf16") == 312e12
    assert E.peak_flops("NVIDIA H100 80GB HBM3", "fp32") == 67e12
    assert E.peak_flops("NVIDIA H200", "bfloat16") == 989.5e12
    with pytest.warns(UserWarning, match="unknown device"):   # a slower H100 board is not given the SXM figure
        assert E.peak_flops("NVIDIA H100 PCIe", "bf16") is None
    assert E.peak_flops("Tesla V100-SXM2-16GB", "fp16") == 125e12
    assert E.peak_flops("Tesla T4", "float16") == 65e12
    assert E.peak_flops("NVIDIA L4", "tf32") == 60e12
    for acc in E.ACCELERATORS:
        assert acc.source.count("http") >= 1, f"{acc.name} has no datasheet citation"
        assert acc.peak_flop_per_s["fp32"] < max(acc.peak_flop_per_s.values())


@pytest.mark.parametrize("name,dtype", [("NVIDIA GeForce RTX 4090", "bf16"), ("NVIDIA L40S", "bf16"),
                                        ("Tesla T4", "bf16"), ("Tesla V100", "tf32")])
def test_unknown_device_or_dtype_warns_and_gives_none(name, dtype):
    with pytest.warns(UserWarning):
        assert E.peak_flops(name, dtype) is None


def test_cpu_peak_is_a_stated_estimate(monkeypatch):
    import torch

    assert E.cpu_peak_flops(2, 2.6e9, 32) == pytest.approx(1.664e11)   # 2 x 2.6e9 x 32
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cpu = E.peak_flops("cpu", "fp32")
    if cpu is not None:
        monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: True, raising=False)
        assert E.peak_flops("cpu", "bf16") == pytest.approx(2 * cpu)
        monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False, raising=False)
        monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False, raising=False)
        with pytest.warns(UserWarning, match="emulates bf16"):    # no bf16 peak without bf16 instructions
            assert E.peak_flops("cpu", "bf16") is None
    with pytest.raises(ValueError, match="clock_hz"):
        E.cpu_peak_flops(2, 2.6, 32)   # GHz instead of Hz


def test_mfu():
    assert E.mfu(1000, 6e9, 312e12) == pytest.approx(6e12 / 312e12)
    assert E.mfu(0, 6e9, 312e12) == 0
    with pytest.raises(ValueError, match="peak_flop_per_s"):
        E.mfu(1000, 6e9, None)


def test_energy_and_carbon():
    assert E.energy_kwh(100, 400) == pytest.approx(40.0)              # 100 h x 0.4 kW
    assert E.energy_kwh(100, 400, pue=1.1) == pytest.approx(44.0)
    assert E.co2e_kg(44.0, 0.5) == pytest.approx(22.0)
    assert E.co2e_kg(E.energy_kwh(1e6, 300, 1.2), 0.4) == pytest.approx(144_000.0)  # 360 MWh x 0.4


@pytest.mark.parametrize("call,arg", [
    (lambda: E.energy_kwh(-1, 400), "accelerator_hours"),
    (lambda: E.energy_kwh(10, 1e6), "power_w"),
    (lambda: E.energy_kwh(10, 400, pue=0.9), "pue"),
    (lambda: E.energy_kwh(10, float("nan")), "power_w"),
    (lambda: E.co2e_kg(10, 400), "grid_kg_per_kwh"),
    (lambda: E.co2e_kg(-5, 0.4), "energy_kwh"),
    (lambda: E.training_flops(-7e9, 1e12), "n_params"),
    (lambda: E.training_flops(7e9, "many"), "n_tokens"),
    (lambda: E.mfu(-1, 6e9, 1e14), "tokens_per_s"),
])
def test_bad_input_names_the_argument(call, arg):
    with pytest.raises(ValueError, match=arg):
        call()


# ----------------------------------------------------------------------------- measure()

def fake_rapl(root: Path, energy_uj: int, max_uj: int = 1_000_000) -> Path:
    zone = root / "intel-rapl:0"
    zone.mkdir(parents=True, exist_ok=True)
    (zone / "name").write_text("package-0\n")
    (zone / "energy_uj").write_text(f"{energy_uj}\n")
    (zone / "max_energy_range_uj").write_text(f"{max_uj}\n")
    sub = root / "intel-rapl:0:0"            # a sub-zone (core): must not be counted twice
    sub.mkdir(exist_ok=True)
    (sub / "energy_uj").write_text("123\n")
    return zone


def test_measure_rapl(tmp_path):
    zone = fake_rapl(tmp_path, 1_000)
    assert E.rapl_zones(tmp_path) == [zone]
    with E.measure("rapl", rapl_root=tmp_path, poll_s=60) as m:
        (zone / "energy_uj").write_text("6000\n")
        time.sleep(0.01)
    assert m.method == "rapl" and "package-0" in m.detail
    assert m.joules == pytest.approx(0.005)                    # 5000 uJ
    assert m.watts == pytest.approx(0.005 / m.seconds)
    assert m.result.as_dict()["kwh"] == pytest.approx(0.005 / 3.6e6)


def test_measure_rapl_wraparound(tmp_path):
    zone = fake_rapl(tmp_path, 999_000, max_uj=1_000_000)
    with E.measure("rapl", rapl_root=tmp_path, poll_s=60) as m:
        (zone / "energy_uj").write_text("500\n")              # wrapped: 1000 + 500 uJ
    assert m.joules == pytest.approx(1_500 / 1e6)
    # two wraps inside one run are caught by polling in between
    (zone / "energy_uj").write_text("900000\n")
    with E.measure("rapl", rapl_root=tmp_path, poll_s=60) as m2:
        (zone / "energy_uj").write_text("100000\n")           # +200000 (wrap)
        m2.poll()
        (zone / "energy_uj").write_text("50000\n")            # +950000 (wrap again)
    assert m2.joules == pytest.approx((200_000 + 950_000) / 1e6)


def test_measure_decorator(tmp_path):
    zone = fake_rapl(tmp_path, 0)

    @E.measure("rapl", rapl_root=tmp_path, poll_s=60)
    def work(x):
        (zone / "energy_uj").write_text(str(int((zone / "energy_uj").read_text()) + 2_000_000))
        return x * 2

    assert work(21) == 42
    assert work.last_measurement.joules == pytest.approx(2.0)
    assert work.last_measurement.method == "rapl"


def test_measure_estimate_fallback(tmp_path, monkeypatch):
    monkeypatch.setattr(E.measure, "_start_nvml", lambda self: False)
    with E.measure(rapl_root=tmp_path / "none", tdp_w=10, n_cpus=1) as m:   # auto -> no counters
        t0 = time.process_time()
        while time.process_time() - t0 < 0.2:
            pass
    assert m.method == "estimate" and "ESTIMATE" in m.detail and "10 W" in m.detail
    assert 0 < m.joules <= 10 * m.seconds + 1e-9             # never above TDP x time
    assert m.watts > 2                                         # a busy loop keeps a CPU mostly busy


def test_measure_nvml_with_a_fake_library(monkeypatch):
    import pynvml

    readings = iter([1_000, 4_000])                            # millijoules
    monkeypatch.setattr(pynvml, "nvmlInit", lambda: None)
    monkeypatch.setattr(pynvml, "nvmlDeviceGetCount", lambda: 1)
    monkeypatch.setattr(pynvml, "nvmlDeviceGetHandleByIndex", lambda i: "gpu0")
    monkeypatch.setattr(pynvml, "nvmlDeviceGetName", lambda h: "Fake H100")
    monkeypatch.setattr(pynvml, "nvmlDeviceGetTotalEnergyConsumption", lambda h: next(readings))
    with E.measure() as m:
        pass
    assert m.method == "nvml" and "Fake H100" in m.detail
    assert m.joules == pytest.approx(3.0)


def test_measure_rejects_unavailable_method(tmp_path):
    with pytest.raises(RuntimeError, match="rapl"):
        with E.measure("rapl", rapl_root=tmp_path):
            pass
    with pytest.raises(ValueError, match="method"):
        E.measure("codecarbon")


# ----------------------------------------------------------------------------- published table

def _rows():
    with open(FOOTPRINTS, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _num(x: str) -> float | None:
    return float(x) if x.strip() else None


@pytest.mark.skipif(not FOOTPRINTS.is_file(), reason="published_footprints.csv not written yet")
def test_published_table_is_complete_and_cited():
    rows = _rows()
    assert list(rows[0]) == ["model", "year", "hardware", "accelerator_hours", "power_w", "pue",
                             "grid_kg_per_kwh", "energy_mwh", "co2e_t", "source"]
    assert len(rows) >= 12
    for r in rows:
        assert len(r["source"]) > 40 and ("arXiv" in r["source"] or "http" in r["source"]), r["model"]
        assert r["energy_mwh"] or r["co2e_t"] or r["accelerator_hours"], r["model"]


@pytest.mark.skipif(not FOOTPRINTS.is_file(), reason="published_footprints.csv not written yet")
def test_estimator_reproduces_rows_with_inputs_within_25_percent():
    """Rows whose hours, power and PUE are given: estimated energy within +-25% of the reported one,
    and with a grid intensity, estimated CO2e within +-25% too (misses are explained in notebook 03)."""
    checked = 0
    for r in _rows():
        h, p, pue, g = (_num(r[k]) for k in ("accelerator_hours", "power_w", "pue", "grid_kg_per_kwh"))
        if h is None or p is None:
            continue
        est_mwh = E.energy_kwh(h, p, pue or 1.0) / 1000
        if r["energy_mwh"]:
            assert est_mwh == pytest.approx(float(r["energy_mwh"]), rel=0.25), r["model"]
            checked += 1
        if g is not None and r["co2e_t"]:
            assert E.co2e_kg(est_mwh * 1000, g) / 1000 == pytest.approx(float(r["co2e_t"]), rel=0.25), r["model"]
    assert checked >= 3
    assert math.isfinite(checked)
