import json
import re

import pytest

from course_tools import glossary


def write_chapter(root, name="01_x", rows="", header="term,term_zh,definition,page"):
    ch = root / "chapters" / name
    ch.mkdir(parents=True, exist_ok=True)
    (ch / "glossary.csv").write_text(header + "\n" + rows, encoding="utf-8")
    return ch


def notebook(path, *markdown):
    cells = [{"cell_type": "markdown", "metadata": {}, "source": m} for m in markdown]
    path.write_text(json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))


def test_no_glossary_files_gives_a_page(tmp_path):
    (tmp_path / "chapters").mkdir()
    assert glossary.read_entries(tmp_path) == []
    assert "not defined any terms" in glossary.render([], tmp_path)


def test_entries_links_and_anchors(tmp_path):
    ch = write_chapter(tmp_path, rows='perplexity,困惑度,"exp of the loss, per token",chapters/01_x/01_lm#counting-and-smoothing\n'
                                      "token,词元,a unit of text,chapters/01_x/01_lm\n")
    notebook(ch / "01_lm.ipynb", "# Language models", "## Counting and smoothing\ntext")
    entries = glossary.read_entries(tmp_path)
    assert [e.term for e in entries] == ["perplexity", "token"] and entries[0].anchor == "counting-and-smoothing"
    assert glossary.problems(entries, tmp_path) == []
    page = glossary.render(entries, tmp_path)
    assert "**perplexity** · 困惑度\n: exp of the loss, per token *Taught in* " in page
    assert '<a href="../chapters/01_x/01_lm.html#counting-and-smoothing">Language models</a>.' in page
    assert page.index("perplexity") < page.index("**token**")


def test_markdown_characters_are_escaped():
    assert glossary._md("P(x_1 | [MASK]) * $5") == "P(x\\_1 \\| \\[MASK\\]) \\* \\$5"


def test_broken_links_are_reported(tmp_path):
    ch = write_chapter(tmp_path, rows="a,甲,x,chapters/01_x/01_lm#nope\nb,乙,y,chapters/01_x/02_missing\n")
    notebook(ch / "01_lm.ipynb", "# Title", "```\n# not a heading\n```")
    found = glossary.problems(glossary.read_entries(tmp_path), tmp_path)
    assert len(found) == 2 and "#nope" in found[0] and "does not exist" in found[1]


def test_a_term_in_two_chapters_gets_one_row_with_both_links(tmp_path):
    for name in ("01_x", "03_y"):
        ch = write_chapter(tmp_path, name, rows=f"Beam search,束搜索,keeps k prefixes,chapters/{name}/01_a\n")
        notebook(ch / "01_a.ipynb", f"# Page {name}")
    page = glossary.render(glossary.read_entries(tmp_path), tmp_path)
    assert page.count("**Beam search**") == 1 and "Page 01_x</a>; <a" in page


@pytest.mark.parametrize("header,rows,message", [
    ("term,definition,page", "", "first line"),
    ("term,term_zh,definition,page", "a,b,c\n", "4 non-empty"),
    ("term,term_zh,definition,page", "a,b,c,lesson one\n", "docname"),
])
def test_malformed_files_say_what_to_fix(tmp_path, header, rows, message):
    write_chapter(tmp_path, rows=rows, header=header)
    with pytest.raises(glossary.GlossaryError, match=message):
        glossary.read_entries(tmp_path)


def test_heading_ids_follow_sphinx(tmp_path):
    md = tmp_path / "p.md"
    md.write_text("# 2.1 Why `sqrt(d_k)`?\n## The $O(n^2)$ cost\n### [Link](x) text\n", encoding="utf-8")
    assert glossary.heading_ids(md) == {"why-sqrt-d-k", "the-o-n-2-cost", "link-text"}


def test_title_math_becomes_plain_text():
    assert glossary.title_html("Why divide by $\\sqrt{d_k}$? `code` & <b>") == "Why divide by √d_k? code &amp; &lt;b&gt;"
    assert glossary.tex_to_text(r"O(n^2) \times \frac{a}{b}") == "O(n²) × a/b"
    assert "\\" not in glossary.tex_to_text(r"\mathrm{softmax}(QK^\top/\sqrt{d})")


def test_letter_of_a_term():
    assert [glossary.letter_of(t) for t in ("perplexity", "Beam search", "Épsilon", "6ND", "[CLS] pooling", "  token")] \
        == ["P", "B", "E", "#", "#", "T"]


def _sections_and_links(page):
    labels = re.findall(r"^\((glossary-[a-z]+)\)=\n## (.+)$", page, flags=re.M)
    nav = re.search(r'<nav class="glossary-nav".*</nav>', page)
    links = re.findall(r'href="#([^"]+)"', nav[0]) if nav else []
    return dict(labels), links


def check_letter_navigation(entries, page):
    """Every letter that has terms: one section (an explicit target + heading), one link in the top row; every
    link of that row resolves to a section; each term sits in its letter's section."""
    sections, links = _sections_and_links(page)
    letters = {glossary.letter_of(e.term) for e in entries}
    assert set(sections) == {glossary.section_label(c) for c in letters}
    assert sorted(links) == sorted(sections), "a letter link without a section, or a section without a link"
    assert page.index("<nav") < page.index("\n## "), "the letter row must come before the first section"
    for e in entries:
        label = glossary.section_label(glossary.letter_of(e.term))
        start = page.index(f"({label})=")
        nxt = page.find("\n(glossary-", start + 1)
        assert f"**{glossary._md(e.term)}**" in page[start: nxt if nxt > 0 else None], (e.term, label)


def test_letter_sections_and_links(tmp_path):
    ch = write_chapter(tmp_path, rows="perplexity,困惑度,x,chapters/01_x/01_lm\n6ND,6ND,y,chapters/01_x/01_lm\n"
                                      "attention,注意力,z,chapters/01_x/01_lm\nPositional encoding,位置编码,w,chapters/01_x/01_lm\n")
    notebook(ch / "01_lm.ipynb", "# Language models")
    entries = glossary.read_entries(tmp_path)
    page = glossary.render(entries, tmp_path)
    check_letter_navigation(entries, page)
    sections, links = _sections_and_links(page)
    assert links == ["glossary-symbols", "glossary-a", "glossary-p"]
    assert sections["glossary-p"] == "P" and sections["glossary-symbols"] == "Numbers and symbols"
    assert '<span class="glossary-nav-empty" style="opacity:0.35">B</span>' in page
    # the check catches a letter link that points nowhere
    with pytest.raises(AssertionError):
        check_letter_navigation(entries, page.replace('href="#glossary-p"', 'href="#glossary-q"'))
    with pytest.raises(AssertionError):
        check_letter_navigation(entries, page.replace("(glossary-a)=\n## A\n", ""))


def test_the_book_glossary_has_letter_navigation_and_is_current():
    entries = glossary.read_entries()
    page = (glossary.REPO_ROOT / glossary.OUTPUT).read_text(encoding="utf-8")
    assert page == glossary.render(entries), "book/glossary.md is out of date: python -m course_tools.glossary"
    check_letter_navigation(entries, page)
