"""Lab 2 public tests: causal mask, attention weights and scaled dot-product attention."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from course_utils.grading import Lab, expect_close, expect_equal

lab = Lab("lab2_attention", "Scaled dot-product attention and the causal mask", {
    "q1": "causal mask",
    "q2": "attention weights",
    "q3": "scaled dot-product attention",
    "q4": "multi-head causal self-attention vs nn.MultiheadAttention",
})


def _qkv(seed: int, shape_q: tuple, shape_k: tuple, dv: int) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(seed)
    q, k = torch.randn(*shape_q, generator=g), torch.randn(*shape_k, generator=g)
    return q, k, torch.randn(*shape_k[:-1], dv, generator=g)


@lab.test("q1")
def mask_of_size_three(causal_mask):
    got = causal_mask(3)
    expected = [[j <= i for j in range(3)] for i in range(3)]  # position i may look at j <= i
    expect_equal(torch.as_tensor(got).tolist(), expected, "causal_mask(3).tolist()")
    expect_equal(torch.as_tensor(got).dtype, torch.bool, "causal_mask(3).dtype")


@lab.test("q2")
def weights_without_mask(attention_weights):
    q, k, _ = _qkv(0, (3, 4), (3, 4), 4)
    expected = torch.softmax(q @ k.T / 4 ** 0.5, dim=-1)
    expect_close(attention_weights(q, k), expected, "attention_weights(q, k) for q, k of shape (3, 4)", rtol=1e-4)


@lab.test("q2")
def causal_weights_rows_sum_to_one(attention_weights):
    q, k, _ = _qkv(1, (3, 4), (3, 4), 4)
    mask = torch.ones(3, 3, dtype=torch.bool).tril()
    w = attention_weights(q, k, mask)
    expect_close(w.sum(-1), torch.ones(3), "row sums of the causal weights")
    expect_close(w.masked_select(~mask), torch.zeros(3), "weights above the diagonal (future positions)")


@lab.test("q3")
def matches_pytorch(scaled_dot_product_attention):
    q, k, v = _qkv(2, (3, 4), (3, 4), 4)
    mask = torch.ones(3, 3, dtype=torch.bool).tril()
    expected = F.scaled_dot_product_attention(q[None], k[None], v[None], attn_mask=mask)[0]
    expect_close(scaled_dot_product_attention(q, k, v, mask), expected,
                 "scaled_dot_product_attention(q, k, v, causal mask) vs torch", rtol=1e-4, atol=1e-6)


def mha_reference(embed: int, heads: int, x: torch.Tensor, seed: int) -> tuple[list[torch.Tensor], torch.Tensor]:
    """Weights of a random nn.MultiheadAttention (batch_first) and its causal self-attention output on x."""
    torch.manual_seed(seed)
    mha = torch.nn.MultiheadAttention(embed, heads, batch_first=True)
    with torch.no_grad():
        mha.in_proj_bias.normal_()  # PyTorch starts the biases at zero: make them count
        mha.out_proj.bias.normal_()
        future = ~torch.ones(x.shape[1], x.shape[1], dtype=torch.bool).tril()  # True = may NOT attend
        out = mha(x, x, x, attn_mask=future, need_weights=False)[0]
    weights = [t.detach().clone() for t in (mha.in_proj_weight, mha.in_proj_bias, mha.out_proj.weight, mha.out_proj.bias)]
    return weights, out


@lab.test("q4")
def one_head_matches_pytorch(causal_self_attention):
    x = torch.randn(1, 4, 6, generator=torch.Generator().manual_seed(3))
    weights, expected = mha_reference(6, 1, x, seed=0)
    expect_close(causal_self_attention(x, *weights, 1), expected,
                 "causal_self_attention(x of shape (1, 4, 6), weights of nn.MultiheadAttention(6, 1), n_heads=1) vs torch",
                 rtol=1e-4, atol=1e-5)
