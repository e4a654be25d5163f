"""Lab 5 public tests: cosine-similarity retrieval and recall@k."""
from __future__ import annotations

import math
import random

import torch

from course_utils.grading import Lab, expect_close, expect_equal

lab = Lab("lab5_retrieval", "Cosine retrieval and recall@k", {
    "q1": "cosine similarity matrix",
    "q2": "top-k retrieval",
    "q3": "recall@k",
    "q4": "a bag-of-words search engine and its recall@k",
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


def reference_recall(retrieved: list, relevant: list, k: int) -> float:
    """recall@k from the definition (the grader's recomputation)."""
    return sum(len({d for d in r[:k]} & set(rel)) / len(rel) for r, rel in zip(retrieved, relevant)) / len(relevant)


def bow_top1(docs: list[str], query: str) -> int:
    """Index of the document with the highest cosine between lower-cased word counts (first on ties)."""
    def counts(text: str) -> dict:
        out: dict = {}
        for w in text.lower().split():
            out[w] = out.get(w, 0) + 1
        return out

    q = counts(query)
    def cos(d: dict) -> float:
        dot = sum(c * d.get(w, 0) for w, c in q.items())
        return dot / (math.sqrt(sum(c * c for c in q.values())) * math.sqrt(sum(c * c for c in d.values())))
    scores = [cos(counts(d)) for d in docs]
    return scores.index(max(scores))


def remembered_words(docs: list[str], n_queries: int, n_words: int = 3, seed: int = 0,
                     noise: list[str] | None = None) -> tuple[list[str], list[set]]:
    """Queries as a reader might type them: `n_words` words (of 4+ letters when there are enough)
    picked from a random document, plus one word of `noise` if given; relevant = {that document}."""
    rng = random.Random(seed)
    queries, relevant = [], []
    for i in rng.sample(range(len(docs)), n_queries):
        words = docs[i].split()
        long = [w for w in words if len(w) >= 4] or words
        picked = rng.sample(long, min(n_words, len(long)))
        if noise:
            picked.insert(rng.randrange(len(picked) + 1), rng.choice(noise))
        queries.append(" ".join(picked))
        relevant.append({i})
    return queries, relevant


def sst2_sentences() -> list[str] | None:
    """The 872 SST-2 validation sentences, or None where the course data cannot be read (the grader)."""
    from course_utils.data import DataError, data_path

    try:
        lines = data_path("sst2/dev").read_text(encoding="utf-8").splitlines()[1:]
    except (DataError, OSError):
        return None
    return [line.partition("\t")[2] for line in lines if line.strip()]


DOCS = ["red apple sweet fruit", "green grass grows fast", "blue sea waves crash", "red car drives fast"]


@lab.test("q4")
def four_short_documents(bag_of_words_search):
    queries, relevant = ["sweet red fruit", "fast car"], [{0}, {3}]
    best = [bow_top1(DOCS, q) for q in queries]
    ranked, recall = bag_of_words_search(list(DOCS), list(queries), [set(r) for r in relevant], 2)
    ranked = torch.as_tensor(ranked).tolist()
    expect_equal([r[0] for r in ranked], best, f"the best document for each of {queries} among {DOCS}")
    expect_close(recall, reference_recall(ranked, relevant, 2), f"the recall@2 returned vs recall@2 of your rankings {ranked}")
