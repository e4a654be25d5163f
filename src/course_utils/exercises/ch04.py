"""Chapter 4's checked exercises (see course_utils.exercises)."""
from __future__ import annotations

from course_utils.exercises import exercise_set  # noqa: F401  (sets are added here)
from course_utils.grading import expect_close, expect_equal


# --------------------------------------------------------------------------- 4.5 results and errors
ch04_05 = exercise_set("ch04_05", "Reading a results table", {
    "q1": "the share of a model's parameters that is trained",
    "q2": "a gap between two methods in standard errors (seed noise)",
    "q3": "the expected calibration error",
})


@ch04_05.test("q1")
def share_with_a_frozen_layer(trainable_share):
    import torch

    from course_utils.grading import expect_close

    model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Linear(3, 2))   # 15 + 8 numbers
    model[0].requires_grad_(False)
    expect_close(trainable_share(model), 8 / 23, "trainable_share(Linear(4, 3) frozen, Linear(3, 2) trained)")


@ch04_05.test("q2")
def gap_of_two_small_samples(gap_in_standard_errors):
    import numpy as np

    from course_utils.grading import expect_close

    a, b = [0.89, 0.88, 0.90], [0.87, 0.88, 0.86, 0.87]
    se = np.sqrt(np.var(a, ddof=1) / 3 + np.var(b, ddof=1) / 4)
    expect_close(gap_in_standard_errors(a, b), (np.mean(a) - np.mean(b)) / se,
                 f"gap_in_standard_errors({a}, {b})", rtol=1e-9, atol=1e-12)


@ch04_05.test("q3")
def ece_of_two_bins(expected_calibration_error):
    from course_utils.grading import expect_close

    confidence = [0.6, 0.6, 0.9, 0.9, 0.9, 0.9]
    correct = [True, False, True, True, True, False]
    # bin [0.5, 0.75): confidence 0.6, accuracy 0.5, 2 of 6; bin [0.75, 1]: confidence 0.9, accuracy 0.75, 4 of 6
    expected = 2 / 6 * abs(0.5 - 0.6) + 4 / 6 * abs(0.75 - 0.9)
    expect_close(expected_calibration_error(confidence, correct, [0.5, 0.75, 1.0]), expected,
                 "expected_calibration_error(6 predictions, edges [0.5, 0.75, 1.0])", rtol=1e-9, atol=1e-12)


# --------------------------------------------------------------------------- 4.1 encoder to classifier
ch04_01 = exercise_set("ch04_01", "From a pretrained encoder to a classifier", {
    "q1": "mean pooling that ignores the padding",
    "q2": "parameters of BERT's classification head (pooler and classifier)",
})


@ch04_01.test("q1")
def mean_pool_small_batch(masked_mean_pool):
    import torch

    g = torch.Generator().manual_seed(0)
    hidden = torch.randn(2, 4, 3, generator=g, dtype=torch.float64)
    mask = torch.tensor([[1, 1, 1, 0], [1, 1, 0, 0]])
    expected = torch.stack([hidden[0, :3].mean(0), hidden[1, :2].mean(0)])
    expect_close(masked_mean_pool(hidden, mask), expected,
                 "masked_mean_pool(hidden of shape (2, 4, 3), mask [[1, 1, 1, 0], [1, 1, 0, 0]])")


@ch04_01.test("q1")
def padding_values_do_not_matter(masked_mean_pool):
    import torch

    g = torch.Generator().manual_seed(1)
    hidden = torch.randn(1, 5, 4, generator=g, dtype=torch.float64)
    mask = torch.tensor([[1, 1, 0, 0, 0]])
    noisy = hidden.clone()
    noisy[:, 2:] = 1e6   # what sits at padded positions must not change the result
    expect_close(masked_mean_pool(noisy, mask), hidden[:, :2].mean(1),
                 "masked_mean_pool with huge values at the padded positions")


@ch04_01.test("q2")
def head_count_small(head_param_count):
    import torch

    d, labels = 8, 3
    layers = (torch.nn.Linear(d, d), torch.nn.Linear(d, labels))   # pooler.dense, classifier
    expected = sum(p.numel() for layer in layers for p in layer.parameters())
    expect_equal(head_param_count(d, labels), expected, f"head_param_count({d}, {labels})")


# --------------------------------------------------------------------------- 4.2 linear probe
ch04_02 = exercise_set("ch04_02", "Linear probe", {
    "q1": "accuracy of a logistic-regression probe from its weights",
    "q2": "mean log-loss (binary cross-entropy) of the probe",
})


def _probe_data(seed: int, n: int = 40, d: int = 5):
    """Toy features, 0/1 labels and a weight vector and bias (numpy)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    w, b = rng.normal(size=d), float(rng.normal())
    y = (X @ w + b + rng.normal(scale=1.5, size=n) > 0).astype(int)
    return X, y, w, b


@ch04_02.test("q1")
def probe_accuracy_toy(probe_accuracy):
    import numpy as np

    X, y, w, b = _probe_data(0)
    expected = float(np.mean(((X @ w + b) > 0).astype(int) == y))
    expect_close(probe_accuracy(w, b, X, y), expected, "probe_accuracy(w, b, X, y) on 40 toy examples")


@ch04_02.test("q1")
def probe_accuracy_all_right(probe_accuracy):
    import numpy as np

    X = np.array([[1.0, 0.0], [-1.0, 0.0], [2.0, 1.0]])
    expect_close(probe_accuracy(np.array([1.0, 0.0]), 0.0, X, np.array([1, 0, 1])), 1.0,
                 "probe_accuracy(w=[1, 0], b=0, X, y) where every sign is right")


@ch04_02.test("q2")
def log_loss_toy(probe_log_loss):
    import numpy as np

    X, y, w, b = _probe_data(1)
    z = X @ w + b
    expected = float(np.mean(np.logaddexp(0.0, -(2 * y - 1) * z)))   # -log sigmoid(+-z)
    expect_close(probe_log_loss(w, b, X, y), expected, "probe_log_loss(w, b, X, y) on 40 toy examples")


@ch04_02.test("q2")
def log_loss_of_zero_weights_is_ln2(probe_log_loss):
    import math

    import numpy as np

    X, y, w, _ = _probe_data(2)
    expect_close(probe_log_loss(np.zeros_like(w), 0.0, X, y), math.log(2),
                 "probe_log_loss with w = 0 and b = 0 (a 50/50 guess)")


# --------------------------------------------------------------------------- 4.3 full fine-tuning
ch04_03 = exercise_set("ch04_03", "Full fine-tuning", {
    "q1": "freezing the embeddings and the bottom layers, and counting what still trains",
    "q2": "linear warmup then linear decay of the learning rate",
})


def tiny_bert_classifier(layers: int = 3, seed: int = 0, d: int = 8):
    """A small random model with the layout of BertForSequenceClassification (``model.bert.embeddings``,
    ``model.bert.encoder.layer[i]``, ``model.bert.pooler``, ``model.classifier``), built from torch.nn
    alone: fast, and nothing to download."""
    import torch
    from torch import nn

    torch.manual_seed(seed)
    model = nn.Module()
    model.bert = nn.Module()
    model.bert.embeddings = nn.Sequential(nn.Embedding(50, d), nn.LayerNorm(d))
    model.bert.encoder = nn.Module()
    model.bert.encoder.layer = nn.ModuleList(nn.TransformerEncoderLayer(d, 2, 2 * d, batch_first=True)
                                             for _ in range(layers))
    model.bert.pooler = nn.Linear(d, d)
    model.classifier = nn.Linear(d, 2)
    return model


def _count(params) -> int:
    return sum(p.numel() for p in params)


@ch04_03.test("q1")
def freeze_two_of_three(freeze_bottom):
    model = tiny_bert_classifier(3)
    frozen = _count(model.bert.embeddings.parameters()) + _count(model.bert.encoder.layer[:2].parameters())
    expected = _count(model.parameters()) - frozen
    returned = freeze_bottom(model, 2)
    expect_equal(returned, expected, "freeze_bottom(a 3-layer BERT-shaped model, 2): the returned count")
    still = _count(p for p in model.parameters() if p.requires_grad)
    expect_equal(still, expected, "parameters with requires_grad=True after freeze_bottom(model, 2)")


@ch04_03.test("q1")
def freeze_none_keeps_the_layers(freeze_bottom):
    model = tiny_bert_classifier(2)
    expected = _count(model.parameters()) - _count(model.bert.embeddings.parameters())
    expect_equal(freeze_bottom(model, 0), expected, "freeze_bottom(a 2-layer BERT-shaped model, 0): only the embeddings frozen")


@ch04_03.test("q2")
def matches_lr_at(warmup_linear_lr):
    from course_utils.train import TrainConfig, lr_at

    cfg = TrainConfig(max_steps=20, lr=1e-3, warmup_steps=4, schedule="linear", min_lr_ratio=0.0)
    for step in (0, 1, 3, 4, 10, 19):
        expect_close(warmup_linear_lr(step, 20, 4, 1e-3), lr_at(step, cfg),
                     f"warmup_linear_lr({step}, total_steps=20, warmup_steps=4, peak=1e-3)")


# --------------------------------------------------------------------------- 4.4 LoRA
ch04_04 = exercise_set("ch04_04", "Parameter-efficient fine-tuning: LoRA", {
    "q1": "LoRA's extra parameters for one Linear(d_in, d_out) at rank r",
    "q2": "a LoRA forward pass: W x + (alpha / r) B A x",
})


@ch04_04.test("q1")
def lora_count_small(lora_extra_params):
    import torch

    d_in, d_out, r = 12, 5, 3
    A, B = torch.nn.Linear(d_in, r, bias=False), torch.nn.Linear(r, d_out, bias=False)
    expect_equal(lora_extra_params(d_in, d_out, r), _count(A.parameters()) + _count(B.parameters()),
                 f"lora_extra_params({d_in}, {d_out}, {r})")


@ch04_04.test("q2")
def lora_forward_merged(lora_forward):
    import torch

    g = torch.Generator().manual_seed(0)
    d_in, d_out, r, alpha = 6, 4, 2, 8.0
    x, W = torch.randn(3, d_in, generator=g, dtype=torch.float64), torch.randn(d_out, d_in, generator=g, dtype=torch.float64)
    A, B = torch.randn(r, d_in, generator=g, dtype=torch.float64), torch.randn(d_out, r, generator=g, dtype=torch.float64)
    expected = torch.nn.functional.linear(x, W + (alpha / r) * B @ A)   # the merged weight
    expect_close(lora_forward(x, W, A, B, alpha, r), expected,
                 "lora_forward(x (3, 6), W (4, 6), A (2, 6), B (4, 2), alpha=8, r=2)", rtol=1e-6, atol=1e-9)


@ch04_04.test("q2")
def b_zero_is_the_base_model(lora_forward):
    import torch

    g = torch.Generator().manual_seed(1)
    x, W = torch.randn(2, 5, generator=g, dtype=torch.float64), torch.randn(3, 5, generator=g, dtype=torch.float64)
    A, B = torch.randn(4, 5, generator=g, dtype=torch.float64), torch.zeros(3, 4, dtype=torch.float64)
    expect_close(lora_forward(x, W, A, B, 16.0, 4), x @ W.T, "lora_forward with B = 0 (LoRA's initialisation)",
                 rtol=1e-6, atol=1e-9)


# --------------------------------------------------------------------------- 4.6 instruction tuning
ch04_06 = exercise_set("ch04_06", "Instruction tuning", {
    "q1": "the answer-only labels of a chat example",
    "q2": "the mean cross-entropy over the answer tokens",
})


@ch04_06.test("q1")
def answer_labels_small(answer_only_labels):
    import torch

    ids = torch.tensor([5, 6, 7, 1, 9, 8, 2, 10])   # prompt (4 tokens), answer 9 8, end-of-turn 2, newline 10
    expected = torch.tensor([-100, -100, -100, -100, 9, 8, 2, -100])
    expect_equal(answer_only_labels(ids, 4, 2), expected.tolist(), "answer_only_labels([5, 6, 7, 1, 9, 8, 2, 10], 4, 2)")


@ch04_06.test("q1")
def end_token_inside_the_prompt_is_not_the_end(answer_only_labels):
    import torch

    ids = torch.tensor([2, 3, 2, 4, 4, 2])   # the end id also occurs in the prompt
    expect_equal(answer_only_labels(ids, 3, 2), [-100, -100, -100, 4, 4, 2],
                 "answer_only_labels([2, 3, 2, 4, 4, 2], 3, 2)")


@ch04_06.test("q2")
def matches_align_answer_loss(answer_loss_by_hand):
    import torch

    from course_utils import align

    g = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 6, 7, generator=g)
    labels = torch.tensor([[-100, -100, -100, 3, 5, -100], [-100, -100, 1, 2, 6, 0]])
    expected = align.answer_loss(lambda ids: logits, torch.zeros(2, 6, dtype=torch.long), labels)
    expect_close(answer_loss_by_hand(logits, labels), expected, "answer_loss_by_hand(logits (2, 6, 7), labels)",
                 rtol=1e-5, atol=1e-6)


# --------------------------------------------------------------------------- 4.7 preference tuning
ch04_07 = exercise_set("ch04_07", "Preference tuning: DPO", {
    "q1": "the DPO loss of each pair from four log-probabilities",
    "q2": "how strongly DPO's gradient pushes each pair",
})


def _four_logps(seed: int, n: int = 5):
    import torch

    g = torch.Generator().manual_seed(seed)
    return [torch.randn(n, generator=g, dtype=torch.float64) * 5 - 10 for _ in range(4)]


@ch04_07.test("q1")
def per_pair_matches_align(dpo_losses):
    import torch

    from course_utils import align

    pc, pr, rc, rr = _four_logps(0)
    expected = torch.stack([align.dpo_loss(pc[i:i + 1], pr[i:i + 1], rc[i:i + 1], rr[i:i + 1], beta=0.1)
                            for i in range(len(pc))])
    expect_close(dpo_losses(pc, pr, rc, rr, 0.1), expected, "dpo_losses(pc, pr, rc, rr, beta=0.1) for 5 pairs")


@ch04_07.test("q1")
def policy_equal_to_reference_gives_ln2(dpo_losses):
    import math

    import torch

    pc, pr, _, _ = _four_logps(1, 3)
    expect_close(dpo_losses(pc, pr, pc.clone(), pr.clone(), 0.5), torch.full((3,), math.log(2), dtype=torch.float64),
                 "dpo_losses when the policy is the reference (step 0)")


@ch04_07.test("q2")
def weight_is_the_gradient(dpo_pair_weight):
    from course_utils import align

    pc, pr, rc, rr = _four_logps(2)
    beta, n = 0.1, len(pc)
    pc = pc.clone().requires_grad_(True)
    (align.dpo_loss(pc, pr, rc, rr, beta) * n).backward()   # the summed loss: d/d pc_i = -beta * weight_i
    expect_close(dpo_pair_weight(pc.detach(), pr, rc, rr, beta), -pc.grad / beta,
                 "dpo_pair_weight(pc, pr, rc, rr, beta=0.1) against autograd's gradient of align.dpo_loss",
                 rtol=1e-6, atol=1e-9)
