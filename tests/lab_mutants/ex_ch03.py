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
