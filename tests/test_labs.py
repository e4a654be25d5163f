"""Every lab: the committed student notebook is current and leaks nothing; batch grading gives the
solution full marks, the blank student notebook 0, and every wrong solution (mutant) less.

The notebooks themselves run under nbval too (exercises/ is a test path): the instructor notebook
in strict mode (every check, hidden ones included, must pass), the student notebook scoring 0.
"""
from __future__ import annotations

import json
import runpy
from pathlib import Path

import pytest

from course_utils import grading

ROOT = Path(__file__).resolve().parents[1]
LABS = sorted(p.parent for p in (ROOT / "exercises").glob("*/instructor.ipynb"))
MUTANTS = ROOT / "tests" / "lab_mutants"


def write_submission(lab_dir: Path, edits: list[tuple[str, str]], out: Path) -> Path:
    """The instructor notebook as a student would hand it in (no hidden cells), with source edits."""
    nb = json.loads((lab_dir / "instructor.ipynb").read_text())
    nb["cells"] = [c for c in nb["cells"] if not {grading.HIDDEN_TAG, grading.INSTRUCTOR_TAG}
                   & set(c.get("metadata", {}).get("tags", []))]
    for old, new in edits:
        hits = [c for c in nb["cells"] if old in "".join(c["source"])]
        assert len(hits) == 1, f"mutant edit {old!r} matches {len(hits)} cells of {lab_dir.name}"
        hits[0]["source"] = "".join(hits[0]["source"]).replace(old, new)
    out.write_text(json.dumps(nb))
    return out


def mutants(lab_dir: Path) -> dict[str, list[tuple[str, str]]]:
    path = MUTANTS / f"{lab_dir.name}.py"
    return runpy.run_path(str(path))["MUTANTS"] if path.is_file() else {}


def test_every_chapter_has_a_lab():
    chapters = sorted(p.name[:2] for p in (ROOT / "chapters").glob("0[1-9]_*") if "appendix" not in p.name)
    for ch in chapters:
        assert any(p.name.startswith(f"lab{int(ch)}_") for p in LABS), f"chapter {ch} has no lab"
    index = (ROOT / "exercises" / "index.md").read_text()
    for lab_dir in LABS:
        url = f"https://colab.research.google.com/github/llm-course/llm-course/blob/main/exercises/{lab_dir.name}/student.ipynb"
        assert url in index, f"exercises/index.md lacks the Colab link of {lab_dir.name}"
        assert len(mutants(lab_dir)) >= 2, f"{lab_dir.name}: needs at least two mutants in tests/lab_mutants"
        assert any(m.startswith("overfit") for m in mutants(lab_dir)), \
            f"{lab_dir.name}: needs an overfit_* mutant (passes the public tests, caught by the hidden ones)"


@pytest.mark.parametrize("lab_dir", LABS, ids=lambda p: p.name)
def test_student_notebook_is_current_and_leaks_nothing(lab_dir):
    text = grading.generate_student(lab_dir)
    assert (lab_dir / "student.ipynb").read_text() == text, \
        f"run: python -m course_utils.grading generate exercises/{lab_dir.name}"
    sources = "\n".join("".join(c["source"]) for c in json.loads(text)["cells"])
    leaks = [s for s in grading.solution_snippets(lab_dir) if s in sources]
    assert not leaks, f"solution or hidden-test text in the student notebook: {leaks[:3]}"
    assert "NotImplementedError" in sources



class _Recorder:
    """Stands in for ``check`` while a lab's hidden-test source runs: records (question, points) per test."""

    def __init__(self) -> None:
        self.tests: list[tuple[str, float]] = []

    def test(self, question: str, points: float = 1.0, hidden: bool = True):
        def register(fn):
            self.tests.append((question, float(points)))
            return fn
        return register


@pytest.mark.parametrize("lab_dir", LABS, ids=lambda p: p.name)
def test_each_lab_has_a_larger_task(lab_dir):
    """Issue 27: every lab has one task beyond a single function, worth at least 3 points, with public
    tests (a basic check) and hidden ones (the tolerant full check), and the mutants reach it."""
    lab = grading.load_lab(lab_dir.name)
    hidden = _Recorder()
    exec(compile(grading.hidden_source(lab_dir), f"<hidden tests of {lab_dir.name}>", "exec"),
         {"check": hidden, "expect_close": grading.expect_close, "expect_equal": grading.expect_equal})
    points: dict[str, float] = {}
    for question, pts in [(t.question, t.points) for t in lab.tests] + hidden.tests:
        points[question] = points.get(question, 0.0) + pts
    public = {t.question for t in lab.tests}
    larger = [q for q, pts in points.items() if pts >= 3 and q in public and any(h == q for h, _ in hidden.tests)]
    assert larger, f"{lab_dir.name}: no question worth 3+ points with public and hidden tests ({points})"
    task = larger[-1]
    nb = json.loads((lab_dir / "instructor.ipynb").read_text())
    assert any(c["cell_type"] == "markdown" and f"## {task} (larger task)" in "".join(c["source"]) for c in nb["cells"]), \
        f"{lab_dir.name}: the heading of {task} should say '(larger task)'"
    edited = "\n".join(old for edits in mutants(lab_dir).values() for old, _ in edits)
    sources = ["".join(c["source"]) for c in nb["cells"]]
    cell = next(src for src, after in zip(sources, sources[1:]) if after.strip() == f'check("{task}")')  # the solution cell
    assert any(line.strip() and line in cell for line in edited.splitlines()), \
        f"{lab_dir.name}: no mutant edits the solution of {task}"

@pytest.mark.parametrize("lab_dir", LABS, ids=lambda p: p.name)
def test_batch_grading_separates_right_from_wrong(lab_dir, tmp_path):
    lab = grading.load_lab(lab_dir.name)
    muts = mutants(lab_dir)
    subs = [write_submission(lab_dir, [], tmp_path / "solution.ipynb"),
            tmp_path / "blank.ipynb"]
    subs[1].write_text((lab_dir / "student.ipynb").read_text())
    subs += [write_submission(lab_dir, edits, tmp_path / f"{name}.ipynb") for name, edits in muts.items()]
    lab, reports = grading.grade_batch(lab_dir, subs, timeout=30, test_timeout=5)
    by = {Path(r.student).stem: r for r in reports}
    full = lab.copy()
    total = sum(o.max_points for o in by["solution"].outcomes)
    assert len(lab.questions) >= 3 and any(o.hidden for o in by["solution"].outcomes)
    assert [o for o in by["solution"].outcomes if o.status != "pass"] == []
    assert sum(o.points for o in by["blank"].outcomes) == 0
    assert {o.status for o in by["blank"].outcomes} == {"unanswered"}
    for name in muts:
        got = sum(o.points for o in by[name].outcomes)
        assert got < total, f"{lab_dir.name}: mutant {name} scored full marks"
        if name.startswith("overfit"):
            public_fail = [o for o in by[name].outcomes if not o.hidden and o.status != "pass"]
            assert public_fail == [], f"{name} should pass the public tests (only hidden ones catch it)"
    assert full.name == lab_dir.name


def test_nbval_fails_on_a_wrong_solution_in_strict_mode(tmp_path):
    """The instructor notebook with a mutant solution fails under `pytest --nbval-lax` (COURSE_STRICT=1)."""
    import os
    import subprocess
    import sys

    lab_dir = ROOT / "exercises" / "lab6_energy"
    nb = write_submission(lab_dir, mutants(lab_dir)["forward_pass_only_2nd"], tmp_path / "wrong.ipynb")
    env = {**os.environ, "COURSE_STRICT": "1"}
    run = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:xdist", "--nbval-lax",
                          "-q", "--rootdir", str(tmp_path), str(nb)], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode != 0 and "GradingError" in run.stdout, run.stdout[-2000:]
