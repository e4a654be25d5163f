"""Semantic search over the course's own pages: passages from markdown and notebooks, MiniLM
sentence embeddings (mean pooling, unit length), cosine top-k search, and recall@k / MRR."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import torch


DEFAULT_PATTERNS = ("book/*.md", "chapters/*/index.md", "chapters/*/[0-9]*.ipynb")
# Pages that list other pages' words without explaining anything (they would win every query).
DEFAULT_EXCLUDE = ("book/bibliography", "book/glossary")


@dataclass(frozen=True)
class Passage:
    """A searchable piece of a page: its docname (``book/setup``), section heading and prose."""

    page: str
    section: str
    text: str

    def for_embedding(self) -> str:
        """The text that is embedded: section heading, then the prose."""
        return f"{self.section}. {self.text}" if self.section else self.text


# --------------------------------------------------------------------------- reading pages
_FENCE = re.compile(r"^(```|~~~).*?^\1\s*$", re.S | re.M)
_ROLE = re.compile(r"\{(\w+)\}`([^`]*)`")
_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_HTML = re.compile(r"<[^>]+>")
_HEADING = re.compile(r"^(#{1,6})\s+(.*)$")


def clean_markdown(text: str) -> str:
    """Drop code blocks and HTML; keep link texts, role targets (``{doc}`setup``` -> setup)."""
    text = _FENCE.sub("\n", text)
    text = _ROLE.sub(lambda m: "" if m.group(1) in ("cite", "cite:p", "cite:t") else m.group(2), text)
    text = _LINK.sub(r"\1", text)
    text = _HTML.sub(" ", text)
    return text.replace("**", "").replace("`", "")


PRACTICE_SECTIONS = ("## Exercises", "## Self-check quiz")   # a lesson's practice, not its content


def notebook_markdown(path: str | Path) -> str:
    """The lesson's markdown cells, joined by blank lines: code cells are skipped, and so is
    everything from the notebook's exercises or quiz on (questions are not answers to search)."""
    nb = json.loads(Path(path).read_text(encoding="utf-8"))
    out = []
    for c in nb.get("cells", []):
        text = "".join(c.get("source", ""))
        if c.get("cell_type") == "markdown" and text.lstrip().startswith(PRACTICE_SECTIONS):
            break
        if c.get("cell_type") == "markdown":
            out.append(text)
    return "\n\n".join(out)


def chunk_markdown(text: str, page: str, max_words: int = 120) -> list[Passage]:
    """Split markdown into passages: one per section, long sections cut at paragraph borders."""
    if max_words < 10:
        raise ValueError(f"max_words={max_words} is too small for a passage; use 50-200")
    passages: list[Passage] = []
    title, section, paras = "", "", []

    def flush() -> None:
        buf: list[str] = []
        for para in paras + [""]:
            words = para.split()
            if buf and (not para or len(" ".join(buf).split()) + len(words) > max_words):
                passages.append(Passage(page, section or title, " ".join(buf)))
                buf = []
            if words:  # a single over-long paragraph is cut into max_words pieces
                while len(words) > max_words:
                    passages.append(Passage(page, section or title, " ".join(words[:max_words])))
                    words = words[max_words:]
                buf.extend(words)
        paras.clear()

    para: list[str] = []
    for line in clean_markdown(text).splitlines() + [""]:
        m = _HEADING.match(line.strip())
        if m or not line.strip():
            if para:
                paras.append(" ".join(para))
                para = []
            if m:
                flush()
                heading = m.group(2).strip()
                if len(m.group(1)) == 1 and not title:
                    title = heading
                section = heading if heading == title else f"{title}: {heading}".lstrip(": ")
            continue
        stripped = line.strip()
        if re.fullmatch(r"\|?[\s:|-]+\|?", stripped):  # a table's separator row
            continue
        para.append(stripped.strip("|").replace("|", " ; ") if stripped.startswith("|") else stripped)
    flush()
    return passages



def course_passages(root: str | Path | None = None, patterns: Sequence[str] = DEFAULT_PATTERNS,
                    exclude: Sequence[str] = DEFAULT_EXCLUDE, max_words: int = 120) -> list[Passage]:
    """Read the book pages, chapter pages and notebook prose into passages: the copies installed with
    the course package (``root=None``, works anywhere, e.g. on Colab) or the files under ``root``."""
    if root is None:
        from course_utils.resources import course_files

        files = course_files(tuple(patterns))
    else:
        root = Path(root)
        files = {p.relative_to(root).as_posix(): p for pat in patterns for p in sorted(root.glob(pat))}
    if not files:
        raise FileNotFoundError(f"no pages match {list(patterns)} under {root or 'the installed course'}; "
                                "pass the repository root (the folder with _toc.yml)")
    out: list[Passage] = []
    for rel, path in sorted(files.items()):
        name = Path(rel).with_suffix("").as_posix()
        if name in exclude or any(part.startswith((".", "_")) for part in Path(rel).parts):
            continue
        text = notebook_markdown(path) if path.suffix == ".ipynb" else path.read_text(encoding="utf-8")
        out += chunk_markdown(text, name, max_words)
    return out


# --------------------------------------------------------------------------- embeddings
@torch.no_grad()
def embed(texts: Sequence[str], tokenizer=None, model=None, batch_size: int = 32,
          max_length: int = 256) -> torch.Tensor:
    """Unit-length sentence vectors (N, D) for search: ``course_utils.text.embed`` (mean pooling)
    with ``normalize=True``, as a tensor, with MiniLM loaded when no model is given."""
    from course_utils import text

    if tokenizer is None or model is None:
        from course_utils.models import load_minilm
        tokenizer, model = load_minilm()
    return torch.from_numpy(text.embed(model, tokenizer, texts, "mean", batch_size, max_length, normalize=True))


def search(queries: torch.Tensor, docs: torch.Tensor, k: int = 5) -> tuple[torch.Tensor, torch.Tensor]:
    """Cosine top-k: (scores, indices), each (Q, k), best first. Inputs must be unit vectors."""
    if queries.dim() == 1:
        queries = queries.unsqueeze(0)
    if queries.shape[-1] != docs.shape[-1]:
        raise ValueError(f"query dim {queries.shape[-1]} != document dim {docs.shape[-1]}")
    norms = torch.cat([queries.norm(dim=-1), docs.norm(dim=-1)])
    if not torch.allclose(norms, torch.ones_like(norms), atol=1e-3):
        raise ValueError("search needs unit-length vectors; normalise them (embed() already does)")
    return (queries @ docs.T).topk(min(k, docs.shape[0]), dim=-1)


def rank_pages(scores: torch.Tensor, passages: Sequence[Passage]) -> list[list[str]]:
    """Per query, the pages in order of their best passage's score (each page once)."""
    ranked = []
    for row in scores:
        order = torch.argsort(row, descending=True).tolist()
        seen: dict[str, None] = {}
        for i in order:
            seen.setdefault(passages[i].page, None)
        ranked.append(list(seen))
    return ranked


# --------------------------------------------------------------------------- evaluation
def is_hit(item: str, gold: str) -> bool:
    """Does a retrieved page answer? ``gold`` lists alternatives with "|"; one ending in "/"
    accepts every page under that folder (``chapters/04_finetuning/``)."""
    return any(item == g or (g.endswith("/") and item.startswith(g)) for g in gold.split("|") if g)


def first_hit(ranked: Sequence[str], gold: str) -> int | None:
    """1-based rank of the first correct item, or None when none is retrieved."""
    return next((i + 1 for i, item in enumerate(ranked) if is_hit(item, gold)), None)


def _check(ranked: Sequence[Sequence[str]], gold: Sequence[str]) -> None:
    if len(ranked) != len(gold) or not gold:
        raise ValueError(f"need one ranking per gold answer (got {len(ranked)} and {len(gold)})")


def recall_at_k(ranked: Sequence[Sequence[str]], gold: Sequence[str], k: int) -> float:
    """Share of queries with a correct item among their first ``k`` results."""
    _check(ranked, gold)
    return sum(first_hit(list(r)[:k], g) is not None for r, g in zip(ranked, gold)) / len(gold)


def mean_reciprocal_rank(ranked: Sequence[Sequence[str]], gold: Sequence[str]) -> float:
    """Mean of 1/rank of the first correct item (0 for a query where none is retrieved)."""
    _check(ranked, gold)
    ranks = [first_hit(r, g) for r, g in zip(ranked, gold)]
    return sum(1 / r for r in ranks if r) / len(gold)


# --------------------------------------------------------------------------- answers, neighbours
def split_sentences(text: str) -> list[str]:
    """A simple sentence splitter (., ! or ? followed by a space and a capital, digit or quote)."""
    parts = re.split(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(*])", text.strip())
    return [p.strip() for p in parts if len(p.split()) >= 3]


def best_sentence(question_vec: torch.Tensor, text: str, tokenizer=None, model=None) -> tuple[str, float]:
    """Extractive answer: the sentence of ``text`` closest to the question, and its cosine."""
    sentences = split_sentences(text) or [text]
    scores = embed(sentences, tokenizer, model) @ question_vec.reshape(-1)
    i = int(scores.argmax())
    return sentences[i], float(scores[i])


def page_vectors(vectors: torch.Tensor, passages: Sequence[Passage]) -> tuple[list[str], torch.Tensor]:
    """One unit vector per page: the normalised mean of its passages' embeddings."""
    pages = list(dict.fromkeys(p.page for p in passages))
    index = {p: i for i, p in enumerate(pages)}
    sums = torch.zeros(len(pages), vectors.shape[-1])
    sums.index_add_(0, torch.tensor([index[p.page] for p in passages]), vectors)
    return pages, torch.nn.functional.normalize(sums, dim=-1)


def related_pages(page: str, pages: Sequence[str], page_vecs: torch.Tensor, k: int = 3) -> list[tuple[str, float]]:
    """"Readers of this page also read": the ``k`` other pages with the most similar content."""
    if page not in pages:
        raise KeyError(f"{page!r} is not an indexed page; choose one of {list(pages)[:5]}...")
    i = list(pages).index(page)
    sims = page_vecs @ page_vecs[i]
    sims[i] = -2.0
    top = sims.topk(min(k, len(pages) - 1))
    return [(pages[j], float(s)) for s, j in zip(top.values.tolist(), top.indices.tolist())]
