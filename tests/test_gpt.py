"""models.GPT: shapes, fused attention == the plain formula, KV cache == full recompute, tying."""
from __future__ import annotations

import math

import pytest
import torch

from course_utils.models import GPT, GPTConfig

TINY = dict(vocab_size=37, block_size=16, n_layer=2, n_head=2, n_embd=32)


def test_logits_shape_and_init_loss_near_ln_vocab():
    torch.manual_seed(0)
    model = GPT(GPTConfig(**TINY))
    x = torch.randint(0, 37, (4, 16))
    y = torch.randint(0, 37, (4, 16))
    with torch.no_grad():
        logits = model(x)
    assert logits.shape == (4, 16, 37)
    loss = torch.nn.functional.cross_entropy(logits.view(-1, 37), y.view(-1))
    assert abs(float(loss) - math.log(37)) < 0.1


def test_fused_attention_agrees_with_plain_attention():
    torch.manual_seed(0)
    fused = GPT(GPTConfig(**TINY)).eval()
    plain = GPT(GPTConfig(**TINY, attention="plain")).eval()
    plain.load_state_dict(fused.state_dict())
    x = torch.randint(0, 37, (3, 16))
    torch.testing.assert_close(fused(x), plain(x), atol=1e-5, rtol=1e-4)


def test_torch_sdpa_agrees_with_chapter2_attention():
    attention = pytest.importorskip("course_utils.attention")
    torch.manual_seed(0)
    q, k, v = (torch.randn(2, 3, 7, 8) for _ in range(3))
    mask = torch.ones(7, 7, dtype=torch.bool).tril()      # True = may attend
    out, weights = attention.scaled_dot_product_attention(q, k, v, mask)
    fused = torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
    torch.testing.assert_close(out, fused, atol=1e-5, rtol=1e-4)
    assert torch.all(weights.triu(1) == 0)


def test_kv_cache_gives_the_same_logits_as_recomputing():
    torch.manual_seed(0)
    model = GPT(GPTConfig(**TINY)).eval()
    x = torch.randint(0, 37, (2, 12))
    full = model(x)
    logits, cache = model(x[:, :5], use_cache=True)
    steps = [logits]
    for t in range(5, 12, 3):            # feed several tokens at a time after the cache too
        logits, cache = model(x[:, t:t + 3], past=cache, use_cache=True)
        steps.append(logits)
    torch.testing.assert_close(torch.cat(steps, dim=1), full, atol=1e-5, rtol=1e-4)
    assert cache[0][0].shape == (2, 2, 12, 16)


def test_bf16_autocast_on_cpu_runs_attention_in_fp32(monkeypatch):
    """Under CPU bf16 autocast the linear layers run in bf16 but attention gets fp32 inputs
    (PyTorch's CPU attention kernel is much slower in bf16), and the output stays close to fp32."""
    torch.manual_seed(0)
    model = GPT(GPTConfig(**TINY)).eval()
    x = torch.randint(0, 37, (2, 12))
    seen = []
    real = torch.nn.functional.scaled_dot_product_attention

    def spy(q, k, v, **kw):
        seen.append((q.dtype, torch.is_autocast_enabled("cpu")))
        return real(q, k, v, **kw)

    monkeypatch.setattr(torch.nn.functional, "scaled_dot_product_attention", spy)
    ref = model(x)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        low = model(x)
        _, cache = model(x[:, :6], use_cache=True)              # the cached paths too
        model(x[:, 6:9], past=cache, use_cache=True)
    assert seen[0] == (torch.float32, False)
    assert seen[TINY["n_layer"]:] == [(torch.float32, False)] * (3 * TINY["n_layer"])
    assert low.dtype == torch.bfloat16
    torch.testing.assert_close(low.float(), ref, atol=0.05, rtol=0.05)


def test_weight_tying_and_param_count():
    tied, untied = GPT(GPTConfig(**TINY)), GPT(GPTConfig(**TINY, tie_weights=False))
    assert tied.head.weight is tied.tok_emb.weight
    assert untied.num_params() - tied.num_params() == 37 * 32
    assert tied.num_params(non_embedding=True) == tied.num_params() - 37 * 32 - 16 * 32


def test_bad_config_and_too_long_input_raise():
    with pytest.raises(ValueError, match="divisible"):
        GPTConfig(n_embd=30, n_head=4)
    with pytest.raises(ValueError, match="block_size"):
        GPT(GPTConfig(**TINY))(torch.zeros(1, 17, dtype=torch.long))


def test_a_few_steps_of_training_reduce_the_loss():
    from course_utils.train import TrainConfig, train

    torch.manual_seed(0)
    model = GPT(GPTConfig(**TINY))
    x = torch.randint(0, 37, (8, 17))
    batch = (x[:, :-1], x[:, 1:])
    hist = train(model, lambda step: batch, TrainConfig(max_steps=15, lr=1e-2, progress=False))
    assert hist.train_loss[-1] < hist.train_loss[0] - 0.5
