"""Wrong solutions of lab 6 (see lab1_ngrams.py for the format)."""
MUTANTS = {
    "overfit_ignore_pue": [("return hours * watts / 1000 * pue", "return hours * watts / 1000")],
    "forward_pass_only_2nd": [("return 6 * n_params * n_tokens", "return 2 * n_params * n_tokens")],
    "seconds_not_hours": [("return flops / (peak_flops * mfu) / 3600", "return flops / (peak_flops * mfu)")],
}
