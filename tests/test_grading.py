"""course_utils.grading: checks in the notebook, the student-notebook generator and the batch
grader's safety (time limits, memory limit, crashes, malformed files, reading the hidden tests)."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import nbformat
import pytest

from course_utils import grading
from course_tools import nbtools
from course_utils.grading import Checker, GradingError, Lab, expect_close

ROOT = Path(__file__).resolve().parents[1]
LAB1 = ROOT / "exercises" / "lab1_ngrams"


def tiny_lab() -> Lab:
    lab = Lab("tiny", "Tiny lab", {"q1": "double", "q2": "halve"})

    @lab.test("q1")
    def doubles_three(double):
        expect_close(double(3), 2 * 3, "double(3)")

    @lab.test("q2")
    def halves_four(halve):
        expect_close(halve(4), 4 / 2, "halve(4)")
    return lab


def raises_nie(x):
    raise NotImplementedError("q1")


def test_checker_reports_expected_value_and_running_score(capsys, monkeypatch):
    monkeypatch.delenv(grading.STRICT_ENV, raising=False)
    ns = {"double": lambda x: x + 2}
    check = Checker(tiny_lab(), namespace=ns)
    check("q1")
    out = capsys.readouterr().out
    assert "FAILED" in out and "double(3): expected 6, got 5" in out and "Score so far: 0/2" in out
    ns["double"] = lambda x: 2 * x
    check("q1")
    assert "passed 1/1" in capsys.readouterr().out
    check("q2")  # halve is not defined: polite, no exception
    out = capsys.readouterr().out
    assert "not answered yet" in out and "`halve` is not defined" in out and "Score so far: 1/2" in out
    assert check.summary() is None
    out = capsys.readouterr().out
    assert "q2   0/1  halve: not answered" in out and "Total: 1/2" in out


def test_strict_mode_raises_only_for_wrong_answers(monkeypatch, capsys):
    monkeypatch.setenv(grading.STRICT_ENV, "1")
    check = Checker(tiny_lab(), namespace={"double": raises_nie, "halve": lambda x: x / 3})
    check("q1")  # unanswered: no exception, so the blank student notebook passes nbval
    assert "not answered yet" in capsys.readouterr().out
    with pytest.raises(GradingError, match="halve\\(4\\): expected 2, got 1.33"):
        check("q2")


def test_checker_uses_the_callers_globals_and_knows_its_questions():
    check = Checker(tiny_lab())
    assert check.namespace is globals()
    with pytest.raises(ValueError, match="questions are q1, q2"):
        check.run("q9")
    with pytest.raises(ValueError, match="no public tests"):
        grading.load_lab("no_such_lab")


def test_run_test_classifies_errors_and_timeouts():
    lab = tiny_lab()

    def loop(x):
        while True:
            pass
    t = lab.tests[0]
    assert grading.run_test(t, {"double": lambda x: 1 / 0}).status == "error"
    assert grading.run_test(t, {"double": raises_nie}).status == "unanswered"
    out = grading.run_test(t, {"double": loop}, timeout=0.3)
    assert out.status == "timeout" and out.points == 0


def instructor_nb(path: Path, body: str) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("## q1: double\n<!-- BEGIN SOLUTION -->It doubles.<!-- END SOLUTION -->"),
                nbformat.v4.new_code_cell(body),
                nbformat.v4.new_code_cell("@check.test('q1')\ndef secret_hidden_case(double):\n    pass")]
    nb.cells[-1].metadata["tags"] = [grading.HIDDEN_TAG]
    path.mkdir()
    nbformat.write(nb, path / "instructor.ipynb")
    return path


def test_generator_strips_solutions_and_hidden_tests(tmp_path):
    lab = instructor_nb(tmp_path / "tiny", "def double(x):\n    # BEGIN SOLUTION\n    return 2 * x  # the answer\n"
                        "    # END SOLUTION\n")
    text = grading.generate_student(lab)
    sources = "\n".join(c.source for c in nbformat.reads(text, as_version=4).cells)
    assert "return 2 * x  # the answer" in grading.solution_snippets(lab)
    assert "2 * x" not in sources and "secret_hidden_case" not in sources and "It doubles" not in sources
    assert 'raise NotImplementedError("replace this line' in sources and "Your answer here" in sources
    assert nbtools.problems(_write(tmp_path / "s.ipynb", text)) == []
    assert "secret_hidden_case" in grading.hidden_source(lab)


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


@pytest.mark.parametrize("body, message", [
    ("# BEGIN SOLUTION\nx = 1\n# END SOLUTION", "inside a function body"),
    ("def f():\n    # BEGIN SOLUTION\n    return 1", "without # END"),
    ("def f():\n    return 1\n    # END SOLUTION", "without # BEGIN"),
])
def test_generator_rejects_bad_markers(tmp_path, body, message):
    with pytest.raises(ValueError, match=message):
        grading.generate_student(instructor_nb(tmp_path / "bad", body))


def test_normalize_is_idempotent(tmp_path):
    nb = _write(tmp_path / "n.ipynb", nbformat.writes(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1")])))
    assert nbtools.normalize(nb) is True
    assert nbtools.normalize(nb) is False


@pytest.mark.parametrize("content, message", [
    ("{not json", "invalid notebook JSON"),
    ('{"metadata": {}}', "no 'cells' list"),
    ('{"cells": [{"cell_type": "markdown", "source": "hi"}]}', "no code cells"),
])
def test_read_submission_rejects_malformed_notebooks(tmp_path, content, message):
    with pytest.raises(grading.SubmissionError, match=message):
        grading.read_submission(_write(tmp_path / "x.ipynb", content))


def submission(tmp_path: Path, name: str, replace: dict[str, str]) -> Path:
    """Lab 1's solution with some function cells replaced (a student's hand-in)."""
    nb = json.loads((LAB1 / "instructor.ipynb").read_text())
    nb["cells"] = [c for c in nb["cells"] if grading.HIDDEN_TAG not in c.get("metadata", {}).get("tags", [])]
    for c in nb["cells"]:
        for fn, new in replace.items():
            if f"def {fn}(" in "".join(c["source"]):
                c["source"] = new
    return _write(tmp_path / f"{name}.ipynb", json.dumps(nb))


def test_batch_grading_survives_hostile_and_broken_submissions(tmp_path):
    subs = tmp_path / "subs"
    subs.mkdir()
    hidden = str(LAB1 / "instructor.ipynb")
    submission(subs, "a_solution", {})
    submission(subs, "b_loop", {"perplexity": "def perplexity(lp):\n    while True:\n        pass"})
    submission(subs, "c_spin", {"bigram_perplexity": "def bigram_perplexity(*a):\n    while True:\n        try:\n"
                                               "            while True: pass\n        except BaseException:\n            pass"})
    submission(subs, "d_peek", {"bigram_counts": f"def bigram_counts(t):\n    return open({hidden!r}).read()",
                                "perplexity": f"import os\nFOUND = os.listdir({str(LAB1)!r})\n"
                                              "def perplexity(lp):\n    raise NotImplementedError"})
    submission(subs, "e_memory", {"laplace_prob": "def laplace_prob(*a):\n    return len(bytearray(64 * 2**30))"})
    submission(subs, "f_exit", {"bigram_perplexity": "import os\ndef bigram_perplexity(*a):\n    os._exit(3)"})
    submission(subs, "i_patch", {"perplexity": "import course_utils.grading as g\n"
                                               "g.expect_close = lambda *a, **k: None\ndef perplexity(lp):\n    return 0"})
    submission(subs, "j_fake_eq", {"bigram_counts": "class Any:\n    def __eq__(self, other):\n        return True\n"
                                                  "def bigram_counts(t):\n    return {('the', 'cat'): Any()}"})
    submission(subs, "k_patch_later", {"perplexity": "import numpy\ndef perplexity(lp):\n"
                                                     "    numpy.allclose = lambda *a, **k: True\n    return 0"})
    _write(subs / "g_broken.ipynb", "{not json")
    _write(subs / "h_nocells.ipynb", json.dumps({"cells": [{"cell_type": "markdown", "source": "hi"}]}))
    out = tmp_path / "out" / "grades.csv"
    assert grading.main([str(LAB1), str(subs), "--out", str(out), "--timeout", "20", "--test-timeout", "1",
                         "--memory-mb", "512"]) == 0
    rows = {r["student"].removesuffix(".ipynb"): r for r in csv.DictReader(out.open())}
    fb = out.parent / "grades_feedback"
    assert list(rows) == ["a_solution", "b_loop", "c_spin", "d_peek", "e_memory", "f_exit", "g_broken", "h_nocells",
                          "i_patch", "j_fake_eq", "k_patch_later"]
    full = float(rows["a_solution"]["max_total"])
    assert float(rows["a_solution"]["total"]) == full
    # each problem costs that student the affected question(s), not the run
    assert rows["b_loop"]["q3"] == "0" and rows["b_loop"]["q1"] == "2" and rows["b_loop"]["error"] == ""
    assert rows["c_spin"]["q4"] == "0" and rows["c_spin"]["q1"] == "2" and rows["c_spin"]["q3"] == "2"
    assert rows["d_peek"]["q1"] == "0" and float(rows["d_peek"]["q2"]) > 0
    assert rows["e_memory"]["q2"] == "0" and float(rows["e_memory"]["q1"]) > 0
    assert rows["f_exit"]["q1"] == "2" and rows["f_exit"]["q3"] == "2" and rows["f_exit"]["q4"] == "0"
    assert "invalid notebook JSON" in rows["g_broken"]["error"] and rows["g_broken"]["total"] == "0"
    assert "no code cells" in rows["h_nocells"]["error"]
    # cheating on the checks themselves: replaced check functions are detected, fake equality refused
    for name, what in (("i_patch", "course_utils.grading.expect_close"), ("k_patch_later", "numpy.allclose")):
        assert rows[name]["total"] == "0" and f"tampering detected: {what}" in rows[name]["error"], rows[name]
    assert rows["j_fake_eq"]["q1"] == "0" and rows["j_fake_eq"]["error"] == "" and rows["j_fake_eq"]["q2"] == "4"
    assert "type Any" in (fb / "j_fake_eq.md").read_text()
    assert "timeout" in (fb / "c_spin.md").read_text()
    peek = (fb / "d_peek.md").read_text()
    assert "reading" in peek and "not allowed while grading" in peek and "BEGIN SOLUTION" not in peek
    assert "os.listdir" not in peek or "PermissionError" in peek
    assert "died" in (fb / "f_exit.md").read_text()
    assert "invalid notebook JSON" in (fb / "g_broken.md").read_text()


def test_private_hidden_tests_replace_the_examples(tmp_path):
    """--hidden: tests kept outside the repository are used instead of the instructor notebook's."""
    private = _write(tmp_path / "private_hidden.py", "@check.test('q3', points=3)\n"
                     "def q3_private_case(perplexity):\n"
                     "    expect_close(perplexity([0.0, 0.0]), 1.0, 'perplexity([0, 0])')\n"
                     "    assert perplexity([0.0]) != 1.0, 'deliberately impossible private test'\n")
    sub = submission(tmp_path, "solution", {})
    assert grading.main([str(LAB1), str(sub), "--hidden", str(private), "--out", str(tmp_path / "g.csv"),
                         "--hide-hidden-details"]) == 0
    brief = (tmp_path / "g_feedback" / "solution.md").read_text()
    assert "✗ hidden test (fail)" in brief and "impossible" not in brief and "q3_private_case" not in brief
    lab, (rep,) = grading.grade_batch(LAB1, [sub], hidden=private, timeout=30, test_timeout=5)
    names = {o.test: o for o in rep.outcomes}
    assert "q3_private_case" in names and "q1_overlapping_and_empty" not in names
    assert names["q3_private_case"].status == "fail" and names["q3_private_case"].max_points == 3
    assert "deliberately impossible" in names["q3_private_case"].message
    assert all(o.status == "pass" for o in rep.outcomes if not o.hidden)


def test_command_line_errors_are_clear(tmp_path, capsys):
    sub = _write(tmp_path / "x.ipynb", "{}")
    assert grading.main([str(tmp_path / "lab9_nothing"), str(sub)]) == 2
    assert "no public tests for lab 'lab9_nothing'" in capsys.readouterr().err
    assert grading.main([str(LAB1), str(sub), "--hidden", str(tmp_path / "missing.py")]) == 2
    assert "missing.py not found" in capsys.readouterr().err
    assert grading.main([str(LAB1), str(tmp_path / "empty_dir_that_is_missing")]) == 2
    assert "does not exist" in capsys.readouterr().err
