"""Wrong solutions of lab 4 (see lab1_ngrams.py for the format)."""
MUTANTS = {
    "overfit_square_count": [
        ("return r * (d_in + d_out)", "return 2 * r * d_in"),
    ],
    "overfit_scale_by_alpha_only": [
        ("return self.base(x) + (self.alpha / self.r) * (x @ self.lora_A.T @ self.lora_B.T)",
         "return self.base(x) + (x @ self.lora_A.T @ self.lora_B.T)"),
    ],
    "base_not_frozen": [
        ("            p.requires_grad_(False)", "            p.requires_grad_(True)"),
    ],
}
