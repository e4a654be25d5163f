"""`make book`'s executor (course_tools.bookbuild): progress, failures named, per-profile cache."""
from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

from course_tools import bookbuild

ROOT = Path(__file__).resolve().parents[1]


def test_dependencies_follow_imports_transitively_and_aliases():
    deps = bookbuild.dependencies(ROOT / "chapters" / "05_applications" / "02_semantic_search.ipynb")
    assert {"retrieval", "text", "resources", "results"} <= deps      # retrieval imports text (its embed)
    lab = bookbuild.dependencies(ROOT / "exercises" / "lab4_lora" / "student.ipynb")
    assert "labs.lab4_lora" in lab and "grading" in lab


def _notebook(path: Path, *cells: str) -> None:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)


@pytest.mark.slow
def test_build_names_the_failing_cell_caches_the_rest_and_reruns_per_profile(tmp_path, capsys):
    _notebook(tmp_path / "book" / "01_good.ipynb", "x = 6 * 7", "print(x)")
    _notebook(tmp_path / "book" / "02_bad.ipynb", "y = 1", "raise ValueError('the data file is missing')")
    kw = dict(patterns=["book/*.ipynb"], cache_path="cache", root=tmp_path)
    assert bookbuild.build(profile="ci", **kw) == 1
    out, err = capsys.readouterr()
    assert "to run: 2" in out and "started  book/01_good.ipynb" in out and "finished book/01_good.ipynb" in out
    assert "[2/2] elapsed" in out and "left" in out
    assert "FAILED: book/02_bad.ipynb: code cell 2 of 2 (`raise ValueError" in err and "data file is missing" in err
    assert bookbuild.build(profile="ci", **kw) == 1                       # only the failed one runs again
    assert "cached for the ci profile: 1, to run: 1" in capsys.readouterr().out
    _notebook(tmp_path / "book" / "02_bad.ipynb", "y = 1")
    assert bookbuild.build(profile="cpu", **kw) == 0                      # another profile: both run again
    out = capsys.readouterr().out
    assert "cached for the cpu profile: 0, to run: 2" in out and "cell limit: none" in out
    times = json.loads((tmp_path / "cache" / bookbuild.TIMES).read_text())
    assert set(times) == {"ci", "cpu"} and set(times["cpu"]) == {"book/01_good.ipynb", "book/02_bad.ipynb"}
