"""Wrong solutions of lab 5 (see lab1_ngrams.py for the format)."""
MUTANTS = {
    "overfit_dot_product_without_normalizing": [
        ("    q = queries / queries.norm(dim=1, keepdim=True)\n    d = docs / docs.norm(dim=1, keepdim=True)\n", "    q, d = queries, docs\n"),
    ],
    "overfit_hit_rate_instead_of_recall": [
        ("per_query = [len(set(r[:k]) & set(rel)) / len(rel) for r, rel in zip(retrieved, relevant)]",
         "per_query = [float(bool(set(r[:k]) & set(rel))) for r, rel in zip(retrieved, relevant)]"),
    ],
    "lowest_scores_first": [
        ("return torch.topk(scores, k, dim=1).indices", "return torch.topk(scores, k, dim=1, largest=False).indices"),
    ],
    "overfit_divide_by_min_k_relevant": [  # R-precision-like: right whenever k >= |relevant|
        ("per_query = [len(set(r[:k]) & set(rel)) / len(rel) for r, rel in zip(retrieved, relevant)]",
         "per_query = [len(set(r[:k]) & set(rel)) / min(k, len(rel)) for r, rel in zip(retrieved, relevant)]"),
    ],
    "overfit_case_sensitive_words": [  # right while queries are typed in lower case
        ("text.lower().split()", "text.split()"),
    ],
    "overfit_only_the_best_document": [  # top 1 still right, but not the k documents asked for
        ("ranked = top_k(scores, k).tolist()", "ranked = top_k(scores, 1).tolist()"),
    ],
}
