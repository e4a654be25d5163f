"""Lab 5 public tests: cosine-similarity retrieval and recall@k."""
from __future__ import annotations

import torch

from course_utils.grading import Lab, expect_close, expect_equal

lab = Lab("lab5_retrieval", "Cosine retrieval and recall@k", {
    "q1": "cosine similarity matrix",
    "q2": "top-k retrieval",
    "q3": "recall@k",
})


def _unit(seed: int, n: int, d: int) -> torch.Tensor:
    x = torch.randn(n, d, generator=torch.Generator().manual_seed(seed))
    return x / x.norm(dim=1, keepdim=True)


@lab.test("q1")
def unit_vectors(cosine_similarity_matrix):
    q, d = _unit(0, 2, 5), _unit(1, 4, 5)
    expected = [[torch.nn.functional.cosine_similarity(q[i], d[j], dim=0).item() for j in range(4)] for i in range(2)]
    expect_close(cosine_similarity_matrix(q, d), expected, "cosine_similarity_matrix(2 queries, 4 documents)", rtol=1e-4, atol=1e-6)


@lab.test("q2")
def ranking_of_one_row(top_k):
    scores = torch.tensor([[0.1, 0.9, 0.4, 0.7]])
    expected = [sorted(range(4), key=lambda j: -scores[0, j].item())[:2]]
    expect_equal(torch.as_tensor(top_k(scores, 2)).tolist(), expected, f"top_k({scores.tolist()}, k=2)")


@lab.test("q3")
def one_relevant_document_per_query(recall_at_k):
    retrieved, relevant = [[3, 1, 2], [0, 2, 1], [2, 0, 1]], [{1}, {1}, {2}]
    expected = sum(len(set(r[:2]) & rel) / len(rel) for r, rel in zip(retrieved, relevant)) / 3
    expect_close(recall_at_k(retrieved, relevant, 2), expected, f"recall_at_k({retrieved}, {relevant}, k=2)")
