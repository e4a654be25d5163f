"""The checked exercises at the end of the chapter notebooks (course_utils.exercises).

For every exercise set: the reference solution passes every public and hidden test, the stubs
shipped in the notebook score 0 without raising (also in strict mode), and every question has a
wrong solution (mutant) that its tests catch. Solutions, hidden tests and mutants live in
tests/lab_mutants/ex_chNN.py (one file per chapter).
"""
from __future__ import annotations

import json
import math
import runpy
from pathlib import Path

import pytest

from course_utils import exercises, grading

ROOT = Path(__file__).resolve().parents[1]
INSTRUCTOR: dict[str, dict] = {"SOLUTIONS": {}, "HIDDEN": {}, "MUTANTS": {}}
for _file in sorted((ROOT / "tests" / "lab_mutants").glob("ex_ch??.py")):  # one file per chapter
    _side = runpy.run_path(str(_file))
    for _name, _table in INSTRUCTOR.items():
        assert not set(_table) & set(_side[_name]), f"{_file.name}: a set defined twice"
        _table.update(_side[_name])


def notebook_of(key: str) -> str:
    """The chapter notebook of exercise set ``key``: "ch03_05" is chapters/03_*/05_*.ipynb."""
    chapter, number = key[2:4], key[5:7]
    found = sorted((ROOT / "chapters").glob(f"{chapter}_*/{number}_*.ipynb"))
    assert len(found) == 1, f"exercise set {key}: expected one notebook chapters/{chapter}_*/{number}_*.ipynb, found {found}"
    return str(found[0].relative_to(ROOT))


KEYS = sorted(exercises.SETS)
NOTEBOOKS = {key: notebook_of(key) for key in KEYS}


def exercise_cells(key: str) -> list[dict]:
    """The cells of the notebook's final 'Exercises' section."""
    cells = json.loads((ROOT / NOTEBOOKS[key]).read_text())["cells"]
    start = [i for i, c in enumerate(cells) if c["cell_type"] == "markdown"
             and "".join(c["source"]).startswith("## Exercises")]
    assert len(start) == 1, f"{NOTEBOOKS[key]}: needs one '## Exercises' section"
    return cells[start[0]:]


def full_checker(key: str, namespace: dict) -> grading.Checker:
    """A checker for ``key`` with the hidden tests registered, reading answers from ``namespace``."""
    check = exercises.checker(key, namespace)
    exec(INSTRUCTOR["HIDDEN"][key], {"check": check, "expect_close": grading.expect_close,
                                      "expect_equal": grading.expect_equal, "math": math})
    assert any(t.hidden for t in check.lab.tests), f"{key}: no hidden tests"
    return check


def outcomes(key: str, source: str) -> list[grading.Outcome]:
    ns: dict = {}
    exec(source, ns)
    check = full_checker(key, ns)
    return [o for q in check.lab.questions for o in check.run(q, hidden=True, timeout=20)]


def test_every_notebook_has_a_set_and_back():
    assert KEYS == sorted(NOTEBOOKS) == sorted(INSTRUCTOR["SOLUTIONS"]) == sorted(INSTRUCTOR["HIDDEN"]) \
        == sorted(INSTRUCTOR["MUTANTS"])
    for key in KEYS:
        text = "".join("".join(c["source"]) for c in exercise_cells(key))
        assert f'checker("{key}")' in text
        assert len(exercises.SETS[key].questions) >= 2
        for q in exercises.SETS[key].questions:
            assert f'check("{q}")' in text, f"{NOTEBOOKS[key]}: no check(\"{q}\") cell"
        assert "open-ended" in text.lower(), f"{NOTEBOOKS[key]}: no open-ended exercise"


@pytest.mark.parametrize("key", KEYS)
def test_notebook_does_not_show_the_solution(key):
    shown = "\n".join("".join(c["source"]) for c in exercise_cells(key))
    lines = [s.strip() for s in INSTRUCTOR["SOLUTIONS"][key].split("\n")]
    leaks = [s for s in lines if len(s) >= 12 and not s.startswith(("import", "def ")) and s in shown]
    assert leaks == [], f"{NOTEBOOKS[key]} shows solution lines: {leaks}"


@pytest.mark.parametrize("key", KEYS)
def test_reference_solution_passes_public_and_hidden_tests(key):
    outs = outcomes(key, INSTRUCTOR["SOLUTIONS"][key])
    assert [(o.test, o.message) for o in outs if o.status != "pass"] == []
    assert any(o.hidden for o in outs) and any(not o.hidden for o in outs)


@pytest.mark.parametrize("key", KEYS)
def test_notebook_stubs_score_zero_without_raising(key, monkeypatch, capsys):
    stubs = [("".join(c["source"])) for c in exercise_cells(key)
             if c["cell_type"] == "code" and "NotImplementedError" in "".join(c["source"])]
    assert len(stubs) >= len(exercises.SETS[key].questions)
    outs = outcomes(key, "\n\n".join(stubs))
    assert {o.status for o in outs} == {"unanswered"} and sum(o.points for o in outs) == 0
    monkeypatch.setenv(grading.STRICT_ENV, "1")
    ns: dict = {}
    exec("\n\n".join(stubs), ns)
    check = exercises.checker(key, ns)
    for q in check.lab.questions:
        check(q)  # strict mode: an unanswered exercise must not raise
    assert "not answered yet" in capsys.readouterr().out


@pytest.mark.parametrize("key", KEYS)
def test_every_question_has_a_mutant_that_its_tests_catch(key, monkeypatch):
    solution, muts = INSTRUCTOR["SOLUTIONS"][key], INSTRUCTOR["MUTANTS"][key]
    caught = set()
    for name, edits in muts.items():
        source = solution
        for old, new in edits:
            assert source.count(old) == 1, f"{key} mutant {name}: {old!r} must occur once in the solution"
            source = source.replace(old, new)
        failed = {o.question for o in outcomes(key, source) if o.status != "pass"}
        assert failed, f"{key}: mutant {name} passes every test"
        caught |= failed
    assert caught == set(exercises.SETS[key].questions), f"{key}: no mutant caught on {set(exercises.SETS[key].questions) - caught}"
    # in strict mode the notebook's check cell fails on a wrong answer
    monkeypatch.setenv(grading.STRICT_ENV, "1")
    name, edits = next(iter(muts.items()))
    ns: dict = {}
    exec(solution.replace(*edits[0]), ns)
    check = exercises.checker(key, ns)
    with pytest.raises(grading.GradingError):
        for q in check.lab.questions:
            check(q)


def test_checker_reads_the_callers_globals(capsys):
    ns: dict = {}
    exec("from course_utils.exercises import checker\ncheck = checker('ch01_04')\n" + INSTRUCTOR["SOLUTIONS"]["ch01_04"]
         + "\ncheck('q1')", ns)
    assert "passed 1/1" in capsys.readouterr().out
    with pytest.raises(ValueError, match="no exercise set"):
        exercises.checker("ch99_99")


def test_every_chapter_lesson_has_checked_exercises_and_a_quiz():
    """Issue 27's acceptance: every lesson notebook of chapters 1-6 has an exercise set with at least
    two checked exercises, and ends with a self-check quiz."""
    lessons = sorted((ROOT / "chapters").glob("0[1-6]_*/[0-9][0-9]_*.ipynb"))
    assert len(lessons) >= 30
    missing = []
    for nb in lessons:
        key = f"ch{nb.parent.name[:2]}_{nb.name[:2]}"
        text = nb.read_text()
        if key not in exercises.SETS or len(exercises.SETS[key].questions) < 2 or "Quiz(" not in text:
            missing.append(str(nb.relative_to(ROOT)))
    assert missing == [], f"lessons without checked exercises or a quiz: {missing}"
