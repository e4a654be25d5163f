"""Notebook conventions: no stored outputs, the shared setup cell first, python3 kernel,
every notebook in the table of contents and every table-of-contents entry present."""
from __future__ import annotations

import fnmatch
import json
from pathlib import Path

import pytest
import yaml

from course_tools import nbtools

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = nbtools.notebooks([str(ROOT / "chapters"), str(ROOT / "exercises")])
# Notebooks that are deliberately not pages of the book: instructor sources (solutions, hidden
# tests) and fixtures of the grading tests.
NOT_IN_BOOK = ["exercises/*/instructor*.ipynb", "exercises/*/tests/*", "exercises/*/submissions/*"]


def toc_entries() -> tuple[list[str], list[str]]:
    files, globs = [], []

    def walk(node):
        if isinstance(node, dict):
            if "file" in node:
                files.append(node["file"])
            if "glob" in node:
                globs.append(node["glob"])
            if "root" in node:
                files.append(node["root"])
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(yaml.safe_load((ROOT / "_toc.yml").read_text()))
    return files, globs


def rel(p: Path) -> str:
    return p.relative_to(ROOT).as_posix()


def test_there_are_notebooks():
    assert any("00_start" in rel(p) for p in NOTEBOOKS)


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=rel)
def test_notebook_is_clean(nb):
    assert nbtools.problems(nb) == []


def test_problems_are_detected(tmp_path):
    bad = tmp_path / "bad.ipynb"
    bad.write_text(json.dumps({"cells": [{"cell_type": "code", "source": "1+1", "metadata": {},
                                          "outputs": [{"output_type": "stream", "name": "stdout", "text": "2"}],
                                          "execution_count": 1}],
                               "metadata": {"kernelspec": {"name": "julia"}}, "nbformat": 4,
                               "nbformat_minor": 5}))
    found = " ".join(nbtools.problems(bad))
    assert "outputs" in found and "setup cell" in found and "kernelspec" in found
    assert nbtools.normalize(bad) and nbtools.problems(bad) == []
    (tmp_path / "broken.ipynb").write_text("{not json")
    assert "not valid" in nbtools.problems(tmp_path / "broken.ipynb")[0]


def test_setup_cell_uses_the_configured_repository():
    url = nbtools.repository_url()
    assert url.startswith("https://github.com/")
    assert f"git+{url}.git" in nbtools.setup_cell_source()


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=rel)
def test_every_notebook_is_in_the_toc(nb):
    name = rel(nb)
    if any(fnmatch.fnmatch(name, pat) for pat in NOT_IN_BOOK):
        return
    files, globs = toc_entries()
    doc = name.removesuffix(".ipynb")
    assert doc in files or any(fnmatch.fnmatch(doc, g) for g in globs), f"{name} is not in _toc.yml"


def test_every_toc_entry_exists():
    files, globs = toc_entries()
    for f in files:
        assert any((ROOT / f"{f}{ext}").is_file() for ext in (".md", ".ipynb")), f"_toc.yml: {f} missing"
    for g in globs:
        index = ROOT / Path(g).parent / "index.md"
        if index.is_file() and "(in preparation)" in index.read_text():
            continue  # a chapter whose notebooks have not landed yet says so on its page
        assert list(ROOT.glob(g + ".ipynb")) or list(ROOT.glob(g + ".md")), f"_toc.yml glob {g} matches nothing"


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=rel)
def test_title_has_no_math(nb):
    """A page title is repeated in the navigation of every page, most of which load no MathJax."""
    cells = json.loads(nb.read_text())["cells"]
    titles = [line for c in cells if c["cell_type"] == "markdown"
              for line in "".join(c["source"]).splitlines() if line.startswith("# ")]
    assert titles, f"{rel(nb)} has no '# ' title"
    assert "$" not in titles[0] and "\\(" not in titles[0], f"math in the title {titles[0]!r}: write it in plain text"
