"""Wrong solutions of lab 2 (see lab1_ngrams.py for the format)."""
MUTANTS = {
    "overfit_transpose_first_two_axes": [
        ("scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])", "scores = q @ k.transpose(0, 1) / math.sqrt(q.shape[-1])"),
    ],
    "mask_by_multiplying_scores": [
        ('scores = scores.masked_fill(~mask, float("-inf"))', "scores = scores * mask"),
    ],
    "upper_triangular_mask": [
        ("return torch.ones(n, n, dtype=torch.bool).tril()", "return torch.ones(n, n, dtype=torch.bool).triu()"),
    ],
    "overfit_always_causal_mask": [  # right with the causal mask only: wrong with mask=None or padding
        ("return attention_weights(q, k, mask) @ v", "return attention_weights(q, k, causal_mask(q.shape[-2])) @ v"),
    ],
    "overfit_interleaved_head_features": [  # the same as contiguous slices with one head
        ("for s in (slice(h * d, (h + 1) * d) for h in range(n_heads))", "for s in (slice(h, e, n_heads) for h in range(n_heads))"),
    ],
    "self_attention_without_the_mask": [
        ("    mask = causal_mask(t)\n", "    mask = None\n"),
    ],
}
