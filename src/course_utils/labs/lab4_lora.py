"""Lab 4 public tests: LoRA parameter counts and a LoRA linear layer."""
from __future__ import annotations

import torch
from torch import nn

from course_utils.grading import Lab, expect_close, expect_equal

lab = Lab("lab4_lora", "LoRA: parameter count and a LoRA linear layer", {
    "q1": "LoRA parameter count",
    "q2": "fraction of trainable parameters",
    "q3": "LoRA linear layer: forward pass",
    "q4": "merging the adapter into the weight",
})


def _count(d_in: int, d_out: int, r: int) -> int:
    """Parameters of A (r x d_in) and B (d_out x r), counted from real tensors."""
    return sum(p.numel() for p in (nn.Linear(d_in, r, bias=False).weight, nn.Linear(r, d_out, bias=False).weight))


@lab.test("q1")
def square_layer(lora_param_count):
    expect_equal(lora_param_count(8, 8, 2), _count(8, 8, 2), "lora_param_count(d_in=8, d_out=8, r=2)")


@lab.test("q2")
def square_layer_fraction(lora_fraction):
    expected = _count(16, 16, 4) / nn.Linear(16, 16, bias=False).weight.numel()
    expect_close(lora_fraction(16, 16, 4), expected, "lora_fraction(d_in=16, d_out=16, r=4)")


@lab.test("q3")
def starts_as_the_base_layer(LoRALinear):
    torch.manual_seed(0)
    base = nn.Linear(6, 5)
    layer = LoRALinear(base, r=2, alpha=2.0)
    x = torch.randn(3, 6)
    expect_close(layer(x), base(x), "LoRALinear(base)(x) right after creation (B = 0) vs base(x)", atol=1e-6)


@lab.test("q3")
def forward_with_known_a_and_b(LoRALinear):
    torch.manual_seed(1)
    base = nn.Linear(6, 5)
    layer = LoRALinear(base, r=2, alpha=2.0)
    with torch.no_grad():
        layer.lora_A.copy_(torch.randn(2, 6))
        layer.lora_B.copy_(torch.randn(5, 2))
    x = torch.randn(3, 6)
    expected = base(x) + (2.0 / 2) * (x @ layer.lora_A.T @ layer.lora_B.T)
    expect_close(layer(x), expected, "LoRALinear(base, r=2, alpha=2)(x) = base(x) + (alpha/r) x A^T B^T", rtol=1e-4, atol=1e-6)


@lab.test("q4")
def merged_weight(LoRALinear, merge_lora):
    torch.manual_seed(2)
    layer = LoRALinear(nn.Linear(6, 5), r=2, alpha=2.0)
    with torch.no_grad():
        layer.lora_B.copy_(torch.randn(5, 2))
        # expected values first: merge_lora could change the layer it is given
        expected = layer.base.weight + (2.0 / 2) * layer.lora_B @ layer.lora_A
        bias = layer.base.bias.clone()
    merged = merge_lora(layer)
    expect_close(merged.weight, expected, "merge_lora(layer).weight = W + (alpha/r) B A (r=2, alpha=2)", rtol=1e-4, atol=1e-6)
    expect_close(merged.bias, bias, "merge_lora(layer).bias")
