"""Instructor side of chapter 3's exercises (course_utils.exercises.ch03): for each set, the reference
solution (SOLUTIONS, code a learner could paste in), hidden tests (HIDDEN, written like a lab's
``--hidden`` file: ``check``, ``expect_close``, ``expect_equal`` and ``math`` are predefined) and
wrong solutions (MUTANTS: (old, new) edits of the solution). tests/test_exercises.py runs them all.
"""
SOLUTIONS = {
}

HIDDEN = {
}

MUTANTS = {
}


# --------------------------------------------------------------------------- 3.3 and 3.5 (helper B)
SOLUTIONS.update({
    "ch03_03": '''
import torch

def gpt_param_count(vocab_size, block_size, n_layer, n_embd):
    c = n_embd
    per_block = 2 * c + 3 * c * c + c * c + 4 * c * c + 4 * c * c
    return vocab_size * c + block_size * c + n_layer * per_block + c

def adamw_step(p, grad, m, v, t, lr, betas=(0.9, 0.99), eps=1e-8, weight_decay=0.0):
    beta1, beta2 = betas
    p = p * (1 - lr * weight_decay)
    m = beta1 * m + (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * grad * grad
    m_hat = m / (1 - beta1 ** t)
    v_hat = v / (1 - beta2 ** t)
    p = p - lr * m_hat / (v_hat.sqrt() + eps)
    return p, m, v
''',
    "ch03_05": '''
import torch

def top_k_filter(logits, k):
    kth = torch.topk(logits, k, dim=-1).values[..., -1:]
    return logits.masked_fill(logits < kth, float("-inf"))

def top_p_filter(logits, p):
    sorted_logits, order = torch.sort(logits, dim=-1, descending=True)
    probs = torch.softmax(sorted_logits, dim=-1)
    before = probs.cumsum(dim=-1) - probs
    drop_sorted = before >= p
    drop = drop_sorted.scatter(-1, order, drop_sorted)
    return logits.masked_fill(drop, float("-inf"))

def kv_cache_bytes(n_layer, n_head, head_size, n_tokens, batch=1, bytes_per_number=4):
    return 2 * n_layer * batch * n_head * n_tokens * head_size * bytes_per_number
''',
})

HIDDEN.update({
    "ch03_03": '''
@check.test("q1")
def params_of_the_cpu_shape(gpt_param_count):
    from course_utils.models import GPT, GPTConfig
    cfg = GPTConfig(vocab_size=65, block_size=32, n_layer=3, n_head=3, n_embd=24)
    expect_equal(gpt_param_count(65, 32, 3, 24), sum(p.numel() for p in GPT(cfg).parameters()),
                 "gpt_param_count(65, 32, 3, 24)")

@check.test("q2")
def three_steps_with_weight_decay(adamw_step):
    import torch
    g = torch.Generator().manual_seed(1)
    p0 = torch.randn(4, 3, generator=g, dtype=torch.float64)
    grads = [torch.randn(4, 3, generator=g, dtype=torch.float64) for _ in range(3)]
    p = p0.clone().requires_grad_(True)
    opt = torch.optim.AdamW([p], lr=0.05, betas=(0.8, 0.95), eps=1e-6, weight_decay=0.1)
    mine, m, v = p0.clone(), torch.zeros(4, 3, dtype=torch.float64), torch.zeros(4, 3, dtype=torch.float64)
    for t, grad in enumerate(grads, start=1):
        p.grad = grad.clone()
        opt.step()
        mine, m, v = adamw_step(mine, grad.clone(), m, v, t, lr=0.05, betas=(0.8, 0.95), eps=1e-6, weight_decay=0.1)
    expect_close(mine, p.detach(), "three AdamW steps with weight decay 0.1, against torch.optim.AdamW", rtol=1e-9, atol=1e-12)
''',
    "ch03_05": '''
@check.test("q1")
def top_k_matches_the_package(top_k_filter):
    import torch
    from course_utils.decoding import filter_top_k
    logits = torch.randn(3, 65, generator=torch.Generator().manual_seed(2))
    expect_equal(top_k_filter(logits, 7), filter_top_k(logits, 7), "top_k_filter(random logits (3, 65), 7)")

@check.test("q2")
def top_p_matches_the_package(top_p_filter):
    import torch
    from course_utils.decoding import filter_top_p
    logits = torch.randn(4, 65, generator=torch.Generator().manual_seed(3), dtype=torch.float64) * 2
    for p in (0.3, 0.9, 1.0):
        expect_equal(torch.isfinite(top_p_filter(logits, p)), torch.isfinite(filter_top_p(logits, p)),
                     f"which tokens top_p_filter(random logits (4, 65), {p}) keeps")

@check.test("q3")
def cache_in_bfloat16(kv_cache_bytes):
    import torch
    from course_utils.models import GPT, GPTConfig
    cfg = GPTConfig(vocab_size=10, block_size=16, n_layer=3, n_head=4, n_embd=16)
    with torch.no_grad():
        _, cache = GPT(cfg).to(torch.bfloat16)(torch.zeros(1, 7, dtype=torch.long), use_cache=True)
    measured = sum(t.numel() * t.element_size() for kv in cache for t in kv)
    expect_equal(kv_cache_bytes(3, 4, 4, 7, batch=1, bytes_per_number=2), measured,
                 "kv_cache_bytes(3, 4, 4, 7, batch=1, bytes_per_number=2) against a bfloat16 GPT's cache")
''',
})

MUTANTS.update({
    "ch03_03": {
        "q1_no_position_embedding": [("block_size * c + ", "")],
        "q2_no_bias_correction": [("m_hat = m / (1 - beta1 ** t)", "m_hat = m")],
        "q2_no_weight_decay": [("p = p * (1 - lr * weight_decay)", "p = p")],
    },
    "ch03_05": {
        "q1_keeps_k_minus_one": [("logits < kth", "logits <= kth")],
        "q2_drops_the_token_that_crosses_p": [("before = probs.cumsum(dim=-1) - probs", "before = probs.cumsum(dim=-1)")],
        "q3_keys_only": [("return 2 * n_layer", "return n_layer")],
    },
})
