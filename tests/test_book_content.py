"""The book's reference pages and links, checked from the sources (no build needed): glossary,
errata, "Open in Colab" links, citations and the bibliography, and the CI workflows."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from course_tools import glossary, nbtools

ROOT = Path(__file__).resolve().parents[1]
BIB = ROOT / "book" / "references.bib"
COLAB = re.compile(r"https://colab\.research\.google\.com/github/([\w.-]+/[\w.-]+)/blob/([\w.-]+)/(\S+?\.ipynb)")
CITE = re.compile(r"\{cite(?::[a-z]+)?\}`([^`]+)`")
DOC = re.compile(r"\{doc\}`(?:[^`<]*<)?([^`>]+)>?`")
ARXIV_NEW = re.compile(r"^(\d{2})(\d{2})\.(\d{4,5})(v\d+)?$")
ARXIV_OLD = re.compile(r"^[a-z-]+(\.[A-Z]{2})?/\d{7}(v\d+)?$")
# Identifiers the source articles got wrong (book/errata.md, E7): never cite these.
WRONG_ARXIV = {"1603.04467": "Attention Is All You Need is 1706.03762",
               "1909.04097": "Transformer-XL is 1901.02860"}


def arxiv_id_ok(ident: str) -> bool:
    """A well-formed arXiv identifier: YYMM.NNNN up to 2014, YYMM.NNNNN since 2015, or archive/YYMMNNN."""
    if ARXIV_OLD.match(ident):
        return True
    m = ARXIV_NEW.match(ident)
    if not m or not 1 <= int(m[2]) <= 12 or int(m[1]) < 7:
        return False
    return len(m[3]) == (5 if int(m[1]) >= 15 else 4)


def pages() -> list[Path]:
    """Every Markdown page and notebook of the book's sources."""
    found = [p for p in ROOT.glob("book/*.md")] + list(ROOT.glob("chapters/*/*.md"))
    found += nbtools.notebooks([str(ROOT / "chapters"), str(ROOT / "exercises")])
    return sorted(found)


def text_of(path: Path) -> str:
    """A page's Markdown (a notebook's markdown cells, joined)."""
    if path.suffix == ".ipynb":
        nb = json.loads(path.read_text(encoding="utf-8"))
        return "\n\n".join("".join(c.get("source", [])) for c in nb["cells"] if c["cell_type"] == "markdown")
    return path.read_text(encoding="utf-8")


def bib_entries(text: str | None = None) -> dict[str, dict[str, str]]:
    """key -> {field: value} of every entry of references.bib (a small parser, enough for checks)."""
    from pybtex.database import parse_string

    data = parse_string(BIB.read_text(encoding="utf-8") if text is None else text, "bibtex")
    out = {}
    for key, entry in data.entries.items():
        fields = {k.lower(): str(v) for k, v in entry.fields.items()}
        fields["_type"] = entry.type.lower()
        out[key] = fields
    return out


def cited_keys() -> dict[str, list[str]]:
    """key -> pages citing it."""
    keys: dict[str, list[str]] = {}
    for p in pages():
        for m in CITE.finditer(text_of(p)):
            for key in (k.strip() for k in m.group(1).split(",")):
                keys.setdefault(key, []).append(p.relative_to(ROOT).as_posix())
    return keys


# --- glossary -------------------------------------------------------------------------------------

def test_glossary_page_is_current():
    expected = glossary.render(glossary.read_entries())
    assert (ROOT / glossary.OUTPUT).read_text(encoding="utf-8") == expected, \
        "book/glossary.md is out of date: run `python -m course_tools.glossary`"


def test_every_glossary_link_resolves():
    assert glossary.problems(glossary.read_entries()) == []


# --- errata ---------------------------------------------------------------------------------------

def test_errata_cover_the_source_errors():
    text = (ROOT / "book" / "errata.md").read_text(encoding="utf-8")
    for must in ["softmax", "tokenizer.decode", "argmax", "attention mask", "1603.04467", "1706.03762",
                 "decoder", "80/10/10", "stops", "import math", "B-PER"]:
        assert must in text, f"book/errata.md does not mention {must!r}"
    entries = re.findall(r"^\*\*E\d+\.", text, re.M)
    assert len(entries) >= 5
    blocks = re.split(r"^\*\*E\d+\.", text, flags=re.M)[1:]
    for i, block in enumerate(blocks, start=1):
        assert "*Shown in*" in block or "Shown in" in block, f"erratum E{i} links to no demonstration"


@pytest.mark.parametrize("page", ["book/errata.md", "book/intro.md", "book/setup.md"])
def test_doc_links_resolve(page):
    src = ROOT / page
    if not src.is_file():
        pytest.skip(f"{page} not written yet")
    for target in DOC.findall(src.read_text(encoding="utf-8")):
        base = ROOT if target.startswith("/") else src.parent
        doc = (base / target.lstrip("/")).resolve()
        assert any(doc.with_name(doc.name + ext).is_file() for ext in (".md", ".ipynb")), \
            f"{page}: {{doc}}`{target}` does not exist"


HREF = re.compile(r'<a href="([^"#]+\.html)(?:#([^"]*))?"')


def test_html_links_of_the_errata_resolve():
    """Section links (<a href="../chapters/x.html#heading-id">): the page exists, the id is a heading of it."""
    src = ROOT / "book" / "errata.md"
    links = HREF.findall(src.read_text(encoding="utf-8"))
    assert links, "book/errata.md links no notebook section"
    for href, anchor in links:
        doc = (src.parent / href).resolve().relative_to(ROOT).as_posix().removesuffix(".html")
        page = glossary.page_file(doc)
        assert page is not None, f"errata.md links {href}: no {doc}.ipynb or .md"
        if anchor:
            assert anchor in glossary.heading_ids(page), \
                f"errata.md links {href}#{anchor}: not a heading id of {doc} ({sorted(glossary.heading_ids(page))})"


def test_errata_name_tests_that_exist():
    text = (ROOT / "book" / "errata.md").read_text(encoding="utf-8")
    for path, name in re.findall(r"`(tests/[\w/]+\.py)::(\w+)`", text):
        assert (ROOT / path).is_file(), path
        assert f"def {name}(" in (ROOT / path).read_text(encoding="utf-8"), f"{path} has no {name}"


# --- Colab ----------------------------------------------------------------------------------------

def colab_links() -> list[tuple[str, str, str, str]]:
    """(index page, repository, branch, notebook path) of every Colab link of the chapter pages."""
    out = []
    for index in sorted(ROOT.glob("chapters/*/index.md")):
        for repo, branch, path in COLAB.findall(index.read_text(encoding="utf-8")):
            out.append((index.relative_to(ROOT).as_posix(), repo, branch, path))
    return out


def test_colab_links_point_at_existing_notebooks():
    repo = nbtools.repository_url().removeprefix("https://github.com/")
    for index, link_repo, branch, path in colab_links():
        assert link_repo == repo and branch == "main", f"{index}: Colab link to {link_repo}@{branch}"
        assert (ROOT / path).is_file(), f"{index}: Colab link to {path}, which does not exist"


def test_every_chapter_notebook_has_a_colab_link():
    linked = {path for *_, path in colab_links()}
    for index in sorted(ROOT.glob("chapters/*/index.md")):
        if "(in preparation)" in index.read_text(encoding="utf-8"):
            continue
        for nb in sorted(index.parent.glob("[0-9][0-9]_*.ipynb")):
            rel = nb.relative_to(ROOT).as_posix()
            assert rel in linked, f"{index.relative_to(ROOT)} has no Open-in-Colab link for {rel}"


def test_colab_pattern_catches_a_wrong_path():
    text = "[Open in Colab](https://colab.research.google.com/github/llm-course/llm-course/blob/main/chapters/01_x/99_nope.ipynb)"
    (_, _, path), = COLAB.findall(text)
    assert path == "chapters/01_x/99_nope.ipynb" and not (ROOT / path).exists()


# --- references -----------------------------------------------------------------------------------

def test_every_cited_key_is_in_the_bibliography():
    known = bib_entries()
    missing = {k: v for k, v in cited_keys().items() if k not in known}
    assert not missing, "cited but not in book/references.bib: " + "; ".join(
        f"{k} (in {', '.join(sorted(set(v)))})" for k, v in sorted(missing.items()))


def test_bibliography_entries_are_complete():
    for key, f in bib_entries().items():
        assert f.get("title") and f.get("year"), f"{key}: needs title and year"
        assert re.fullmatch(r"\d{4}", f["year"]), f"{key}: year {f['year']!r}"
        where = [f.get(x) for x in ("journal", "booktitle", "publisher", "howpublished", "institution", "school")]
        arxiv = f.get("archiveprefix", "").lower() == "arxiv" and f.get("eprint")
        assert any(where) or arxiv or f.get("url"), f"{key}: say where it appeared (venue, arXiv eprint or url)"


def test_arxiv_ids_are_well_formed_and_consistent():
    for key, f in bib_entries().items():
        ids = []
        if f.get("archiveprefix", "").lower() == "arxiv" or "eprint" in f:
            assert arxiv_id_ok(f.get("eprint", "")), f"{key}: eprint {f.get('eprint')!r} is not an arXiv id"
            ids.append(f["eprint"])
        for m in re.finditer(r"arxiv\.org/(?:abs|pdf)/([^\s/}]+?)(?:\.pdf)?(?=[\s}]|$)", f.get("url", "")):
            assert arxiv_id_ok(m.group(1)), f"{key}: url has arXiv id {m.group(1)!r}"
            ids.append(m.group(1))
        assert len({re.sub(r"v\d+$", "", i) for i in ids}) <= 1, f"{key}: eprint and url disagree: {ids}"


def test_source_errata_ids_are_not_cited():
    bib = BIB.read_text(encoding="utf-8")
    for bad, why in WRONG_ARXIV.items():
        assert bad not in bib, f"references.bib contains arXiv {bad}: {why}"
    for p in pages():
        if p.name == "errata.md":
            continue
        for bad, why in WRONG_ARXIV.items():
            assert f"arxiv.org/abs/{bad}" not in text_of(p), f"{p.relative_to(ROOT)} links arXiv {bad}: {why}"
    assert bib_entries()["vaswani2017attention"]["eprint"] == "1706.03762"


def test_bib_checks_catch_bad_entries():
    bad = bib_entries("@article{x, title={T}, year={2017}, eprint={1603.4467}, archivePrefix={arXiv}}")
    assert not arxiv_id_ok(bad["x"]["eprint"])
    assert arxiv_id_ok("1706.03762v5") and arxiv_id_ok("cs/0101001") and arxiv_id_ok("1409.0473")
    assert not arxiv_id_ok("1713.03762") and not arxiv_id_ok("1409.04730") and not arxiv_id_ok("NeurIPS")
    assert CITE.findall("see {cite}`a, b` and {cite:p}`c`") == ["a, b", "c"]
    assert DOC.findall("{doc}`../x/y` and {doc}`text <../z>`") == ["../x/y", "../z"]


# --- workflows ------------------------------------------------------------------------------------

def workflow(name: str) -> dict:
    path = ROOT / ".github" / "workflows" / name
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict) and "jobs" in data, f"{name}: no jobs"
    return data


def test_workflows_are_valid_yaml():
    files = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
    assert {f.name for f in files} >= {"book.yml", "test.yml"}
    for f in files:
        data = yaml.safe_load(f.read_text(encoding="utf-8"))
        on = data.get("on", data.get(True))  # YAML 1.1 reads a bare `on:` key as True
        assert on, f"{f.name}: no trigger"
        for job, spec in data["jobs"].items():
            assert "runs-on" in spec and spec.get("steps") or spec.get("uses"), f"{f.name}: job {job} incomplete"


def test_book_workflow_builds_and_deploys():
    text = (ROOT / ".github" / "workflows" / "book.yml").read_text(encoding="utf-8")
    for must in ("make book", "actions/upload-pages-artifact", "actions/deploy-pages", "pages: write",
                 "id-token: write", "test_book_browser.py"):
        assert must in text, f"book.yml: missing {must}"


def test_test_workflow_runs_pinned_and_newest():
    data = workflow("test.yml")
    jobs = data["jobs"]
    pinned = [j for j in jobs.values() if "make test" in json.dumps(j) and not j.get("continue-on-error")]
    assert pinned, "test.yml: no job runs `make test` with the pinned environment"
    oses = json.dumps(pinned)
    assert "ubuntu-latest" in oses and "macos-latest" in oses
    newest = [j for j in jobs.values() if j.get("continue-on-error")]
    assert newest and "constraints.txt" not in json.dumps([s.get("run", "") for s in newest[0]["steps"]
                                                           if "pip install" in s.get("run", "")])
