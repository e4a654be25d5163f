"""course_utils.attention against PyTorch's own kernels, and the chapter-2 notebook's from-scratch code."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from course_utils.attention import (MultiHeadAttention, apply_rope, causal_mask, merge_heads,
                                    padding_mask, scaled_dot_product_attention,
                                    sinusoidal_positional_encoding, split_heads)
from nbcells import lesson

ROOT = Path(__file__).resolve().parents[1]
TOL = {torch.float64: 1e-10, torch.float32: 1e-5}


def random_qkv(dtype, seed, batch=2, heads=3, n_q=5, n_k=7, d_k=8, d_v=4):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(batch, heads, n_q, d_k, generator=g, dtype=dtype),
            torch.randn(batch, heads, n_k, d_k, generator=g, dtype=dtype),
            torch.randn(batch, heads, n_k, d_v, generator=g, dtype=dtype))


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("masking", ["none", "causal", "padding", "both"])
def test_equals_torch_sdpa(dtype, seed, masking):
    g = torch.Generator().manual_seed(100 + seed)
    batch, heads = (int(x) for x in torch.randint(1, 4, (2,), generator=g))
    n = int(torch.randint(1, 12, (1,), generator=g))
    d_k, d_v = (int(x) for x in torch.randint(1, 33, (2,), generator=g))
    q, k, v = random_qkv(dtype, seed, batch, heads, n, n, d_k, d_v)
    lengths = torch.randint(1, n + 1, (batch,), generator=g)  # >= 1 token: no fully masked row here
    mask = {"none": None, "causal": causal_mask(n), "padding": padding_mask(lengths, n),
            "both": causal_mask(n) & padding_mask(lengths, n)}[masking]
    out, w = scaled_dot_product_attention(q, k, v, mask)
    ref = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    assert out.shape == ref.shape == (batch, heads, n, d_v) and out.dtype == dtype
    assert (out - ref).abs().max().item() <= TOL[dtype]
    torch.testing.assert_close(w.sum(-1), torch.ones_like(w.sum(-1)), atol=TOL[dtype], rtol=0)
    if mask is not None:
        assert (w[~mask.expand_as(w)] == 0).all()


def test_causal_matches_is_causal_and_rectangular_shapes():
    q, k, v = random_qkv(torch.float64, 1, n_q=6, n_k=6)
    out, _ = scaled_dot_product_attention(q, k, v, causal_mask(6))
    ref = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    assert (out - ref).abs().max().item() <= 1e-10
    q, k, v = random_qkv(torch.float64, 2, n_q=3, n_k=9)  # cross-attention: n_q != n_k
    out, w = scaled_dot_product_attention(q, k, v)
    assert w.shape == (2, 3, 3, 9)
    assert (out - F.scaled_dot_product_attention(q, k, v)).abs().max().item() <= 1e-10


def test_masks():
    m = causal_mask(4)
    assert m.dtype == torch.bool and m.tolist()[1] == [True, True, False, False]
    p = padding_mask([3, 1], max_len=4)
    assert p.shape == (2, 1, 1, 4) and p[:, 0, 0].tolist() == [[True] * 3 + [False], [True] + [False] * 3]
    hf = padding_mask(torch.tensor([[1, 1, 1, 0], [1, 0, 0, 0]]))
    assert torch.equal(hf, p)
    assert padding_mask([2, 3]).shape == (2, 1, 1, 3)


def test_fully_masked_row_gives_zeros_not_nan():
    q, k, v = random_qkv(torch.float64, 3, batch=2, heads=2, n_q=4, n_k=4)
    q.requires_grad_(True)
    mask = padding_mask([4, 0], max_len=4)  # the second sequence has no real token at all
    out, w = scaled_dot_product_attention(q, k, v, mask)
    assert not out.isnan().any() and not w.isnan().any()
    assert (out[1] == 0).all() and (w[1] == 0).all()
    assert torch.allclose(w[0].sum(-1), torch.ones(2, 4, dtype=torch.float64))
    out.sum().backward()
    assert torch.isfinite(q.grad).all() and (q.grad[1] == 0).all()


@pytest.mark.parametrize("bad, message", [
    (lambda q, k, v: (q, k[..., :-1], v, None), "same last dimension"),
    (lambda q, k, v: (q, k, v[..., :-1, :], None), "k and v"),
    (lambda q, k, v: (q, k.float(), v, None), "dtype"),
    (lambda q, k, v: (q.long(), k.long(), v.long(), None), "floating-point"),
    (lambda q, k, v: (q[:1], k, v, None), "batch dimensions"),
    (lambda q, k, v: (q[0, 0, 0], k, v, None), "seq_len"),
    (lambda q, k, v: (q, k, v, torch.ones(5, 7)), "boolean"),
    (lambda q, k, v: (q, k, v, causal_mask(3)), "broadcast"),
])
def test_clear_value_errors(bad, message):
    q, k, v = random_qkv(torch.float64, 4)
    with pytest.raises(ValueError, match=message):
        scaled_dot_product_attention(*bad(q, k, v))


def test_helper_value_errors():
    for call in (lambda: causal_mask(0), lambda: padding_mask([3], max_len=2),
                 lambda: padding_mask(torch.tensor([[1, 2]])), lambda: padding_mask([1.5]),
                 lambda: split_heads(torch.zeros(1, 2, 10), 3), lambda: MultiHeadAttention(10, 3),
                 lambda: sinusoidal_positional_encoding(4, 5), lambda: apply_rope(torch.zeros(3, 5))):
        with pytest.raises(ValueError):
            call()


def test_split_merge_roundtrip():
    x = torch.randn(2, 5, 12)
    h = split_heads(x, 4)
    assert h.shape == (2, 4, 5, 3)
    assert torch.equal(h[:, 1], x[..., 3:6])  # head 1 owns features 3..5
    assert torch.equal(merge_heads(h), x)


@pytest.mark.parametrize("masking", ["none", "causal", "padding"])
def test_multihead_equals_torch(masking):
    torch.manual_seed(0)
    d, heads, n = 16, 4, 6
    ref = torch.nn.MultiheadAttention(d, heads, batch_first=True).double().eval()
    ours = MultiHeadAttention(d, heads).double().eval().copy_from_torch(ref)
    x = torch.randn(3, n, d, dtype=torch.float64)
    lengths = torch.tensor([6, 4, 1])
    kwargs, mask = {}, None
    if masking == "causal":
        mask = causal_mask(n)
        kwargs["attn_mask"] = ~mask                    # PyTorch: True = NOT allowed
    elif masking == "padding":
        mask = padding_mask(lengths, n)
        kwargs["key_padding_mask"] = ~mask[:, 0, 0]    # PyTorch: True = padding
    out, w = ours(x, mask=mask)
    ref_out, ref_w = ref(x, x, x, need_weights=True, average_attn_weights=False, **kwargs)
    assert out.shape == (3, n, d) and w.shape == (3, heads, n, n)
    assert (out - ref_out).abs().max().item() <= 1e-10
    assert (w - ref_w).abs().max().item() <= 1e-10


def test_multihead_cross_attention_and_copy_checks():
    mha = MultiHeadAttention(8, 2)
    out, w = mha(torch.randn(1, 3, 8), torch.randn(1, 5, 8))
    assert out.shape == (1, 3, 8) and w.shape == (1, 2, 3, 5)
    with pytest.raises(ValueError):
        mha.copy_from_torch(torch.nn.MultiheadAttention(8, 4))


def test_sinusoidal_encoding():
    pe = sinusoidal_positional_encoding(50, 16)
    assert pe.shape == (50, 16)
    assert torch.allclose(pe[0], torch.tensor([0.0, 1.0] * 8))
    assert torch.allclose(pe[:, 0::2] ** 2 + pe[:, 1::2] ** 2, torch.ones(50, 8))
    p, i = 7, 3  # one entry written out: sin(p / 10000^(2i/d))
    assert abs(pe[p, 2 * i].item() - torch.sin(torch.tensor(p / 10000 ** (2 * i / 16))).item()) < 1e-6
    pe64 = sinusoidal_positional_encoding(50, 16, dtype=torch.float64)
    assert pe.dtype == torch.get_default_dtype() and pe64.dtype == torch.float64
    gram = pe64 @ pe64.T  # PE_p . PE_q = sum_i cos((p - q) w_i): constant along each diagonal
    assert max((gram.diagonal(o) - gram.diagonal(o)[0]).abs().max().item() for o in range(-49, 50)) < 1e-10


def test_rope_relative_position_property():
    g = torch.Generator().manual_seed(5)
    d = 16
    q, k = torch.randn(d, generator=g, dtype=torch.float64), torch.randn(d, generator=g, dtype=torch.float64)

    def score(m, n):
        qm = apply_rope(q.expand(1, d), torch.tensor([m]))[0]
        kn = apply_rope(k.expand(1, d), torch.tensor([n]))[0]
        return (qm @ kn).item()

    for offset in (0, 1, 5, -3):
        scores = [score(m, m - offset) for m in (3, 10, 40, 200)]
        assert max(scores) - min(scores) < 1e-9, (offset, scores)
    assert abs(score(10, 9) - score(10, 5)) > 1e-3  # but different offsets do give different scores
    x = torch.randn(2, 6, d, generator=g, dtype=torch.float64)
    assert torch.allclose(apply_rope(x).norm(dim=-1), x.norm(dim=-1))  # a rotation keeps lengths
    assert torch.equal(apply_rope(x)[:, 0], x[:, 0])                   # position 0 is not rotated


def test_notebook_from_scratch_attention_agrees_with_package():
    """Chapter 2, notebook 01 writes attention from the formula; it must equal the package's."""
    attention = lesson("chapters/02_attention/01_attention_from_the_formula.ipynb", "from-scratch")["attention"]
    for seed in range(3):
        q, k, v = random_qkv(torch.float64, seed)
        for mask in (None, torch.ones(5, 7, dtype=torch.bool).tril(), padding_mask([7, 2], 7)):
            out, w = attention(q, k, v, mask)
            ref_out, ref_w = scaled_dot_product_attention(q, k, v, mask)
            assert (out - ref_out).abs().max().item() <= 1e-10
            assert (w - ref_w).abs().max().item() <= 1e-10


def test_stored_cost_results_are_complete():
    """results/attention_cost_*.json (written by benchmarks/attention_cost.py) carry what notebook 6 shows."""
    files = sorted((ROOT / "results").glob("attention_cost_*.json"))
    if not files:
        pytest.skip("no attention cost results stored yet")
    for path in files:
        res = json.loads(path.read_text(encoding="utf-8"))
        assert res["environment"]["profile"] == path.stem.rsplit("_", 1)[1] and res["date"]
        ns = [r["n"] for r in res["rows"]]
        assert ns == sorted(ns) and len(ns) >= 3
        for r in res["rows"]:
            assert r["ours_s"] > 0 and r["fused_s"] > 0
            assert abs(r["ratio_ours_over_fused"] - r["ours_s"] / r["fused_s"]) < 1e-9
            assert r["weights_bytes"] == res["shape"]["batch"] * res["shape"]["heads"] * r["n"] ** 2 * 4
