"""Instructor side of chapter 3's exercises (course_utils.exercises.ch03): for each set, the reference
solution (SOLUTIONS, code a learner could paste in), hidden tests (HIDDEN, written like a lab's
``--hidden`` file: ``check``, ``expect_close``, ``expect_equal`` and ``math`` are predefined) and
wrong solutions (MUTANTS: (old, new) edits of the solution). tests/test_exercises.py runs them all.
"""
SOLUTIONS = {
    "ch03_01": '''
from collections import Counter

def my_merge(ids, pair, new_id):
    out, i = [], 0
    while i < len(ids):
        if i + 1 < len(ids) and (ids[i], ids[i + 1]) == tuple(pair):
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return tuple(out)

def most_frequent_pair(ids):
    counts = Counter(zip(ids, ids[1:]))
    return max(counts, key=counts.get)
''',
    "ch03_02": '''
import torch.nn.functional as F

def causal_lm_loss(logits, ids):
    V = logits.size(-1)
    return F.cross_entropy(logits[:, :-1].reshape(-1, V), ids[:, 1:].reshape(-1))

def momentum_step(w, g, m, lr, mu):
    m = mu * m + g
    return w - lr * m, m
''',
    "ch03_04": '''
import torch
import torch.nn.functional as F

def apply_80_10_10(input_ids, chosen, draw, random_ids, mask_token_id):
    labels = torch.where(chosen, input_ids, torch.full_like(input_ids, -100))
    inputs = input_ids.clone()
    to_mask = chosen & (draw < 0.8)
    to_random = chosen & (draw >= 0.8) & (draw < 0.9)
    inputs[to_mask] = mask_token_id
    inputs[to_random] = random_ids[to_random]
    return inputs, labels

def masked_only_loss(logits, labels):
    chosen = labels != -100
    return F.cross_entropy(logits[chosen], labels[chosen])
''',
    "ch03_07": '''
def average_gradients(grads_per_worker):
    n = len(grads_per_worker)
    return [sum(gs) / n for gs in zip(*grads_per_worker)]

def data_parallel_grads(model, loss_fn, x, y, world_size):
    per_worker = []
    for xs, ys in zip(x.chunk(world_size), y.chunk(world_size)):
        model.zero_grad()
        loss_fn(model(xs), ys).backward()
        per_worker.append([p.grad.clone() for p in model.parameters()])
    return average_gradients(per_worker)
''',
    "ch03_08": '''
def gqa_cache_bytes(n_layer, n_kv_head, head_dim, n_tokens, bytes_per_value):
    return 2 * n_layer * n_kv_head * head_dim * n_tokens * bytes_per_value

def llama_param_count(cfg):
    d, hd = cfg.d_model, cfg.d_model // cfg.n_head
    attention = d * cfg.n_head * hd + 2 * d * cfg.n_kv_head * hd + cfg.n_head * hd * d
    block = attention + 3 * d * cfg.d_ff + 2 * d
    head = 0 if cfg.tie_weights else cfg.vocab_size * d
    return cfg.vocab_size * d + cfg.n_layer * block + d + head
''',
}

HIDDEN = {
    "ch03_01": '''
@check.test("q1")
def merge_at_the_end_and_nothing_to_merge(my_merge):
    expect_equal(tuple(my_merge((1, 2, 3, 1, 2), (1, 2), 9)), (9, 3, 9), "my_merge((1, 2, 3, 1, 2), (1, 2), 9)")
    expect_equal(tuple(my_merge((4, 5), (5, 4), 9)), (4, 5), "my_merge((4, 5), (5, 4), 9) (no occurrence)")

@check.test("q2")
def classic_example(most_frequent_pair):
    ids = tuple(b"aaabdaaabac")
    expect_equal(tuple(most_frequent_pair(ids)), (ord("a"), ord("a")), "most_frequent_pair('aaabdaaabac')")
''',
    "ch03_02": '''
@check.test("q1")
def one_sequence_float32(causal_lm_loss):
    import torch
    logits = torch.tensor([[[2.0, 0.0, -1.0], [0.0, 3.0, 0.0], [1.0, 1.0, 1.0]]])
    ids = torch.tensor([[0, 1, 2]])
    expected = -(torch.log_softmax(logits[0, 0], -1)[1] + torch.log_softmax(logits[0, 1], -1)[2]) / 2
    expect_close(causal_lm_loss(logits, ids), expected, "causal_lm_loss on one sequence of 3 tokens", rtol=1e-5, atol=1e-6)

@check.test("q2")
def five_steps_other_settings(momentum_step):
    import torch
    from course_utils.exercises.ch03 import _momentum_mine, _momentum_reference
    grads = [torch.tensor([float(i), -1.0, 0.5 * i], dtype=torch.float64) for i in range(5)]
    expect_close(_momentum_mine(momentum_step, grads, 0.03, 0.5), _momentum_reference(grads, 0.03, 0.5),
                 "five momentum_step calls (lr 0.03, mu 0.5) against torch.optim.SGD", rtol=1e-6, atol=1e-9)
''',
    "ch03_04": '''
@check.test("q1")
def the_boundaries_of_the_draw(apply_80_10_10):
    import torch
    ids = torch.tensor([[10, 11, 12, 13, 14, 15]])
    chosen = torch.tensor([[True, True, True, True, True, False]])
    draw = torch.tensor([[0.1, 0.85, 0.95, 0.8, 0.9, 0.1]])
    random_ids = torch.tensor([[20, 21, 22, 23, 24, 25]])
    inputs, labels = apply_80_10_10(ids.clone(), chosen, draw, random_ids, 3)
    expect_equal(inputs, torch.tensor([[3, 21, 12, 23, 14, 15]]), "apply_80_10_10 inputs for draws 0.1, 0.85, 0.95, 0.8, 0.9 (and one unchosen)")
    expect_equal(labels, torch.tensor([[10, 11, 12, 13, 14, -100]]), "apply_80_10_10 labels")

@check.test("q2")
def a_sentence_with_nothing_chosen(masked_only_loss):
    import torch
    from course_utils.mlm import IGNORE, mlm_loss
    g = torch.Generator().manual_seed(4)
    logits = torch.randn(3, 4, 6, generator=g)
    labels = torch.full((3, 4), IGNORE)
    labels[0, 0], labels[2, 1] = 5, 2
    expect_close(masked_only_loss(logits, labels), mlm_loss(logits, labels), "masked_only_loss with a sentence without chosen tokens",
                 rtol=1e-5, atol=1e-6)
''',
    "ch03_07": '''
@check.test("q1")
def three_workers(average_gradients):
    import torch
    grads = [[torch.tensor([3.0 * w])] for w in range(3)]
    got = average_gradients(grads)
    expect_equal(len(got), 1, "len(average_gradients(3 workers, 1 parameter))")
    expect_close(got[0], torch.tensor([3.0]), "average_gradients of 0, 3 and 6")

@check.test("q2")
def one_worker_per_example(data_parallel_grads):
    import torch
    import torch.nn.functional as F
    torch.manual_seed(1)
    model = torch.nn.Sequential(torch.nn.Linear(2, 4), torch.nn.Tanh(), torch.nn.Linear(4, 1)).double()
    x, y = torch.randn(6, 2, dtype=torch.float64), torch.randn(6, 1, dtype=torch.float64)
    model.zero_grad()
    F.mse_loss(model(x), y).backward()
    expected = [p.grad.clone() for p in model.parameters()]
    got = data_parallel_grads(model, F.mse_loss, x, y, 6)
    expect_equal(len(got), len(expected), "len(data_parallel_grads(a 2-layer MLP, ...))")
    for i, (a, b) in enumerate(zip(got, expected)):
        expect_close(a, b, f"data_parallel_grads(MLP, batch 6, 6 workers)[{i}]", rtol=1e-6, atol=1e-9)
''',
    "ch03_08": '''
@check.test("q1")
def smollm2_shape_in_bf16(gqa_cache_bytes):
    expect_equal(gqa_cache_bytes(30, 3, 64, 8192, 2), 2 * 30 * 3 * 64 * 8192 * 2, "gqa_cache_bytes(30, 3, 64, 8192, 2)")

@check.test("q2")
def untied_with_one_kv_head(llama_param_count):
    from course_utils.models.llama import Llama, LlamaConfig
    cfg = LlamaConfig(vocab_size=40, context=8, n_layer=3, n_head=2, n_kv_head=1, d_model=8, d_ff=20, tie_weights=False)
    expect_equal(llama_param_count(cfg), Llama(cfg).num_params(), "llama_param_count(untied, 1 key/value head)")
''',
}

MUTANTS = {
    "ch03_01": {
        "q1_overlapping_merges": [("i += 2", "i += 1")],
        "q2_least_frequent": [("return max(counts, key=counts.get)", "return min(counts, key=counts.get)")],
    },
    "ch03_02": {
        "q1_no_shift": [("logits[:, :-1].reshape(-1, V), ids[:, 1:].reshape(-1)", "logits.reshape(-1, V), ids.reshape(-1)")],
        "q2_running_average": [("m = mu * m + g", "m = mu * m + (1 - mu) * g")],
    },
    "ch03_04": {
        "q1_labels_everywhere": [("torch.where(chosen, input_ids, torch.full_like(input_ids, -100))", "input_ids.clone()")],
        "q2_every_position": [("F.cross_entropy(logits[chosen], labels[chosen])", "F.cross_entropy(logits.reshape(-1, logits.size(-1)), labels.reshape(-1).clamp_min(0))")],
    },
    "ch03_07": {
        "q1_sum_not_mean": [("sum(gs) / n", "sum(gs)")],
        "q2_last_worker_only": [("return average_gradients(per_worker)", "return per_worker[-1]")],
    },
    "ch03_08": {
        "q1_keys_only": [("return 2 * n_layer", "return n_layer")],
        "q2_kv_as_many_as_queries": [("2 * d * cfg.n_kv_head * hd", "2 * d * cfg.n_head * hd")],
    },
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


# --------------------------------------------------------------------------- 3.6 scaling (helper F)
SOLUTIONS.update({
    "ch03_06": '''
import math

def chinchilla_loss(n, d, E, A, B, alpha, beta):
    return E + A / n ** alpha + B / d ** beta

def fit_power_law_by_hand(n, loss):
    x = [math.log10(v) for v in n]
    y = [math.log10(v) for v in loss]
    mx, my = sum(x) / len(x), sum(y) / len(y)
    slope = sum((a - mx) * (b - my) for a, b in zip(x, y)) / sum((a - mx) ** 2 for a in x)
    return -slope, my - slope * mx

def params_for_loss(target, alpha, intercept):
    return 10 ** ((intercept - math.log10(target)) / alpha)
''',
})

HIDDEN.update({
    "ch03_06": '''
@check.test("q1")
def chinchilla_loss_grid(chinchilla_loss):
    for n, d, E, A, B, a, b in ((1e6, 1e6, 0.0, 1.0, 2.0, 0.5, 0.5), (3e7, 1e9, 1.2, 50.0, 80.0, 0.3, 0.4)):
        expect_close(chinchilla_loss(n, d, E, A, B, a, b), E + A / n ** a + B / d ** b,
                     f"chinchilla_loss({n:.0e}, {d:.0e}, E={E}, A={A}, B={B}, alpha={a}, beta={b})")

@check.test("q2")
def fit_on_the_stored_shape(fit_power_law_by_hand):
    import numpy as np
    n = np.geomspace(1e3, 1e7, 7)
    loss = 3.1 * n ** -0.07 + np.array([0.01, -0.02, 0.0, 0.015, -0.01, 0.005, 0.0])
    slope, intercept = np.polyfit(np.log10(n), np.log10(loss), 1)
    expect_close(fit_power_law_by_hand(list(n), list(loss)), (-slope, intercept),
                 "fit_power_law_by_hand on seven points from 1e3 to 1e7 parameters")

@check.test("q2")
def fit_of_two_points_is_the_line_through_them(fit_power_law_by_hand):
    alpha, intercept = fit_power_law_by_hand([10.0, 1000.0], [2.0, 0.5])
    expect_close((alpha, intercept), (math.log10(4) / 2, math.log10(2) + math.log10(4) / 2),
                 "fit_power_law_by_hand([10, 1000], [2, 0.5]): the line through two points")

@check.test("q3")
def params_for_loss_round_trip(params_for_loss):
    for alpha, intercept, target in ((0.076, 0.9, 3.0), (0.34, 1.5, 2.5)):
        n = params_for_loss(target, alpha, intercept)
        expect_close(10 ** (intercept - alpha * math.log10(n)), target,
                     f"the loss predicted at params_for_loss({target}, {alpha}, {intercept})", rtol=1e-6)
''',
})

MUTANTS.update({
    "ch03_06": {
        "q1_beta_for_both_terms": [("A / n ** alpha", "A / n ** beta")],
        "q2_slope_not_minus_slope": [("return -slope, my - slope * mx", "return slope, my - slope * mx")],
        "q2_natural_log_loss": [("y = [math.log10(v) for v in loss]", "y = [math.log(v) for v in loss]")],
        "q3_forgets_to_divide_by_alpha": [("(intercept - math.log10(target)) / alpha", "(intercept - math.log10(target))")],
    },
})
