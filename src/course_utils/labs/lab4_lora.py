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
    "q5": "fitting a LoRA adapter under a parameter budget",
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


def low_rank_task(d_in: int, d_out: int, rank: int, seed: int, n: int = 128) -> tuple[nn.Linear, torch.Tensor, ...]:
    """A "pretrained" nn.Linear and data from a target that differs from it by a rank-`rank` change
    of the weight (plus a little noise): (base, x_train, y_train, x_val, y_val), n rows each."""
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    base = nn.Linear(d_in, d_out)
    delta = torch.randn(d_out, rank, generator=g) @ torch.randn(rank, d_in, generator=g) / d_in ** 0.5
    x = torch.randn(2 * n, d_in, generator=g)
    with torch.no_grad():
        y = base(x) + x @ delta.T + 0.01 * torch.randn(2 * n, d_out, generator=g)
    return base, x[:n], y[:n], x[n:], y[n:]


def trainable_count(module: nn.Module) -> int:
    """Parameters that would be trained: those with requires_grad."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


@lab.test("q5")
def fits_a_small_budget(fit_lora_under_budget):
    base, x, y, _, _ = low_rank_task(8, 4, 1, seed=0, n=32)
    budget = 100
    out = fit_lora_under_budget(base, x, y, budget)
    layer, n = out["layer"], out["n_trainable"]
    expect_equal(n, trainable_count(layer), "the reported n_trainable vs the parameters of the returned layer that require a gradient")
    expect_equal(n <= budget, True, f"n_trainable = {n} within the budget of {budget} (Linear(8, 4))")
    with torch.no_grad():
        loss = torch.nn.functional.mse_loss(layer(x), y).item()
    expect_close(out["loss"], loss, "the reported training loss vs the MSE of the returned layer on (x, y) (5 % tolerance)",
                 rtol=0.05, atol=1e-6)
