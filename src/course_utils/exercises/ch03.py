"""Chapter 3's checked exercises (see course_utils.exercises)."""
from __future__ import annotations

from course_utils.exercises import exercise_set  # noqa: F401  (sets are added here)


# --------------------------------------------------------------------------- 3.3 training a mini GPT (helper B)
ch03_03 = exercise_set("ch03_03", "Training a mini GPT", {
    "q1": "the parameter count of the lesson's GPT",
    "q2": "one AdamW step written by hand",
})


@ch03_03.test("q1")
def params_of_a_small_gpt(gpt_param_count):
    from course_utils.grading import expect_equal
    from course_utils.models import GPT, GPTConfig

    cfg = GPTConfig(vocab_size=10, block_size=8, n_layer=2, n_head=2, n_embd=16)
    expected = sum(p.numel() for p in GPT(cfg).parameters())     # the tied matrix counted once
    expect_equal(gpt_param_count(10, 8, 2, 16), expected, "gpt_param_count(vocab_size=10, block_size=8, n_layer=2, n_embd=16)")


@ch03_03.test("q2")
def first_step_equals_torch(adamw_step):
    import torch

    from course_utils.grading import expect_close

    g = torch.Generator().manual_seed(0)
    p0, grad = torch.randn(5, generator=g, dtype=torch.float64), torch.randn(5, generator=g, dtype=torch.float64)
    p = p0.clone().requires_grad_(True)
    opt = torch.optim.AdamW([p], lr=0.1, betas=(0.9, 0.99), eps=1e-8, weight_decay=0.0)
    p.grad = grad.clone()
    opt.step()
    new_p, m, v = adamw_step(p0.clone(), grad.clone(), torch.zeros(5, dtype=torch.float64),
                             torch.zeros(5, dtype=torch.float64), 1, lr=0.1, betas=(0.9, 0.99), eps=1e-8,
                             weight_decay=0.0)
    expect_close(new_p, p.detach(), "the parameters after the first step (lr 0.1, no weight decay), against torch.optim.AdamW",
                 rtol=1e-9, atol=1e-12)
    expect_close(m, 0.1 * grad, "the first moment m after one step: (1 - beta1) * grad", rtol=1e-9, atol=1e-12)


# --------------------------------------------------------------------------- 3.5 decoding (helper B)
ch03_05 = exercise_set("ch03_05", "Decoding", {
    "q1": "a top-k filter",
    "q2": "a top-p (nucleus) filter",
    "q3": "the memory of a KV cache",
})


@ch03_05.test("q1")
def top_k_keeps_the_k_largest(top_k_filter):
    import torch

    from course_utils.grading import expect_equal

    logits = torch.tensor([[1.0, 3.0, 2.0, -1.0, 0.5]])
    inf = float("-inf")
    expect_equal(top_k_filter(logits, 2), torch.tensor([[inf, 3.0, 2.0, inf, inf]]), "top_k_filter([[1, 3, 2, -1, 0.5]], k=2)")
    expect_equal(top_k_filter(logits, 5), logits, "top_k_filter(..., k=5): everything kept")


@ch03_05.test("q2")
def top_p_smallest_set(top_p_filter):
    import torch

    from course_utils.grading import expect_close, expect_equal

    probs = torch.tensor([[0.5, 0.05, 0.3, 0.15]], dtype=torch.float64)
    logits = probs.log()
    expect_equal(torch.isfinite(top_p_filter(logits, 0.7)), torch.tensor([[True, False, True, False]]),
                 "which tokens top_p_filter(log [[0.5, 0.05, 0.3, 0.15]], p=0.7) keeps (0.5 + 0.3 >= 0.7)")
    expect_equal(torch.isfinite(top_p_filter(logits, 0.4)), torch.tensor([[True, False, False, False]]),
                 "which tokens top_p_filter(..., p=0.4) keeps (the top token alone has 0.5)")
    kept = top_p_filter(logits, 0.7)
    expect_close(kept[torch.isfinite(kept)], logits[torch.isfinite(kept)], "the kept logits, unchanged", rtol=0, atol=0)


@ch03_05.test("q3")
def cache_of_a_small_gpt(kv_cache_bytes):
    import torch

    from course_utils.grading import expect_equal
    from course_utils.models import GPT, GPTConfig

    cfg = GPTConfig(vocab_size=10, block_size=16, n_layer=2, n_head=2, n_embd=8)
    with torch.no_grad():
        _, cache = GPT(cfg)(torch.zeros(3, 5, dtype=torch.long), use_cache=True)
    measured = sum(t.numel() * t.element_size() for kv in cache for t in kv)
    expect_equal(kv_cache_bytes(n_layer=2, n_head=2, head_size=4, n_tokens=5, batch=3, bytes_per_number=4), measured,
                 "kv_cache_bytes(n_layer=2, n_head=2, head_size=4, n_tokens=5, batch=3, bytes_per_number=4), "
                 "against the cache a GPT of that shape returns")
