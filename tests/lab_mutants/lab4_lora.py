"""Wrong solutions of lab 4 (see lab1_ngrams.py for the format)."""
MUTANTS = {
    "overfit_square_count": [
        ("return r * (d_in + d_out)", "return 2 * r * d_in"),
    ],
    "overfit_scale_by_alpha_only": [
        ("return self.base(x) + (self.alpha / self.r) * (x @ self.lora_A.T @ self.lora_B.T)",
         "return self.base(x) + (x @ self.lora_A.T @ self.lora_B.T)"),
    ],
    "overfit_merge_without_scale": [
        ("merged.weight.copy_(layer.base.weight + (layer.alpha / layer.r) * layer.lora_B @ layer.lora_A)",
         "merged.weight.copy_(layer.base.weight + layer.lora_B @ layer.lora_A)"),
    ],
    "merge_in_place": [
        ("    merged = nn.Linear(layer.base.in_features, layer.base.out_features)\n",
         "    merged = layer.base\n"),
    ],
    "overfit_rank_8_whatever_the_budget": [  # within the public test's budget, over the hidden ones
        ("    if r == 0:\n", "    r = 8\n    if r == 0:\n"),
    ],
    "count_the_frozen_weights_too": [
        ("n = sum(p.numel() for p in layer.parameters() if p.requires_grad)", "n = sum(p.numel() for p in layer.parameters())"),
    ],
}
