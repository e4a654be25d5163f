"""Instructor side of chapter 4's exercises (course_utils.exercises.ch04): for each set, the reference
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

# --------------------------------------------------------------------------- 4.5 results and errors
SOLUTIONS["ch04_05"] = '''
import numpy as np

def trainable_share(model):
    trained = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return trained / sum(p.numel() for p in model.parameters())

def gap_in_standard_errors(runs_a, runs_b):
    a, b = np.asarray(runs_a, dtype=float), np.asarray(runs_b, dtype=float)
    se = np.sqrt(a.var(ddof=1) / len(a) + b.var(ddof=1) / len(b))
    return (a.mean() - b.mean()) / se

def expected_calibration_error(confidence, correct, edges):
    c, ok, edges = np.asarray(confidence, dtype=float), np.asarray(correct, dtype=float), np.asarray(edges, dtype=float)
    total = 0.0
    for b in range(len(edges) - 1):
        upper = c <= edges[b + 1] if b == len(edges) - 2 else c < edges[b + 1]
        sel = (c >= edges[b]) & upper
        if sel.any():
            total += sel.sum() / len(c) * abs(ok[sel].mean() - c[sel].mean())
    return total
'''

HIDDEN["ch04_05"] = '''
@check.test("q1")
def share_of_a_lora_like_model(trainable_share):
    import torch
    base = torch.nn.Linear(10, 10)
    base.requires_grad_(False)
    a, b = torch.nn.Parameter(torch.zeros(2, 10)), torch.nn.Parameter(torch.zeros(10, 2))
    model = torch.nn.Module()
    model.base, model.a, model.b = base, a, b
    model.register_buffer("mask", torch.ones(1000))      # a buffer is not a parameter
    expect_close(trainable_share(model), 40 / 150, "trainable_share(frozen Linear(10, 10) + rank-2 factors)")

@check.test("q2")
def gap_is_signed_and_uses_sample_sd(gap_in_standard_errors):
    import numpy as np
    a, b = [0.8727, 0.8819, 0.875, 0.8784, 0.8761], [0.8865, 0.8842, 0.8945, 0.8911, 0.8922]
    se = np.sqrt(np.var(a, ddof=1) / 5 + np.var(b, ddof=1) / 5)
    expect_close(gap_in_standard_errors(a, b), (np.mean(a) - np.mean(b)) / se,
                 "gap_in_standard_errors(LoRA's seeds, full fine-tuning's seeds): negative when a is behind",
                 rtol=1e-9, atol=1e-12)

@check.test("q3")
def ece_edges_and_empty_bins(expected_calibration_error):
    confidence = [0.5, 0.55, 1.0, 1.0, 0.95]
    correct = [1, 0, 1, 0, 1]
    edges = [0.5, 0.6, 0.7, 0.8, 0.9, 1.0]
    expected = 2 / 5 * abs(0.5 - 0.525) + 3 / 5 * abs(2 / 3 - (1.0 + 1.0 + 0.95) / 3)
    expect_close(expected_calibration_error(confidence, correct, edges), expected,
                 "expected_calibration_error with empty bins and confidence 1.0 in the last bin", rtol=1e-9, atol=1e-12)
'''

MUTANTS["ch04_05"] = {
    "q1_counts_tensors": [("trained = sum(p.numel() for p in model.parameters() if p.requires_grad)",
                           "trained = sum(1 for p in model.parameters() if p.requires_grad)"),
                          ("return trained / sum(p.numel() for p in model.parameters())",
                           "return trained / sum(1 for p in model.parameters())")],
    "q2_population_sd": [("se = np.sqrt(a.var(ddof=1) / len(a) + b.var(ddof=1) / len(b))",
                          "se = np.sqrt(a.var() / len(a) + b.var() / len(b))")],
    "q3_unweighted": [("total += sel.sum() / len(c) * abs(ok[sel].mean() - c[sel].mean())",
                       "total += abs(ok[sel].mean() - c[sel].mean()) / (len(edges) - 1)")],
    "q3_drops_the_top_edge": [("upper = c <= edges[b + 1] if b == len(edges) - 2 else c < edges[b + 1]",
                               "upper = c < edges[b + 1]")],
}

# --------------------------------------------------------------------------- 4.1 encoder to classifier
SOLUTIONS["ch04_01"] = '''
import torch

def masked_mean_pool(hidden, mask):
    m = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * m).sum(dim=1) / m.sum(dim=1)

def head_param_count(d, num_labels):
    pooler = d * d + d
    classifier = d * num_labels + num_labels
    return pooler + classifier
'''

HIDDEN["ch04_01"] = '''
@check.test("q1")
def float32_mask_and_longer_batch(masked_mean_pool):
    import torch
    g = torch.Generator().manual_seed(5)
    hidden = torch.randn(3, 6, 2, generator=g)
    mask = torch.tensor([[1, 1, 1, 1, 1, 1], [1, 0, 0, 0, 0, 0], [1, 1, 1, 1, 0, 0]], dtype=torch.float32)
    expected = torch.stack([hidden[0].mean(0), hidden[1, :1].mean(0), hidden[2, :4].mean(0)])
    expect_close(masked_mean_pool(hidden, mask), expected, "masked_mean_pool with a float mask, lengths 6, 1, 4", rtol=1e-5, atol=1e-6)

@check.test("q2")
def minilm_head(head_param_count):
    import torch
    layers = (torch.nn.Linear(384, 384), torch.nn.Linear(384, 2))
    expect_equal(head_param_count(384, 2), sum(p.numel() for l in layers for p in l.parameters()), "head_param_count(384, 2) (MiniLM on SST-2)")
'''

MUTANTS["ch04_01"] = {
    "q1_mean_over_padding": [
        ("return (hidden * m).sum(dim=1) / m.sum(dim=1)",
         "return hidden.mean(dim=1)")],
    "q2_no_pooler": [
        ("return pooler + classifier",
         "return classifier")],
}

# --------------------------------------------------------------------------- 4.2 linear probe
SOLUTIONS["ch04_02"] = '''
import numpy as np

def probe_accuracy(w, b, X, y):
    pred = (X @ w + b > 0).astype(int)
    return float(np.mean(pred == y))

def probe_log_loss(w, b, X, y):
    z = X @ w + b
    sign = 2 * np.asarray(y) - 1
    return float(np.mean(np.logaddexp(0.0, -sign * z)))
'''

HIDDEN["ch04_02"] = '''
@check.test("q1")
def matches_sklearn(probe_accuracy):
    import numpy as np
    from sklearn.linear_model import LogisticRegression
    rng = np.random.default_rng(3)
    X = rng.normal(size=(60, 4))
    y = (X[:, 0] - X[:, 2] + rng.normal(size=60) > 0).astype(int)
    clf = LogisticRegression().fit(X, y)
    expect_close(probe_accuracy(clf.coef_[0], clf.intercept_[0], X, y), clf.score(X, y), "probe_accuracy against sklearn's score")

@check.test("q2")
def matches_sklearn_log_loss(probe_log_loss):
    import numpy as np
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import log_loss
    rng = np.random.default_rng(4)
    X = rng.normal(size=(60, 4)) * 3
    y = (X[:, 1] + rng.normal(size=60) > 0).astype(int)
    clf = LogisticRegression(C=100.0).fit(X, y)
    expected = log_loss(y, clf.predict_proba(X)[:, 1])
    expect_close(probe_log_loss(clf.coef_[0], clf.intercept_[0], X, y), expected, "probe_log_loss against sklearn's log_loss", rtol=1e-6, atol=1e-9)
'''

MUTANTS["ch04_02"] = {
    "q1_threshold_on_the_logit_at_half": [
        ("pred = (X @ w + b > 0).astype(int)",
         "pred = (X @ w + b > 0.5).astype(int)")],
    "q2_sum_not_mean": [
        ("return float(np.mean(np.logaddexp(0.0, -sign * z)))",
         "return float(np.sum(np.logaddexp(0.0, -sign * z)))")],
}

# --------------------------------------------------------------------------- 4.3 full fine-tuning
SOLUTIONS["ch04_03"] = '''
def freeze_bottom(model, k):
    for p in model.bert.embeddings.parameters():
        p.requires_grad_(False)
    for layer in model.bert.encoder.layer[:k]:
        for p in layer.parameters():
            p.requires_grad_(False)
    return sum(p.numel() for p in model.parameters() if p.requires_grad)

def warmup_linear_lr(step, total_steps, warmup_steps, peak):
    if step < warmup_steps:
        return peak * (step + 1) / warmup_steps
    progress = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
    return peak * (1 - progress)
'''

HIDDEN["ch04_03"] = '''
@check.test("q1")
def freeze_all_layers(freeze_bottom):
    from course_utils.exercises.ch04 import tiny_bert_classifier
    model = tiny_bert_classifier(4, seed=1)
    head = sum(p.numel() for p in model.bert.pooler.parameters()) + sum(p.numel() for p in model.classifier.parameters())
    expect_equal(freeze_bottom(model, 4), head, "freeze_bottom(a 4-layer BERT-shaped model, 4): only the pooler and classifier train")
    expect_equal(model.bert.encoder.layer[3].linear2.weight.requires_grad, False, "the top layer's weights after freezing all 4")

@check.test("q2")
def no_warmup_and_past_the_end(warmup_linear_lr):
    from course_utils.train import TrainConfig, lr_at
    cfg = TrainConfig(max_steps=7, lr=3e-4, warmup_steps=0, schedule="linear", min_lr_ratio=0.0)
    for step in (0, 3, 6, 9):
        expect_close(warmup_linear_lr(step, 7, 0, 3e-4), lr_at(step, cfg), f"warmup_linear_lr({step}, 7, 0, 3e-4)")
'''

MUTANTS["ch04_03"] = {
    "q1_embeddings_trainable": [
        ("for p in model.bert.embeddings.parameters():",
         "for p in []:")],
    "q1_counts_without_freezing": [
        ("            p.requires_grad_(False)\n    return",
         "            pass\n    return")],
    "q2_warmup_from_zero": [
        ("peak * (step + 1) / warmup_steps",
         "peak * step / warmup_steps")],
    "q2_decay_over_all_steps": [
        ("(step - warmup_steps) / max(1, total_steps - warmup_steps)",
         "step / total_steps")],
}

# --------------------------------------------------------------------------- 4.4 LoRA
SOLUTIONS["ch04_04"] = '''
def lora_extra_params(d_in, d_out, r):
    return r * d_in + d_out * r

def lora_forward(x, W, A, B, alpha, r):
    scale = alpha / r
    return x @ W.T + scale * (x @ A.T) @ B.T
'''

HIDDEN["ch04_04"] = '''
@check.test("q1")
def minilm_query(lora_extra_params):
    expect_equal(lora_extra_params(384, 384, 8), 6144, "lora_extra_params(384, 384, 8) (MiniLM's query matrix)")
    expect_equal(lora_extra_params(384, 1536, 4), 4 * (384 + 1536), "lora_extra_params(384, 1536, 4) (a feed-forward matrix)")

@check.test("q2")
def rank_one_fractional_scale(lora_forward):
    import torch
    g = torch.Generator().manual_seed(9)
    x, W = torch.randn(5, 3, generator=g, dtype=torch.float64), torch.randn(2, 3, generator=g, dtype=torch.float64)
    A, B = torch.randn(1, 3, generator=g, dtype=torch.float64), torch.randn(2, 1, generator=g, dtype=torch.float64)
    expected = x @ (W + 0.5 * B @ A).T
    expect_close(lora_forward(x, W, A, B, 0.5, 1), expected, "lora_forward at r=1, alpha=0.5", rtol=1e-6, atol=1e-9)
'''

MUTANTS["ch04_04"] = {
    "q1_full_matrix": [
        ("return r * d_in + d_out * r",
         "return d_in * d_out")],
    "q2_scale_alpha": [
        ("scale = alpha / r",
         "scale = alpha")],
    "q2_rslora_scale": [
        ("scale = alpha / r",
         "scale = alpha / r ** 0.5")],
}

# --------------------------------------------------------------------------- 4.6 instruction tuning
SOLUTIONS["ch04_06"] = '''
import torch
import torch.nn.functional as F

def answer_only_labels(input_ids, n_prompt, end_id):
    ids = torch.as_tensor(input_ids)
    labels = torch.full_like(ids, -100)
    for t in range(n_prompt, len(ids)):
        labels[t] = ids[t]
        if ids[t] == end_id:
            break
    return labels

def answer_loss_by_hand(logits, labels):
    pred = logits[:, :-1].reshape(-1, logits.shape[-1])
    target = labels[:, 1:].reshape(-1)
    return F.cross_entropy(pred.float(), target, ignore_index=-100)
'''

HIDDEN["ch04_06"] = '''
@check.test("q1")
def no_end_token_keeps_the_rest(answer_only_labels):
    import torch
    ids = torch.tensor([4, 4, 7, 8, 9])
    expect_equal(answer_only_labels(ids, 2, 99), [-100, -100, 7, 8, 9], "answer_only_labels([4, 4, 7, 8, 9], 2, end_id=99)")

@check.test("q2")
def all_but_one_ignored(answer_loss_by_hand):
    import torch
    from course_utils import align
    g = torch.Generator().manual_seed(3)
    logits = torch.randn(1, 4, 5, generator=g)
    labels = torch.tensor([[-100, -100, -100, 4]])
    expected = align.answer_loss(lambda ids: logits, torch.zeros(1, 4, dtype=torch.long), labels)
    expect_close(answer_loss_by_hand(logits, labels), expected, "answer_loss_by_hand with one answer token", rtol=1e-5, atol=1e-6)
'''

MUTANTS["ch04_06"] = {
    "q1_drops_the_end_token": [
        ("        labels[t] = ids[t]\n        if ids[t] == end_id:\n            break",
         "        if ids[t] == end_id:\n            break\n        labels[t] = ids[t]")],
    "q2_no_shift": [
        ("pred = logits[:, :-1].reshape",
         "pred = logits[:, 1:].reshape")],
}

# --------------------------------------------------------------------------- 4.7 preference tuning
SOLUTIONS["ch04_07"] = '''
import torch
import torch.nn.functional as F

def dpo_losses(pc, pr, rc, rr, beta):
    margin = beta * ((pc - rc) - (pr - rr))
    return -F.logsigmoid(margin)

def dpo_pair_weight(pc, pr, rc, rr, beta):
    margin = beta * ((pc - rc) - (pr - rr))
    return torch.sigmoid(-margin)
'''

HIDDEN["ch04_07"] = '''
@check.test("q1")
def large_beta(dpo_losses):
    import torch
    from course_utils import align
    pc, pr = torch.tensor([-1.0, -30.0]), torch.tensor([-20.0, -2.0])
    rc, rr = torch.tensor([-5.0, -5.0]), torch.tensor([-5.0, -5.0])
    expected = torch.stack([align.dpo_loss(pc[i:i + 1], pr[i:i + 1], rc[i:i + 1], rr[i:i + 1], beta=2.0) for i in range(2)])
    expect_close(dpo_losses(pc, pr, rc, rr, 2.0), expected, "dpo_losses with beta=2 and large margins", rtol=1e-5, atol=1e-6)

@check.test("q2")
def weight_half_at_step_zero(dpo_pair_weight):
    import torch
    pc, pr = torch.tensor([-3.0, -8.0, -1.0]), torch.tensor([-2.0, -9.0, -4.0])
    expect_close(dpo_pair_weight(pc, pr, pc.clone(), pr.clone(), 0.1), torch.full((3,), 0.5), "dpo_pair_weight when policy = reference")
'''

MUTANTS["ch04_07"] = {
    "q1_no_beta": [
        ("    margin = beta * ((pc - rc) - (pr - rr))\n    return -F.logsigmoid(margin)",
         "    margin = (pc - rc) - (pr - rr)\n    return -F.logsigmoid(margin)")],
    "q1_mean_not_per_pair": [
        ("return -F.logsigmoid(margin)",
         "return -F.logsigmoid(margin).mean()")],
    "q2_sigmoid_of_the_margin": [
        ("return torch.sigmoid(-margin)",
         "return torch.sigmoid(margin)")],
}
