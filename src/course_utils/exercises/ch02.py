"""Chapter 2's checked exercises (see course_utils.exercises)."""
from __future__ import annotations


from course_utils.exercises import exercise_set
from course_utils.grading import expect_close, expect_equal

# --------------------------------------------------------------------------- 2.1 attention from the formula
ch02_01 = exercise_set("ch02_01", "Attention from the formula", {
    "q1": "a numerically stable softmax over the last dimension",
    "q2": "scaled dot-product attention",
})


@ch02_01.test("q1")
def softmax_small(stable_softmax):
    import torch

    x = torch.tensor([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]], dtype=torch.float64)
    expect_close(stable_softmax(x), torch.softmax(x, dim=-1), "stable_softmax([[1, 2, 3], [0, 0, 0]])")


@ch02_01.test("q1")
def softmax_large_scores(stable_softmax):
    import torch

    x = torch.tensor([[1000.0, 1001.0, 999.0]], dtype=torch.float64)
    expect_close(stable_softmax(x), torch.softmax(x, dim=-1), "stable_softmax([[1000, 1001, 999]]) (does it overflow?)")


@ch02_01.test("q2")
def attention_matches_torch(attention_batched):
    import torch

    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(2, 3, 8, generator=g, dtype=torch.float64) for _ in range(3))
    expected = torch.nn.functional.scaled_dot_product_attention(q, k, v)
    expect_close(attention_batched(q, k, v), expected, "attention_batched(q, k, v) against F.scaled_dot_product_attention",
                 rtol=1e-6, atol=1e-9)


# --------------------------------------------------------------------------- 2.3 masks and multi-head
ch02_03 = exercise_set("ch02_03", "Masks and multi-head attention", {
    "q1": "a causal mask",
    "q2": "splitting the features into heads",
})


@ch02_03.test("q1")
def causal_4(my_causal_mask):
    import torch

    expect_equal(my_causal_mask(4), torch.ones(4, 4, dtype=torch.bool).tril(), "my_causal_mask(4)")


@ch02_03.test("q2")
def split_heads_matches_the_package(my_split_heads):
    import torch

    from course_utils import attention

    x = torch.arange(2 * 3 * 8, dtype=torch.float64).reshape(2, 3, 8)
    expected = attention.split_heads(x.clone(), 2)
    expect_close(my_split_heads(x, 2), expected, "my_split_heads(x of shape (2, 3, 8), 2)")


# --------------------------------------------------------------------------- 2.4 position and the block
ch02_04 = exercise_set("ch02_04", "Position and the block", {
    "q1": "sinusoidal positional encoding",
    "q2": "layer normalisation without learned scale and shift",
})


@ch02_04.test("q1")
def sinusoidal_small(sinusoidal):
    from course_utils.attention import sinusoidal_positional_encoding

    import torch

    expect_close(sinusoidal(5, 6), sinusoidal_positional_encoding(5, 6, dtype=torch.float64), "sinusoidal(5, 6)",
                 rtol=1e-5, atol=1e-6)


@ch02_04.test("q2")
def layer_norm_matches_torch(layer_norm):
    import torch

    g = torch.Generator().manual_seed(1)
    x = torch.randn(3, 6, generator=g, dtype=torch.float64) * 4 + 2
    expected = torch.nn.functional.layer_norm(x, (6,), eps=1e-5)
    expect_close(layer_norm(x, 1e-5), expected, "layer_norm(x of shape (3, 6), 1e-5) against F.layer_norm",
                 rtol=1e-6, atol=1e-9)


# --------------------------------------------------------------------------- 2.6 cost
ch02_06 = exercise_set("ch02_06", "The cost of attention", {
    "q1": "FLOPs of the two attention matrix products",
    "q2": "memory of the attention scores",
})


@ch02_06.test("q1")
def flops_small(attention_flops):
    n, d = 8, 4
    qk = 2 * n * n * d  # (n x d) @ (d x n): n*n outputs, d multiply-adds each, 2 FLOPs per multiply-add
    av = 2 * n * n * d  # (n x n) @ (n x d)
    expect_equal(attention_flops(n, d), qk + av, f"attention_flops({n}, {d})")


@ch02_06.test("q2")
def score_memory_matches_a_tensor(score_bytes):
    import torch

    b, h, n = 2, 3, 16
    t = torch.empty(b, h, n, n, dtype=torch.float32)
    expect_equal(score_bytes(b, h, n, 4), t.numel() * t.element_size(), f"score_bytes({b}, {h}, {n}, 4)")


# --------------------------------------------------------------------------- 2.2 why sqrt(d_k)
ch02_02 = exercise_set("ch02_02", "Why divide by sqrt(d_k)", {
    "q1": "the divisor that gives the scores unit variance",
    "q2": "the entropy of the softmax weights, safe when the softmax saturates",
})


@ch02_02.test("q1")
def scale_matches_a_measurement(score_scale):
    import torch

    g = torch.Generator().manual_seed(0)
    d_k, std_q, std_k = 16, 2.0, 1.0
    q = torch.randn(20_000, d_k, generator=g, dtype=torch.float64) * std_q
    k = torch.randn(20_000, d_k, generator=g, dtype=torch.float64) * std_k
    measured = (q * k).sum(-1).var().item()
    expect_close(score_scale(d_k, std_q ** 2, std_k ** 2) ** 2, measured,
                 f"score_scale({d_k}, {std_q ** 2}, {std_k ** 2}) squared against the measured Var(q.k)", rtol=0.05)


@ch02_02.test("q1")
def scale_unit_entries(score_scale):
    expect_close(score_scale(64, 1.0, 1.0), 8.0, "score_scale(64, 1.0, 1.0)")


@ch02_02.test("q2")
def entropy_matches_torch(softmax_entropy):
    import torch

    g = torch.Generator().manual_seed(1)
    s = torch.randn(4, 7, generator=g, dtype=torch.float64) * 3
    expected = torch.distributions.Categorical(logits=s).entropy()
    expect_close(softmax_entropy(s), expected, "softmax_entropy(scores of shape (4, 7))", rtol=1e-6, atol=1e-9)


@ch02_02.test("q2")
def entropy_uniform_and_saturated(softmax_entropy):
    import math

    import torch

    s = torch.tensor([[0.0] * 8, [2000.0] + [0.0] * 7], dtype=torch.float64)
    expect_close(softmax_entropy(s), torch.tensor([math.log(8), 0.0], dtype=torch.float64),
                 "softmax_entropy([uniform over 8, one score 2000 above the rest]) (nan means log(0) was taken)",
                 atol=1e-9)


# --------------------------------------------------------------------------- 2.5 inside MiniLM
ch02_05 = exercise_set("ch02_05", "Looking inside MiniLM", {
    "q1": "mean pooling over the real (unpadded) tokens",
    "q2": "the number of parameters of a BERT encoder from its config",
})


@ch02_05.test("q1")
def pooling_ignores_padding(mean_pool):
    import torch

    g = torch.Generator().manual_seed(2)
    hidden = torch.randn(2, 5, 4, generator=g, dtype=torch.float64)
    mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 0, 0, 0]])
    expected = torch.stack([hidden[0].mean(0), hidden[1, :2].mean(0)])
    expect_close(mean_pool(hidden, mask), expected,
                 "mean_pool(hidden of shape (2, 5, 4), mask with 5 and 2 real tokens)", rtol=1e-6, atol=1e-9)


@ch02_05.test("q2")
def count_a_tiny_bert(bert_param_count):
    from transformers import BertConfig, BertModel

    config = BertConfig(vocab_size=100, hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=24, max_position_embeddings=32, type_vocab_size=2)
    expected = sum(p.numel() for p in BertModel(config).parameters())
    expect_equal(bert_param_count(config), expected, "bert_param_count(a 2-layer, 16-wide BertConfig) against BertModel")


# --------------------------------------------------------------------------- 2.7 attention in a real LLM
ch02_07 = exercise_set("ch02_07", "Attention inside a real decoder", {
    "q1": "repeating each key/value head for its group of query heads",
    "q2": "causal attention weights of grouped-query attention",
    "q3": "the share of attention a head gives to the previous token",
})


@ch02_07.test("q1")
def repeat_kv_groups_in_order(repeat_kv):
    import torch

    kv = torch.arange(2 * 2 * 3 * 4, dtype=torch.float64).reshape(2, 2, 3, 4)   # 2 key/value heads
    expect_close(repeat_kv(kv, 6), kv.repeat_interleave(3, dim=1),
                 "repeat_kv(kv with 2 heads, 6): query heads 0-2 read kv head 0, heads 3-5 kv head 1")


@ch02_07.test("q2")
def gqa_weights_match_the_formula(gqa_weights):
    import math

    import torch

    g = torch.Generator().manual_seed(0)
    q = torch.randn(1, 4, 5, 8, generator=g, dtype=torch.float64)
    k = torch.randn(1, 2, 5, 8, generator=g, dtype=torch.float64)
    scores = q @ k.repeat_interleave(2, dim=1).transpose(-2, -1) / math.sqrt(8)
    future = torch.ones(5, 5, dtype=torch.bool).triu(1)
    expected = torch.softmax(scores.masked_fill(future, float("-inf")), dim=-1)
    expect_close(gqa_weights(q, k), expected, "gqa_weights(q with 4 heads, k with 2 heads, 5 tokens, d=8)",
                 rtol=1e-6, atol=1e-9)


@ch02_07.test("q3")
def previous_token_share_small(previous_token_share):
    import torch

    w = torch.tensor([[[1.0, 0.0, 0.0], [0.25, 0.75, 0.0], [0.1, 0.6, 0.3]],     # head 0
                      [[1.0, 0.0, 0.0], [1.0, 0.0, 0.0], [1.0, 0.0, 0.0]]],     # head 1: only the first token
                     dtype=torch.float64)
    expect_close(previous_token_share(w), torch.tensor([(0.25 + 0.6) / 2, (1.0 + 0.0) / 2], dtype=torch.float64),
                 "previous_token_share(weights of 2 heads over 3 tokens)")
