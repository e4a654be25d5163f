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
}
