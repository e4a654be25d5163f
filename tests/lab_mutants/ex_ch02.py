"""Instructor side of chapter 2's exercises (course_utils.exercises.ch02): for each set, the reference
solution (SOLUTIONS, code a learner could paste in), hidden tests (HIDDEN, written like a lab's
``--hidden`` file: ``check``, ``expect_close``, ``expect_equal`` and ``math`` are predefined) and
wrong solutions (MUTANTS: (old, new) edits of the solution). tests/test_exercises.py runs them all.
"""
SOLUTIONS = {
    "ch02_01": '''
import math
import torch

def stable_softmax(x):
    e = torch.exp(x - x.max(dim=-1, keepdim=True).values)
    return e / e.sum(dim=-1, keepdim=True)

def attention_batched(q, k, v):
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    return stable_softmax(scores) @ v
''',
    "ch02_03": '''
import torch

def my_causal_mask(n):
    return torch.ones(n, n, dtype=torch.bool).tril()

def my_split_heads(x, heads):
    b, n, d = x.shape
    return x.reshape(b, n, heads, d // heads).transpose(1, 2)
''',
    "ch02_04": '''
import torch

def sinusoidal(n, d):
    pos = torch.arange(n, dtype=torch.float64)[:, None]
    angle = pos / 10000 ** (torch.arange(0, d, 2, dtype=torch.float64) / d)
    pe = torch.zeros(n, d, dtype=torch.float64)
    pe[:, 0::2] = torch.sin(angle)
    pe[:, 1::2] = torch.cos(angle)
    return pe

def layer_norm(x, eps):
    mean = x.mean(dim=-1, keepdim=True)
    var = x.var(dim=-1, keepdim=True, unbiased=False)
    return (x - mean) / torch.sqrt(var + eps)
''',
    "ch02_06": '''
def attention_flops(n, d):
    return 2 * n * n * d + 2 * n * n * d

def score_bytes(batch, heads, n, bytes_per_element):
    return batch * heads * n * n * bytes_per_element
''',
    "ch02_02": '''
import math
import torch

def score_scale(d_k, var_q, var_k):
    return math.sqrt(d_k * var_q * var_k)

def softmax_entropy(scores):
    log_w = torch.log_softmax(scores, dim=-1)
    return -(log_w.exp() * log_w).sum(dim=-1)
''',
    "ch02_05": '''
import torch

def mean_pool(hidden, attention_mask):
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * mask).sum(dim=1) / mask.sum(dim=1)

def bert_param_count(config):
    h, i = config.hidden_size, config.intermediate_size
    embeddings = (config.vocab_size + config.max_position_embeddings + config.type_vocab_size) * h + 2 * h
    layer = 4 * (h * h + h) + 2 * h + (h * i + i) + (i * h + h) + 2 * h
    pooler = h * h + h
    return embeddings + config.num_hidden_layers * layer + pooler
''',
}

HIDDEN = {
    "ch02_01": '''
@check.test("q1")
def very_negative_scores(stable_softmax):
    import torch
    x = torch.tensor([[-1000.0, -1002.0], [5.0, -5.0]], dtype=torch.float64)
    expect_close(stable_softmax(x), torch.softmax(x, dim=-1), "stable_softmax([[-1000, -1002], [5, -5]])")

@check.test("q2")
def attention_other_lengths(attention_batched):
    import torch
    g = torch.Generator().manual_seed(7)
    q = torch.randn(1, 2, 16, generator=g, dtype=torch.float64)
    k, v = torch.randn(1, 5, 16, generator=g, dtype=torch.float64), torch.randn(1, 5, 3, generator=g, dtype=torch.float64)
    expected = torch.nn.functional.scaled_dot_product_attention(q, k, v)
    expect_close(attention_batched(q, k, v), expected, "attention_batched with 2 queries, 5 keys, d_k=16, d_v=3", rtol=1e-6, atol=1e-9)
''',
    "ch02_03": '''
@check.test("q1")
def causal_1_and_7(my_causal_mask):
    import torch
    expect_equal(my_causal_mask(1), torch.ones(1, 1, dtype=torch.bool), "my_causal_mask(1)")
    expect_equal(my_causal_mask(7), torch.ones(7, 7, dtype=torch.bool).tril(), "my_causal_mask(7)")

@check.test("q2")
def four_heads(my_split_heads):
    import torch
    from course_utils import attention
    x = torch.randn(1, 5, 12, dtype=torch.float64)
    expected = attention.split_heads(x.clone(), 4)
    expect_close(my_split_heads(x, 4), expected, "my_split_heads(x of shape (1, 5, 12), 4)")
''',
    "ch02_04": '''
@check.test("q1")
def sinusoidal_long(sinusoidal):
    import torch
    from course_utils.attention import sinusoidal_positional_encoding
    expect_close(sinusoidal(50, 16), sinusoidal_positional_encoding(50, 16, dtype=torch.float64), "sinusoidal(50, 16)",
                 rtol=1e-5, atol=1e-6)

@check.test("q2")
def layer_norm_big_eps(layer_norm):
    import torch
    x = torch.tensor([[1.0, 2.0, 3.0, 4.0]], dtype=torch.float64)
    expected = torch.nn.functional.layer_norm(x, (4,), eps=0.5)
    expect_close(layer_norm(x, 0.5), expected, "layer_norm([[1, 2, 3, 4]], 0.5)", rtol=1e-6, atol=1e-9)
''',
    "ch02_06": '''
@check.test("q1")
def flops_not_square(attention_flops):
    expect_equal(attention_flops(100, 64), 4 * 100 * 100 * 64, "attention_flops(100, 64)")

@check.test("q2")
def half_precision(score_bytes):
    import torch
    t = torch.empty(1, 12, 1024, 1024, dtype=torch.float16)
    expect_equal(score_bytes(1, 12, 1024, 2), t.numel() * t.element_size(), "score_bytes(1, 12, 1024, 2)")
''',
    "ch02_02": '''
@check.test("q1")
def wide_head_and_small_entries(score_scale):
    expect_close(score_scale(1024, 1.0, 1.0), 32.0, "score_scale(1024, 1.0, 1.0)")
    expect_close(score_scale(3, 0.5, 2.0), math.sqrt(3), "score_scale(3, 0.5, 2.0)")

@check.test("q2")
def entropy_of_a_batch_of_heads(softmax_entropy):
    import torch
    g = torch.Generator().manual_seed(5)
    s = torch.randn(2, 3, 6, generator=g, dtype=torch.float64) * 40
    expected = torch.distributions.Categorical(logits=s).entropy()
    expect_close(softmax_entropy(s), expected, "softmax_entropy(scores of shape (2, 3, 6), scale 40)", rtol=1e-6, atol=1e-9)
''',
    "ch02_05": '''
@check.test("q1")
def pooling_float_mask_three_sentences(mean_pool):
    import torch
    g = torch.Generator().manual_seed(6)
    hidden = torch.randn(3, 4, 2, generator=g, dtype=torch.float64)
    mask = torch.tensor([[1.0, 0, 0, 0], [1, 1, 1, 0], [1, 1, 1, 1]], dtype=torch.float64)
    expected = torch.stack([hidden[0, :1].mean(0), hidden[1, :3].mean(0), hidden[2].mean(0)])
    expect_close(mean_pool(hidden, mask), expected, "mean_pool(3 sentences of 1, 3 and 4 tokens)", rtol=1e-6, atol=1e-9)

@check.test("q2")
def count_another_bert(bert_param_count):
    from transformers import BertConfig, BertModel
    config = BertConfig(vocab_size=50, hidden_size=12, num_hidden_layers=3, num_attention_heads=3,
                        intermediate_size=48, max_position_embeddings=20, type_vocab_size=1)
    expected = sum(p.numel() for p in BertModel(config).parameters())
    expect_equal(bert_param_count(config), expected, "bert_param_count(a 3-layer, 12-wide BertConfig, 1 token type)")
''',
}

MUTANTS = {
    "ch02_01": {
        "q1_no_max_shift": [("torch.exp(x - x.max(dim=-1, keepdim=True).values)", "torch.exp(x)")],
        "q2_no_scaling": [(" / math.sqrt(q.shape[-1])", "")],
    },
    "ch02_03": {
        "q1_strict_past": [("dtype=torch.bool).tril()", "dtype=torch.bool).tril(-1)")],
        "q2_no_transpose": [("return x.reshape(b, n, heads, d // heads).transpose(1, 2)",
                             "return x.reshape(b, heads, n, d // heads)")],
    },
    "ch02_04": {
        "q1_sin_cos_swapped": [("pe[:, 0::2] = torch.sin(angle)", "pe[:, 0::2] = torch.cos(angle)"),
                               ("pe[:, 1::2] = torch.cos(angle)", "pe[:, 1::2] = torch.sin(angle)")],
        "q2_unbiased_variance": [("unbiased=False", "unbiased=True")],
    },
    "ch02_06": {
        "q1_one_product_only": [("return 2 * n * n * d + 2 * n * n * d", "return 2 * n * n * d")],
        "q2_linear_in_n": [("batch * heads * n * n * bytes_per_element", "batch * heads * n * bytes_per_element")],
    },
    "ch02_02": {
        "q1_ignores_the_entry_variances": [("math.sqrt(d_k * var_q * var_k)", "math.sqrt(d_k)")],
        "q2_log_of_a_saturated_softmax": [("torch.log_softmax(scores, dim=-1)", "torch.log(torch.softmax(scores, dim=-1))")],
    },
    "ch02_05": {
        "q1_counts_padding": [("/ mask.sum(dim=1)", "/ hidden.shape[1]")],
        "q2_forgets_the_pooler": [("+ config.num_hidden_layers * layer + pooler", "+ config.num_hidden_layers * layer")],
    },
}

# --------------------------------------------------------------------------- 2.7 attention in a real LLM
SOLUTIONS["ch02_07"] = '''
import math
import torch

def repeat_kv(kv, n_head):
    group = n_head // kv.shape[1]
    return kv.repeat_interleave(group, dim=1)

def gqa_weights(q, k):
    k = repeat_kv(k, q.shape[1])
    t = q.shape[-2]
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    mask = torch.ones(t, t, dtype=torch.bool, device=q.device).tril()
    return torch.softmax(scores.masked_fill(~mask, float("-inf")), dim=-1)

def previous_token_share(weights):
    return weights.diagonal(offset=-1, dim1=-2, dim2=-1).mean(dim=-1)
'''

HIDDEN["ch02_07"] = '''
@check.test("q1")
def repeat_kv_other_groups(repeat_kv):
    import torch
    kv = torch.randn(1, 3, 4, 2, dtype=torch.float64)
    out = repeat_kv(kv, 9)
    expect_equal(tuple(out.shape), (1, 9, 4, 2), "repeat_kv(kv with 3 heads, 9).shape (SmolLM2's grouping)")
    for h in range(9):
        expect_close(out[:, h], kv[:, h // 3], f"repeat_kv(kv, 9)[:, {h}] must be kv head {h // 3}")
    expect_close(repeat_kv(kv, 3), kv, "repeat_kv(kv with 3 heads, 3): one query head per kv head changes nothing")

@check.test("q2")
def gqa_weights_against_the_fused_kernel(gqa_weights):
    import torch
    g = torch.Generator().manual_seed(3)
    q = torch.randn(2, 6, 7, 16, generator=g, dtype=torch.float64)
    k = torch.randn(2, 2, 7, 16, generator=g, dtype=torch.float64)
    v = torch.randn(2, 2, 7, 16, generator=g, dtype=torch.float64)
    w = gqa_weights(q, k)
    expect_close(w.sum(-1), torch.ones(2, 6, 7, dtype=torch.float64), "every row of gqa_weights sums to 1")
    expected = torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)
    expect_close(w @ v.repeat_interleave(3, dim=1), expected,
                 "gqa_weights(q, k) @ repeated v against F.scaled_dot_product_attention(..., is_causal=True, enable_gqa=True)",
                 rtol=1e-6, atol=1e-9)

@check.test("q3")
def previous_token_share_of_a_batch(previous_token_share):
    import torch
    g = torch.Generator().manual_seed(4)
    s = torch.randn(2, 3, 6, 6, generator=g, dtype=torch.float64)
    w = torch.softmax(s.masked_fill(torch.ones(6, 6, dtype=torch.bool).triu(1), float("-inf")), dim=-1)
    expected = torch.stack([w[..., i, i - 1] for i in range(1, 6)], dim=-1).mean(-1)
    expect_close(previous_token_share(w), expected, "previous_token_share(weights of shape (2, 3, 6, 6))")
'''

MUTANTS["ch02_07"] = {
    "q1_tiles_instead_of_groups": [("kv.repeat_interleave(group, dim=1)", "kv.repeat(1, group, 1, 1)")],
    "q2_no_causal_mask": [('scores.masked_fill(~mask, float("-inf"))', "scores")],
    "q3_reads_the_diagonal": [("offset=-1", "offset=0")],
}
