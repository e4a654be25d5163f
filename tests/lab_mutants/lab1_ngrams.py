"""Wrong solutions of lab 1: each is the instructor notebook with these (old, new) source edits.

Names starting with "overfit" pass every public test and must be caught by the hidden tests.
"""
MUTANTS = {
    "count_all_occurrences_as_history": [
        ("history = sum(1 for a in tokens[:-1] if a == prev)", "history = tokens.count(prev)"),
    ],
    "overfit_perplexity_first_token_only": [
        ("return math.exp(-sum(logprobs) / len(logprobs))", "return math.exp(-logprobs[0])"),
    ],
    "sum_instead_of_mean": [
        ("return math.exp(-sum(logprobs) / len(logprobs))", "return math.exp(-sum(logprobs))"),
    ],
    "overfit_add_k_tries_only_the_first_k": [  # right when ks has one value, as in the public test
        ("    for k in ks:\n", "    for k in ks[:1]:\n"),
    ],
    "overfit_add_k_always_adds_one": [
        ("math.log((pairs.get((a, b), 0) + k) / (history.get(a, 0) + k * vocab_size))",
         "math.log((pairs.get((a, b), 0) + 1) / (history.get(a, 0) + vocab_size))"),
    ],
}
