"""Assignments for a course run (course_utils.grading.release, `course-grade items | assign | grade |
solutions`): hand-outs, one grade table for several labs and exercise sets, solutions on demand."""
from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

from course_utils import exercises, grading
from course_utils.grading import release
from course_utils.grading.cli import main

ROOT = Path(__file__).resolve().parents[1]
LABS = ROOT / "exercises"
INSTRUCTOR = ROOT / "tests" / "lab_mutants"


def code_cells(text: str) -> list[str]:
    return [c["source"] for c in json.loads(text)["cells"] if c["cell_type"] == "code"]


def test_items_are_every_lab_and_every_exercise_set(capsys):
    items = release.all_items(LABS)
    assert {i.name for i in items if i.kind == "lab"} == {p.parent.name for p in LABS.glob("*/instructor.ipynb")}
    assert {i.name for i in items if i.kind == "exercises"} == set(exercises.SETS)
    assert main(["items", "--labs-dir", str(LABS)]) == 0
    assert "lab1_ngrams" in capsys.readouterr().out
    with pytest.raises(ValueError, match="neither an exercise set"):
        release.resolve("lab9_nothing", LABS)
    with pytest.raises(ValueError, match="no exercise set 'ch09_09'"):
        release.resolve("ch09_09", LABS)
    assert main(["assign", "lab9_nothing", "--labs-dir", str(LABS), "--out", "unused"]) == 2


@pytest.mark.parametrize("key", sorted(exercises.SETS))
def test_exercise_solutions_pass_strictly_and_hand_outs_score_zero(key, monkeypatch, capsys):
    """The released solution notebook's cells, run top to bottom in strict mode, pass every check
    (public and hidden); the hand-out's cells run without raising and score nothing."""
    item = release.resolve(key, LABS)
    monkeypatch.setenv(grading.STRICT_ENV, "1")
    solved: dict = {}
    for src in code_cells(release.solution_notebook(item, INSTRUCTOR)):
        exec(src, solved)          # a failed check raises GradingError in strict mode
    check = solved["check"]
    exec(release.hidden_tests(item, INSTRUCTOR), {"check": check, "expect_close": grading.expect_close,
                                                   "expect_equal": grading.expect_equal})
    outs = [o for q in item.questions for o in check.run(q, hidden=True, timeout=20)]
    assert outs and all(o.status == "pass" for o in outs), [(o.test, o.message) for o in outs if o.status != "pass"]
    blank: dict = {}
    for src in code_cells(release.student_notebook(item)):
        exec(src, blank)
    assert "not answered yet" in capsys.readouterr().out
    assert all(o.status == "unanswered" for q in item.questions for o in blank["check"].run(q))


def test_exercise_solutions_need_the_instructor_side():
    item = release.resolve("ch01_01", LABS)
    with pytest.raises(ValueError, match="give --instructor"):
        release.solution_notebook(item, None)
    assert "Worked solutions" in release.solution_notebook(item, INSTRUCTOR)   # from the instructor guide


def test_lab_solution_keeps_the_code_and_drops_hidden_tests_and_markers():
    item = release.resolve("lab1_ngrams", LABS)
    text = release.solution_notebook(item)
    hidden = grading.hidden_source(LABS / "lab1_ngrams")
    assert grading.BEGIN not in text and grading.END not in text
    assert all(line.strip() not in text for line in hidden.split("\n") if len(line.strip()) > 30)
    assert all(s in text for s in grading.solution_snippets(LABS / "lab1_ngrams")
               if s not in hidden)   # every solution line is there


def test_assign_and_grade_several_items_into_one_table(tmp_path):
    names = ["lab1_ngrams", "ch01_01", "ch02_06"]
    hand, sol, subs = tmp_path / "hand", tmp_path / "sol", tmp_path / "subs"
    assert main(["assign", *names, "--labs-dir", str(LABS), "--out", str(hand)]) == 0
    assert main(["solutions", *names, "--labs-dir", str(LABS), "--instructor", str(INSTRUCTOR), "--out", str(sol)]) == 0
    for student, source in (("alice", sol), ("bob", hand)):
        (subs / student).mkdir(parents=True)
        for n in names:
            found = source / (f"{n}_solution.ipynb" if source == sol else f"{n}.ipynb")
            (subs / student / f"{n}.ipynb").write_text(found.read_text())
    (subs / "=carol").mkdir()
    (subs / "=carol" / "ch01_01.ipynb").write_text((sol / "ch01_01_solution.ipynb").read_text())
    out = tmp_path / "grades.csv"
    assert main(["grade", *names, "--labs-dir", str(LABS), "--instructor", str(INSTRUCTOR),
                 "--submissions", str(subs), "--out", str(out)]) == 0
    rows = {r["student"]: r for r in csv.DictReader(out.open())}
    top = rows["(max)"]
    assert float(top["total"]) == sum(float(top[n]) for n in names) > 0
    assert rows["alice"]["total"] == top["total"] and rows["alice"]["notes"] == ""
    assert float(rows["bob"]["total"]) == 0
    carol = rows["'=carol"]                      # a name that starts like a formula is quoted
    assert carol["ch01_01"] == top["ch01_01"] and float(carol["lab1_ngrams"]) == 0
    assert "no lab1_ngrams.ipynb" in carol["notes"] and "no ch02_06.ipynb" in carol["notes"]


def test_solutions_pass_under_nbval_in_strict_mode(tmp_path):
    """Released solutions of every lab and every exercise set run as notebooks (nbval,
    COURSE_STRICT=1): every check passes; each starts with the course's setup cell (Colab)."""
    assert main(["solutions", "all", "--labs-dir", str(LABS), "--instructor", str(INSTRUCTOR), "--out", str(tmp_path)]) == 0
    assert len(list(tmp_path.glob("*_solution.ipynb"))) == len(release.all_items(LABS))
    from course_tools.nbtools import SETUP_MARKER
    assert all(SETUP_MARKER in "".join(code_cells(p.read_text())[:1]) for p in tmp_path.glob("ch*_solution.ipynb"))
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--nbval-lax",
                           "--rootdir", str(tmp_path), *map(str, sorted(tmp_path.glob("*_solution.ipynb")))],
                          cwd=tmp_path, capture_output=True, text=True, timeout=900,
                          env={**__import__("os").environ, "COURSE_STRICT": "1", "CI": "true"})
    assert done.returncode == 0, done.stdout[-3000:]
