"""Wrong solutions of lab 3 (see lab1_ngrams.py for the format)."""
MUTANTS = {
    "overfit_count_pairs_without_frequency": [
        ("counts[pair] = counts.get(pair, 0) + freq", "counts[pair] = counts.get(pair, 0) + 1"),
    ],
    "overfit_top_p_assumes_sorted_input": [
        ("sorted_probs, order = torch.sort(probs, descending=True)", "sorted_probs, order = probs, torch.arange(len(probs))"),
    ],
    "drop_the_token_that_crosses_p": [
        ("keep_sorted = before < p", "keep_sorted = torch.cumsum(sorted_probs, 0) < p"),
    ],
    "merge_without_skipping": [
        ("                i += 2\n", "                i += 1\n"),
    ],
}
