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
}
