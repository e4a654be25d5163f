"""The ``course-grade`` command line."""
import argparse
import sys
from pathlib import Path

from course_utils.grading.batch import grade_batch
from course_utils.grading.generate import generate_student
from course_utils.grading.report import write_results


def main(argv: list[str] | None = None) -> int:
    """``course-grade LAB_DIR SUBMISSIONS --out grades.csv``, ``... generate LAB_DIR [--check]``, or one
    of the assignment commands: ``items``, ``assign``, ``solutions``, ``grade`` (see :mod:`.release`)."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] in SUBCOMMANDS:
        return _release(args)
    if args and args[0] == "generate":
        p = argparse.ArgumentParser(prog="python -m course_utils.grading generate")
        p.add_argument("labs", nargs="+", type=Path)
        p.add_argument("--check", action="store_true", help="exit 1 if a committed student.ipynb is stale")
        a = p.parse_args(args[1:])
        stale = 0
        for d in a.labs:
            text, target = generate_student(d), d / "student.ipynb"
            if a.check:
                if not target.is_file() or target.read_text(encoding="utf-8") != text:
                    print(f"{target} is out of date: run python -m course_utils.grading generate {d}")
                    stale += 1
            elif not target.is_file() or target.read_text(encoding="utf-8") != text:
                target.write_text(text, encoding="utf-8")
                print(f"wrote {target}")
        return 1 if stale else 0
    p = argparse.ArgumentParser(prog="course-grade", description="Grade submitted notebooks of one lab.",
                                epilog="Write a lab's student notebook with: python -m course_utils.grading "
                                       "generate exercises/<lab>. Several labs and exercise sets at once: "
                                       "course-grade items | assign | grade | solutions (each with --help). "
                                       "Guide: book/instructors.md")
    p.add_argument("lab_dir", type=Path, help="the lab folder, e.g. exercises/lab1_ngrams")
    p.add_argument("submissions", type=Path, nargs="+", help="a folder of .ipynb files, or the files")
    p.add_argument("--out", type=Path, default=Path("grades.csv"), help="CSV grade table (default grades.csv)")
    p.add_argument("--feedback", type=Path, default=None, help="feedback folder (default <out>_feedback/)")
    p.add_argument("--hidden", type=Path, default=None,
                   help="private hidden tests (.py or .ipynb); default: the instructor notebook's hidden cells")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds per notebook (default 60)")
    p.add_argument("--test-timeout", type=float, default=10.0, help="seconds per cell and per test (default 10)")
    p.add_argument("--memory-mb", type=int, default=2048, help="memory per notebook beyond the libraries")
    p.add_argument("--hide-hidden-details", action="store_true",
                   help="feedback lists hidden tests as passed/failed only (no names, inputs or values)")
    a = p.parse_args(args)
    files: list[Path] = []
    for s in a.submissions:
        if not s.exists():
            print(f"course-grade: {s} does not exist", file=sys.stderr)
            return 2
        files += sorted(s.glob("*.ipynb")) if s.is_dir() else [s]
    if not files:
        print(f"no .ipynb files in {', '.join(map(str, a.submissions))}", file=sys.stderr)
        return 2
    fb = a.feedback or a.out.with_name(a.out.stem + "_feedback")
    if a.hidden is None:
        print("course-grade: warning: no --hidden file, so the example hidden tests of instructor.ipynb are used; "
              "they are public in the course repository (see book/instructors.md)", file=sys.stderr)
    try:
        lab, reports = grade_batch(a.lab_dir, files, a.hidden, a.timeout, a.test_timeout, a.memory_mb,
                                   extra_protected=[a.out, fb])
    except (ValueError, OSError) as err:
        print(f"course-grade: {err}", file=sys.stderr)
        return 2
    write_results(lab, reports, a.out, fb, hidden_details=not a.hide_hidden_details)
    for r in reports:
        pts = sum(r.question_points(lab).values())
        print(f"{r.student}: {pts:g} points{'  ERROR: ' + r.error if r.error else ''}")
    print(f"wrote {a.out} and {fb}/")
    return 0


SUBCOMMANDS = ("items", "assign", "solutions", "grade")


def _release(args: list[str]) -> int:
    """``course-grade items | assign | solutions | grade``: several labs and exercise sets at once."""
    from course_utils.grading import release

    cmd = args[0]
    p = argparse.ArgumentParser(prog=f"course-grade {cmd}", description={
        "items": "List every assignable item: the labs and the chapter exercise sets.",
        "assign": "Write the notebooks to hand out for the chosen items into --out.",
        "solutions": "Write the worked solution notebooks of the chosen items into --out (release after the deadline).",
        "grade": "Grade SUBMISSIONS/<student>/<item>.ipynb for the chosen items into one CSV."}[cmd])
    if cmd != "items":
        p.add_argument("items", nargs="+", help="labs (lab1_ngrams ...) and exercise sets (ch01_01 ...); "
                                                "'all' for every one")
    p.add_argument("--labs-dir", type=Path, default=Path("exercises"), help="folder of the labs (default exercises)")
    if cmd in ("solutions", "grade"):
        p.add_argument("--instructor", type=Path, default=None,
                       help="folder with ex_chNN.py (SOLUTIONS, HIDDEN) and optional <lab>.hidden.py files; "
                            "default tests/lab_mutants if it exists")
    if cmd == "grade":
        p.add_argument("--submissions", type=Path, required=True, help="folder of <student>/<item>.ipynb")
        p.add_argument("--out", type=Path, default=Path("grades.csv"), help="the CSV (default grades.csv)")
        p.add_argument("--timeout", type=float, default=60.0, help="seconds per notebook (default 60)")
        p.add_argument("--test-timeout", type=float, default=10.0, help="seconds per cell and per test (default 10)")
    elif cmd in ("assign", "solutions"):
        p.add_argument("--out", type=Path, required=True, help="folder to write the notebooks into")
    a = p.parse_args(args[1:])
    try:
        if cmd == "items":
            for it in release.all_items(a.labs_dir):
                print(f"{it.name:18s} {it.kind:9s} {len(it.questions)} questions  {it.lab.title}")
            return 0
        names = [it.name for it in release.all_items(a.labs_dir)] if a.items == ["all"] else a.items
        items = [release.resolve(n, a.labs_dir) for n in names]
        instructor = getattr(a, "instructor", None)
        if instructor is None and Path("tests/lab_mutants").is_dir():
            instructor = Path("tests/lab_mutants")
        if cmd == "grade":
            rows = release.grade_items(items, a.submissions, instructor, a.out, a.timeout, a.test_timeout)
            for row in rows:
                print(f"{row['student']}: {row['total']:g} points{'  (' + row['notes'] + ')' if row['notes'] else ''}")
            print(f"wrote {a.out}")
            return 0
        a.out.mkdir(parents=True, exist_ok=True)
        for it in items:
            if cmd == "assign":
                target, text = a.out / f"{it.name}.ipynb", release.student_notebook(it)
            else:
                target, text = a.out / f"{it.name}_solution.ipynb", release.solution_notebook(it, instructor)
            target.write_text(text, encoding="utf-8")
            print(f"wrote {target}")
        return 0
    except (ValueError, OSError) as err:
        print(f"course-grade {cmd}: {err}", file=sys.stderr)
        return 2
