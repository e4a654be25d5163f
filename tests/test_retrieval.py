import csv
import json
from pathlib import Path

import pytest
import torch

from course_utils import retrieval as R
from course_utils import text

ROOT = Path(__file__).resolve().parents[1]
EVAL_CSV = ROOT / "chapters" / "05_applications" / "retrieval_eval.csv"


@pytest.fixture(scope="module")
def minilm():
    from course_utils.models import load_minilm
    return load_minilm()


def test_mean_pool_ignores_padding():
    hidden = torch.arange(24, dtype=torch.float).reshape(2, 3, 4)
    mask = torch.tensor([[1, 1, 0], [1, 1, 1]])
    out = text.mean_pool(hidden, mask)
    torch.testing.assert_close(out[0], hidden[0, :2].mean(0))
    torch.testing.assert_close(out[1], hidden[1].mean(0))


def test_embed_is_unit_length_and_semantic(minilm):
    tok, model = minilm
    texts = ["How do I install the course?", "Installation instructions for the course",
             "The cat sleeps on the warm windowsill."]
    vecs = R.embed(texts, tok, model)
    assert vecs.shape == (3, 384)
    torch.testing.assert_close(vecs.norm(dim=-1), torch.ones(3))
    assert vecs[0] @ vecs[1] > vecs[0] @ vecs[2] + 0.2
    # padding must not change a sentence's embedding: alone == in a batch with a longer one
    torch.testing.assert_close(R.embed(texts[:1], tok, model)[0], vecs[0], atol=1e-5, rtol=1e-4)
    with pytest.raises(TypeError, match="list"):
        R.embed("one string", tok, model)


def test_search_equals_brute_force():
    g = torch.Generator().manual_seed(0)
    docs = torch.nn.functional.normalize(torch.randn(50, 8, generator=g), dim=-1)
    q = torch.nn.functional.normalize(torch.randn(3, 8, generator=g), dim=-1)
    scores, idx = R.search(q, docs, k=4)
    for i in range(3):
        brute = sorted(range(50), key=lambda j: -float(q[i] @ docs[j]))[:4]
        assert idx[i].tolist() == brute
        torch.testing.assert_close(scores[i], torch.stack([q[i] @ docs[j] for j in brute]))
    assert R.search(q[0], docs, k=100)[1].shape == (1, 50)
    with pytest.raises(ValueError, match="unit-length"):
        R.search(q * 2, docs)
    with pytest.raises(ValueError, match="dim"):
        R.search(q[:, :4], docs)


def test_chunk_markdown_sections_code_and_limits():
    md = ("# Title\n\nIntro words here.\n\n## Install\n\nRun {doc}`setup` now. See [the guide](http://x).\n\n"
          "```bash\nrm -rf secret_code_word\n```\n\n## Long\n\n" + " ".join(f"w{i}" for i in range(250)))
    ps = R.chunk_markdown(md, "book/p", max_words=100)
    assert ps[0] == R.Passage("book/p", "Title", "Intro words here.")
    assert ps[1].section == "Title: Install" and "setup" in ps[1].text and "the guide" in ps[1].text
    assert not any("secret_code_word" in p.text or "http" in p.text for p in ps)
    long = [p for p in ps if p.section == "Title: Long"]
    assert [len(p.text.split()) for p in long] == [100, 100, 50]
    with pytest.raises(ValueError, match="max_words"):
        R.chunk_markdown(md, "p", max_words=2)


def test_course_passages_reads_markdown_and_notebooks(tmp_path):
    (tmp_path / "book").mkdir()
    (tmp_path / "book" / "intro.md").write_text("# Intro\n\nHello reader.\n")
    (tmp_path / "book" / "bibliography.md").write_text("# Bibliography\n\nMany words.\n")
    ch = tmp_path / "chapters" / "01_x"
    ch.mkdir(parents=True)
    nb = {"cells": [{"cell_type": "markdown", "source": ["# Lesson\n", "\nProse here."]},
                    {"cell_type": "code", "source": "print('code is skipped')"}]}
    (ch / "01_lesson.ipynb").write_text(json.dumps(nb))
    ps = R.course_passages(tmp_path)
    assert {(p.page, p.text) for p in ps} == {("book/intro", "Hello reader."),
                                               ("chapters/01_x/01_lesson", "Prose here.")}
    with pytest.raises(FileNotFoundError, match="repository root"):
        R.course_passages(tmp_path / "chapters")


def test_rank_pages_keeps_each_page_once_by_best_passage():
    ps = [R.Passage("a", "", "1"), R.Passage("b", "", "2"), R.Passage("a", "", "3")]
    assert R.rank_pages(torch.tensor([[0.1, 0.5, 0.9], [0.9, 0.5, 0.1]]), ps) == [["a", "b"], ["a", "b"]]
    assert R.rank_pages(torch.tensor([[0.1, 0.5, 0.2]]), ps) == [["b", "a"]]


def test_recall_and_mrr_by_hand():
    ranked = [["a", "b", "c"], ["c", "a", "b"], ["b", "c", "d"]]
    gold = ["a", "a", "a"]
    assert R.recall_at_k(ranked, gold, 1) == pytest.approx(1 / 3)
    assert R.recall_at_k(ranked, gold, 2) == pytest.approx(2 / 3)
    assert R.mean_reciprocal_rank(ranked, gold) == pytest.approx((1 + 1 / 2 + 0) / 3)
    # alternatives with "|" and folder prefixes ending in "/"
    assert R.first_hit(["book/x", "chapters/04_ft/02_lora"], "book/intro|chapters/04_ft/") == 2
    assert R.first_hit(["chapters/04_ftx/a"], "chapters/04_ft/") is None
    with pytest.raises(ValueError, match="one ranking per"):
        R.recall_at_k(ranked, gold[:2], 1)


def test_best_sentence_and_related_pages(minilm):
    tok, model = minilm
    text = ("The course runs in three profiles. Data files are checked with SHA-256. "
            "On Colab, choose a GPU runtime and run all cells.")
    q = R.embed(["How do I use a GPU on Colab?"], tok, model)[0]
    sentence, score = R.best_sentence(q, text, tok, model)
    assert sentence.startswith("On Colab") and 0 < score <= 1
    vecs = torch.nn.functional.normalize(torch.tensor([[1.0, 0], [0.9, 0.1], [0, 1.0], [0.1, 1.0]]), dim=-1)
    ps = [R.Passage(p, "", "") for p in ("x", "x", "y", "z")]
    pages, pv = R.page_vectors(vecs, ps)
    assert pages == ["x", "y", "z"]
    assert R.related_pages("y", pages, pv, k=1)[0][0] == "z"
    with pytest.raises(KeyError, match="not an indexed page"):
        R.related_pages("nope", pages, pv)


def test_eval_set_is_valid():
    """The hand-written evaluation set: >= 15 questions whose answers are pages that exist."""
    rows = list(csv.DictReader(EVAL_CSV.open(encoding="utf-8")))
    assert len(rows) >= 15 and set(rows[0]) == {"question", "page"}
    for row in rows:
        for alt in row["page"].split("|"):
            if alt.endswith("/"):
                assert (ROOT / alt).is_dir(), alt
            else:
                assert (ROOT / f"{alt}.md").is_file() or (ROOT / f"{alt}.ipynb").is_file(), alt


def test_search_index_leaves_out_exercises_and_quizzes(tmp_path):
    import json

    cells = [{"cell_type": "markdown", "source": ["# Title\n\nThe lesson says attention is a weighted average."]},
             {"cell_type": "code", "source": ["x = 1"]},
             {"cell_type": "markdown", "source": ["## Exercises\n\nWrite softmax."]},
             {"cell_type": "markdown", "source": ["More practice text."]},
             {"cell_type": "markdown", "source": ["## Self-check quiz\n\nClick an answer."]}]
    nb = tmp_path / "n.ipynb"
    nb.write_text(json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    text = R.notebook_markdown(nb)
    assert "weighted average" in text and "softmax" not in text and "practice" not in text and "Click" not in text
