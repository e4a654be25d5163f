"""Chapter 3's checked exercises (see course_utils.exercises)."""
from __future__ import annotations

from course_utils.exercises import exercise_set  # noqa: F401  (sets are added here)


# --------------------------------------------------------------------------- 3.1 tokenization (helper E1)
ch03_01 = exercise_set("ch03_01", "Tokenization", {
    "q1": "one BPE merge applied to a sequence of token ids",
    "q2": "the most frequent pair of adjacent tokens",
})


@ch03_01.test("q1")
def merge_matches_the_package(my_merge):
    from course_utils.bpe import merge_pair
    from course_utils.grading import expect_equal

    ids = tuple(" the cat sat on the mat".encode("utf-8"))
    pair = (ord("a"), ord("t"))
    expect_equal(tuple(my_merge(ids, pair, 256)), merge_pair(ids, pair, 256), "my_merge(' the cat sat on the mat', ('a', 't'), 256)")


@ch03_01.test("q1")
def merge_overlapping_pairs(my_merge):
    from course_utils.grading import expect_equal

    expect_equal(tuple(my_merge((7, 7, 7), (7, 7), 300)), (300, 7), "my_merge((7, 7, 7), (7, 7), 300) (left to right, no overlap)")


@ch03_01.test("q2")
def most_frequent_in_a_phrase(most_frequent_pair):
    from course_utils.grading import expect_equal

    ids = tuple("low lower lowest".encode("utf-8"))
    expect_equal(tuple(most_frequent_pair(ids)), (ord("l"), ord("o")), "most_frequent_pair('low lower lowest')")


@ch03_01.test("q2")
def ties_go_to_the_first_pair_seen(most_frequent_pair):
    from course_utils.grading import expect_equal

    expect_equal(tuple(most_frequent_pair((5, 6, 1, 2, 5, 6, 1, 2))), (5, 6),
                 "most_frequent_pair((5, 6, 1, 2, 5, 6, 1, 2)) (a tie: the pair seen first wins)")


# --------------------------------------------------------------------------- 3.2 causal LM objective (helper E1)
ch03_02 = exercise_set("ch03_02", "The causal language-modelling objective", {
    "q1": "the shifted next-token cross-entropy",
    "q2": "one step of SGD with momentum",
})


@ch03_02.test("q1")
def shifted_loss_matches_torch(causal_lm_loss):
    import torch
    import torch.nn.functional as F

    from course_utils.grading import expect_close

    g = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 6, 11, generator=g, dtype=torch.float64)
    ids = torch.randint(11, (2, 6), generator=g)
    expected = F.cross_entropy(logits[:, :-1].reshape(-1, 11), ids[:, 1:].reshape(-1))
    expect_close(causal_lm_loss(logits, ids), expected,
                 "causal_lm_loss(logits of shape (2, 6, 11), ids of shape (2, 6)) against F.cross_entropy", rtol=1e-6, atol=1e-9)


def _momentum_reference(grads, lr, mu):
    import torch

    w = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64, requires_grad=True)
    opt = torch.optim.SGD([w], lr=lr, momentum=mu)
    for gr in grads:
        w.grad = gr.clone()
        opt.step()
    return w.detach()


def _momentum_mine(momentum_step, grads, lr, mu):
    import torch

    w, m = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64), torch.zeros(3, dtype=torch.float64)
    for gr in grads:
        w, m = momentum_step(w, gr.clone(), m, lr, mu)
    return w


@ch03_02.test("q2")
def momentum_matches_torch_optim(momentum_step):
    import torch

    from course_utils.grading import expect_close

    grads = [torch.tensor(v, dtype=torch.float64) for v in ([0.3, -1.0, 4.0], [0.1, -0.5, 2.0], [-0.2, 0.0, 1.0])]
    expect_close(_momentum_mine(momentum_step, grads, 0.1, 0.9), _momentum_reference(grads, 0.1, 0.9),
                 "three momentum_step calls (lr 0.1, mu 0.9) against torch.optim.SGD(momentum=0.9)", rtol=1e-6, atol=1e-9)


# --------------------------------------------------------------------------- 3.4 masked language modelling (helper E1)
ch03_04 = exercise_set("ch03_04", "Masked language modelling", {
    "q1": "the 80/10/10 replacement rule",
    "q2": "the loss on the chosen positions only",
})


@ch03_04.test("q1")
def rule_matches_mask_tokens(apply_80_10_10):
    import torch

    from course_utils.grading import expect_equal
    from course_utils.mlm import mask_tokens

    ids = torch.randint(5, 1000, (4, 30), generator=torch.Generator().manual_seed(0))
    expected = mask_tokens(ids, 4, 1000, generator=torch.Generator().manual_seed(1))
    g = torch.Generator().manual_seed(1)   # the same three draws as mask_tokens, in its order
    chosen = torch.rand(ids.shape, generator=g) < 0.15
    draw = torch.rand(ids.shape, generator=g)
    random_ids = torch.randint(1000, ids.shape, generator=g)
    inputs, labels = apply_80_10_10(ids.clone(), chosen, draw, random_ids, 4)
    expect_equal(inputs, expected[0], "apply_80_10_10(...) inputs against course_utils.mlm.mask_tokens")
    expect_equal(labels, expected[1], "apply_80_10_10(...) labels against course_utils.mlm.mask_tokens")


@ch03_04.test("q2")
def loss_matches_mlm_loss(masked_only_loss):
    import torch

    from course_utils.grading import expect_close
    from course_utils.mlm import IGNORE, mlm_loss

    g = torch.Generator().manual_seed(2)
    logits = torch.randn(2, 5, 9, generator=g, dtype=torch.float64)
    labels = torch.full((2, 5), IGNORE)
    labels[0, 1], labels[1, 3], labels[1, 4] = 3, 8, 0
    expect_close(masked_only_loss(logits, labels), mlm_loss(logits, labels).double(),
                 "masked_only_loss(logits of shape (2, 5, 9), 3 chosen positions) against course_utils.mlm.mlm_loss",
                 rtol=1e-6, atol=1e-9)


# --------------------------------------------------------------------------- 3.7 data-parallel training (helper E1)
ch03_07 = exercise_set("ch03_07", "Data-parallel training", {
    "q1": "averaging the workers' gradients (the all-reduce)",
    "q2": "the gradients of N workers on their shards, averaged",
})


@ch03_07.test("q1")
def average_of_two_workers(average_gradients):
    import torch

    from course_utils.grading import expect_close, expect_equal

    a = [torch.tensor([1.0, 2.0]), torch.tensor([[3.0]])]
    b = [torch.tensor([3.0, -2.0]), torch.tensor([[5.0]])]
    got = average_gradients([a, b])
    expect_equal(len(got), 2, "len(average_gradients(2 workers, 2 parameters each))")
    expect_close(got[0], torch.tensor([2.0, 0.0]), "average_gradients(...)[0] (first parameter)")
    expect_close(got[1], torch.tensor([[4.0]]), "average_gradients(...)[1] (second parameter)")


@ch03_07.test("q2")
def shards_equal_the_big_batch(data_parallel_grads):
    import torch
    import torch.nn.functional as F

    from course_utils.grading import expect_close, expect_equal

    torch.manual_seed(0)
    model = torch.nn.Linear(3, 2).double()
    x, y = torch.randn(8, 3, dtype=torch.float64), torch.randn(8, 2, dtype=torch.float64)
    model.zero_grad()
    F.mse_loss(model(x), y).backward()
    expected = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    got = data_parallel_grads(model, F.mse_loss, x, y, 4)
    expect_equal(len(got), 2, "len(data_parallel_grads(Linear(3, 2), ...)) (one gradient per parameter: weight, bias)")
    for i, (a, b) in enumerate(zip(got, expected)):
        expect_close(a, b, f"data_parallel_grads(Linear(3, 2), mse, batch 8, 4 workers)[{i}] against the batch-8 gradient",
                     rtol=1e-6, atol=1e-9)


# --------------------------------------------------------------------------- 3.8 a real LLM (helper E1)
ch03_08 = exercise_set("ch03_08", "A real LLM in our own code", {
    "q1": "the bytes of a grouped-query attention KV cache",
    "q2": "the number of parameters of a Llama model from its config",
})


@ch03_08.test("q1")
def gqa_cache_bytes_match_a_tensor(gqa_cache_bytes):
    import torch

    from course_utils.grading import expect_equal

    n_layer, n_kv_head, head_dim, n_tokens = 4, 2, 8, 10
    keys_and_values = torch.empty(n_layer, 2, n_kv_head, n_tokens, head_dim, dtype=torch.float32)
    expect_equal(gqa_cache_bytes(n_layer, n_kv_head, head_dim, n_tokens, 4),
                 keys_and_values.numel() * keys_and_values.element_size(), "gqa_cache_bytes(4, 2, 8, 10, 4)")


@ch03_08.test("q2")
def count_a_tiny_llama(llama_param_count):
    from course_utils.grading import expect_equal
    from course_utils.models.llama import Llama, LlamaConfig

    cfg = LlamaConfig(vocab_size=50, context=16, n_layer=2, n_head=4, n_kv_head=2, d_model=16, d_ff=24)
    expect_equal(llama_param_count(cfg), Llama(cfg).num_params(),
                 "llama_param_count(a 2-layer LlamaConfig with 4 query and 2 key/value heads) against Llama(cfg).num_params()")


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


# --------------------------------------------------------------------------- 3.6 scaling (helper F)
ch03_06 = exercise_set("ch03_06", "Scaling", {
    "q1": "Hoffmann et al.'s loss L(N, D) = E + A / N^alpha + B / D^beta",
    "q2": "the power-law fit in log-log space, written out (least squares without polyfit)",
    "q3": "the model size a fitted line predicts for a target loss",
})


@ch03_06.test("q1")
def chinchilla_loss_at_published_constants(chinchilla_loss):
    from course_utils.grading import expect_close

    E, A, B, a, b = 1.69, 406.4, 410.7, 0.34, 0.28       # Hoffmann et al. 2022, as in the lesson
    for n, d in ((1e8, 2e9), (7e10, 1.4e12)):
        expect_close(chinchilla_loss(n, d, E, A, B, a, b), E + A * n ** -a + B * d ** -b,
                     f"chinchilla_loss({n:.0e}, {d:.0e}, E, A, B, alpha, beta) with the lesson's constants")


@ch03_06.test("q1")
def chinchilla_loss_separates_size_and_data(chinchilla_loss):
    from course_utils.grading import expect_close

    expect_close(chinchilla_loss(100.0, 1e30, 1.0, 10.0, 10.0, 0.5, 0.25), 2.0,
                 "chinchilla_loss(N=100, D=1e30, E=1, A=10, B=10, alpha=0.5, beta=0.25): the data term vanishes", rtol=1e-6)
    expect_close(chinchilla_loss(1e30, 16.0, 1.0, 10.0, 10.0, 0.5, 0.25), 6.0,
                 "chinchilla_loss(N=1e30, D=16, E=1, A=10, B=10, alpha=0.5, beta=0.25): the size term vanishes", rtol=1e-6)


@ch03_06.test("q2")
def fit_recovers_an_exact_power_law(fit_power_law_by_hand):
    import math

    from course_utils.grading import expect_close

    n = [1e3, 1e4, 3e4, 1e5, 1e6]
    alpha, intercept = fit_power_law_by_hand(n, [5 * v ** -0.3 for v in n])
    expect_close((alpha, intercept), (0.3, math.log10(5)), "fit_power_law_by_hand(n, 5 * n ** -0.3): (alpha, intercept)")


@ch03_06.test("q2")
def fit_equals_polyfit_on_noisy_points(fit_power_law_by_hand):
    import numpy as np

    from course_utils.grading import expect_close

    n = np.array([2e4, 5e4, 1.5e5, 6e5, 2e6])
    loss = np.array([2.61, 2.43, 2.30, 2.18, 2.11])
    slope, intercept = np.polyfit(np.log10(n), np.log10(loss), 1)
    expect_close(fit_power_law_by_hand(list(n), list(loss)), (-slope, intercept),
                 "fit_power_law_by_hand on five noisy points, against np.polyfit in log10-log10 space")


@ch03_06.test("q3")
def params_for_loss_inverts_the_line(params_for_loss):
    import math

    from course_utils.grading import expect_close

    alpha, intercept = 0.1, math.log10(4.0)               # L(N) = 4 N^-0.1
    expect_close(params_for_loss(2.0, alpha, intercept), 2 ** (1 / 0.1),
                 "params_for_loss(2.0, alpha=0.1, intercept=log10(4)): N with 4 N^-0.1 = 2", rtol=1e-6)
    n = params_for_loss(1.5, 0.08, 0.6)
    expect_close(10 ** (0.6 - 0.08 * math.log10(n)), 1.5,
                 "the loss the line predicts at params_for_loss(1.5, 0.08, 0.6)", rtol=1e-6)
