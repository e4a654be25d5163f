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
    "overfit_count_each_pair_once_per_word": [
        ("for pair in zip(word, word[1:]):", "for pair in set(zip(word, word[1:])):"),
    ],
    "overfit_merge_by_string_replace": [  # right while every symbol is one character
        ("""        merged, i = [], 0
        while i < len(word):
            if i + 1 < len(word) and (word[i], word[i + 1]) == tuple(pair):
                merged.append(word[i] + word[i + 1])
                i += 2
            else:
                merged.append(word[i])
                i += 1
        key = tuple(merged)
""", """        text = " ".join(word).replace(pair[0] + " " + pair[1], pair[0] + pair[1])
        key = tuple(text.split(" "))
"""),
    ],
    "overfit_ratio_on_the_training_text": [  # right when the two texts are the same, as in the public test
        ("    for w in test_text.split():\n", "    for w in train_text.split():\n"),
    ],
    "ratio_counts_whitespace": [
        ("    n_chars = sum(len(w) * f for w, f in test.items())\n", "    n_chars = len(test_text)\n"),
    ],
}
