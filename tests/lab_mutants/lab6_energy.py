"""Wrong solutions of lab 6 (see lab1_ngrams.py for the format)."""
MUTANTS = {
    "overfit_ignore_pue": [("return hours * watts / 1000 * pue", "return hours * watts / 1000")],
    "forward_pass_only_2nd": [("return 6 * n_params * n_tokens", "return 2 * n_params * n_tokens")],
    "seconds_not_hours": [("return flops / (peak_flops * mfu) / 3600", "return flops / (peak_flops * mfu)")],
    "overfit_point_grid_for_the_bounds": [  # bounds still ordered, but too narrow
        ("kg = tuple(co2_kg(e, g) for e, g in zip(kwh, grid))", "kg = tuple(co2_kg(e, grid[1]) for e in kwh)"),
    ],
    "overfit_no_input_checks": [
        ("    if not (0 < mfu[0] and mfu[2] <= 1):\n", "    if False:\n"),
        ("        if not triple[0] <= triple[1] <= triple[2]:\n", "        if False:\n"),
    ],
}
