"""Assignments for a course run: choose labs and chapter exercise sets, hand them out, grade them
into one table, and release the solutions after the deadline.

    course-grade items                                        # every assignable item
    course-grade assign lab1_ngrams ch02_01 --out week2/      # the notebooks to hand out
    course-grade grade lab1_ngrams ch02_01 --submissions subs/ --out week2.csv
    course-grade solutions lab1_ngrams ch02_01 --out week2_solutions/

An item is a lab (its folder under ``exercises/``: instructor.ipynb) or a chapter exercise set
(``chNN_MM``: the "Exercises" section of chapter notebook NN.MM, public tests in
:mod:`course_utils.exercises`). Hidden tests and reference solutions of the exercise sets are the
instructor's: ``--instructor DIR`` holds ``ex_chNN.py`` files (``SOLUTIONS`` and ``HIDDEN``, as in
the repository's ``tests/lab_mutants/``) and, optionally, ``<lab>.hidden.py`` files that replace a
lab's example hidden tests. Submissions are ``SUBMISSIONS/<student>/<item>.ipynb``.
"""
from __future__ import annotations

import ast
import csv
import json
import re
import runpy
from dataclasses import dataclass
from pathlib import Path

from course_utils.grading.core import BEGIN, END, HIDDEN_TAG, INSTRUCTOR_TAG, MD_BEGIN, MD_END, Lab, load_lab
from course_utils.grading.generate import _tags, generate_student, hidden_source

SET_KEY = re.compile(r"ch(\d\d)_(\d\d)")
PRACTICE_END = "## Self-check quiz"


@dataclass
class Item:
    """One assignable item: a lab or a chapter exercise set."""

    name: str                 # "lab1_ngrams" or "ch02_01"
    kind: str                 # "lab" or "exercises"
    lab: Lab                  # its public tests
    source: Path              # instructor.ipynb, or the chapter notebook

    @property
    def questions(self) -> list[str]:
        return list(self.lab.questions)


def resolve(name: str, labs_dir: Path = Path("exercises")) -> Item:
    """The item called ``name``; a clear error lists the known ones."""
    from course_utils import exercises

    if SET_KEY.fullmatch(name):
        if name not in exercises.SETS:
            raise ValueError(f"no exercise set {name!r}; known: {', '.join(sorted(exercises.SETS))}")
        return Item(name, "exercises", exercises.SETS[name].copy(), _chapter_notebook(name))
    lab_dir = Path(labs_dir) / name
    if not (lab_dir / "instructor.ipynb").is_file():
        known = sorted(p.parent.name for p in Path(labs_dir).glob("*/instructor.ipynb"))
        raise ValueError(f"{name!r} is neither an exercise set (chNN_MM) nor a lab folder of {labs_dir}/ "
                         f"with an instructor.ipynb; labs there: {', '.join(known) or 'none'}")
    return Item(name, "lab", load_lab(name), lab_dir / "instructor.ipynb")


def all_items(labs_dir: Path = Path("exercises")) -> list[Item]:
    """Every lab in ``labs_dir`` and every chapter exercise set, in course order."""
    from course_utils import exercises

    labs = sorted(p.parent.name for p in Path(labs_dir).glob("*/instructor.ipynb"))
    return [resolve(n, labs_dir) for n in labs] + [resolve(k, labs_dir) for k in sorted(exercises.SETS)]


def _chapter_notebook(key: str) -> Path:
    from course_utils.resources import chapters_folder

    chapter, number = SET_KEY.fullmatch(key).groups()
    found = sorted(chapters_folder().glob(f"{chapter}_*/{number}_*.ipynb"))
    if len(found) != 1:
        raise FileNotFoundError(f"exercise set {key}: expected one chapter notebook {chapter}_*/{number}_*.ipynb")
    return found[0]


# --------------------------------------------------------------------------- notebooks to hand out
def _setup_cell() -> dict:
    """The course's shared first code cell (on Colab it installs the package the checks need)."""
    try:
        from course_tools.nbtools import setup_cell_source
    except ImportError as err:   # the development tooling is not part of the learners' package
        raise ImportError("writing hand-outs needs the course's development tooling: from the repository, "
                          "run `make install` (or `pip install -e tools/`)") from err
    return {"cell_type": "code", "metadata": {}, "source": setup_cell_source()}


def _notebook(cells: list[dict], title: str) -> str:
    nb = {"cells": [{"cell_type": "markdown", "metadata": {}, "source": title}, _setup_cell()] + cells,
          "metadata": {"kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
                       "language_info": {"name": "python"}},
          "nbformat": 4, "nbformat_minor": 5}
    for i, c in enumerate(nb["cells"]):
        c["id"] = f"c{i:03d}"
        c.setdefault("metadata", {})
        if c["cell_type"] == "code":
            c["outputs"], c["execution_count"] = [], None
    return json.dumps(nb, indent=1, ensure_ascii=False) + "\n"


def exercise_cells(item: Item) -> list[dict]:
    """The chapter notebook's "## Exercises" section, without the quiz that follows it."""
    cells = json.loads(item.source.read_text(encoding="utf-8"))["cells"]
    start = [i for i, c in enumerate(cells) if c["cell_type"] == "markdown"
             and "".join(c["source"]).lstrip().startswith("## Exercises")]
    if len(start) != 1:
        raise ValueError(f"{item.source.name}: needs exactly one '## Exercises' section")
    out = []
    for c in cells[start[0]:]:
        text = "".join(c["source"])
        if c["cell_type"] == "markdown" and text.lstrip().startswith(PRACTICE_END):
            break
        out.append({"cell_type": c["cell_type"], "metadata": {}, "source": text})
    return out


def student_notebook(item: Item) -> str:
    """What a student gets: a lab's student notebook, or the exercise section as its own notebook."""
    if item.kind == "lab":
        return generate_student(item.source.parent)
    lesson = f"{item.source.parent.name}/{item.source.name}"
    return _notebook(exercise_cells(item), f"# Exercises {item.name}: {item.lab.title}\n\n"
                     f"From the lesson `{lesson}`; run the lesson first if an exercise uses its results. "
                     f"Submit this notebook as `{item.name}.ipynb`.")


def instructor_side(instructor: Path | None, key: str) -> dict:
    """``SOLUTIONS`` and ``HIDDEN`` of exercise set ``key`` from ``instructor/ex_chNN.py``."""
    if instructor is None:
        raise ValueError(f"{key}: the reference solutions and hidden tests of exercise sets are the instructor's; "
                         "give --instructor DIR (the repository's tests/lab_mutants)")
    path = Path(instructor) / f"ex_{key[:4]}.py"
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found (it holds SOLUTIONS and HIDDEN for {key[:4]}'s sets)")
    side = runpy.run_path(str(path))
    missing = [n for n in ("SOLUTIONS", "HIDDEN") if key not in side.get(n, {})]
    if missing:
        raise ValueError(f"{path}: no {' or '.join(missing)} entry for {key}")
    return {"solution": side["SOLUTIONS"][key], "hidden": side["HIDDEN"][key]}


def hidden_tests(item: Item, instructor: Path | None) -> str:
    """The hidden tests an item is graded with."""
    if item.kind == "exercises":   # written with math predefined, as tests/test_exercises.py runs them
        return "import math\n\n" + instructor_side(instructor, item.name)["hidden"]
    private = Path(instructor) / f"{item.name}.hidden.py" if instructor else None
    return hidden_source(item.source.parent, private if private and private.is_file() else None)


# --------------------------------------------------------------------------- solutions
def _strip_markers(source: str) -> str:
    keep = [line for line in source.split("\n") if line.strip() not in (BEGIN, END, MD_BEGIN, MD_END)]
    return "\n".join(keep)


def _defined(source: str) -> set[str]:
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    return {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}


def _split_solution(solution: str, stubs: list[set[str]]) -> list[str]:
    """The solution's code cut into one piece per stub cell (the definitions that cell asks for);
    imports and anything no stub names go with the first piece."""
    tree = ast.parse(solution)
    lines = solution.split("\n")
    pieces: list[list[str]] = [[] for _ in stubs]
    for node in tree.body:
        text = "\n".join(lines[node.lineno - 1 - len(getattr(node, "decorator_list", [])):node.end_lineno])
        name = getattr(node, "name", None)
        where = next((i for i, names in enumerate(stubs) if name in names), 0)
        pieces[where].append(text)
    return ["\n\n".join(p) if p else "" for p in pieces]


def solution_notebook(item: Item, instructor: Path | None = None) -> str:
    """The worked notebook to release after the deadline."""
    if item.kind == "lab":
        cells = []
        for c in json.loads(item.source.read_text(encoding="utf-8"))["cells"]:
            if HIDDEN_TAG in _tags(c) or INSTRUCTOR_TAG in _tags(c):
                continue
            cells.append({"cell_type": c["cell_type"], "metadata": {},
                          "source": _strip_markers("".join(c["source"]))})
        return _notebook(cells, f"# Solutions: {item.lab.title}")
    cells = exercise_cells(item)
    stub_cells = [i for i, c in enumerate(cells) if c["cell_type"] == "code" and "NotImplementedError" in c["source"]]
    pieces = _split_solution(instructor_side(instructor, item.name)["solution"],
                             [_defined(cells[i]["source"]) for i in stub_cells])
    for i, piece in zip(stub_cells, pieces):
        cells[i]["source"] = piece.strip() or "# (defined in the cell above)"
    worked = worked_solutions(item.name)
    if worked:
        cells.append({"cell_type": "markdown", "metadata": {},
                      "source": "## Worked solutions of the open-ended exercises\n\n" + "\n\n".join(worked)})
    return _notebook(cells, f"# Solutions: exercises {item.name}, {item.lab.title}")


def worked_solutions(key: str) -> list[str]:
    """The instructor guide's worked solutions of set ``key``'s open-ended exercises (paragraphs that
    start with ``**N.M, ``, up to the next one or the next heading)."""
    from course_utils.resources import course_files

    guide = course_files(["book/instructors.md"]).get("book/instructors.md")
    if guide is None:
        return []
    chapter, number = SET_KEY.fullmatch(key).groups()
    tag = f"**{int(chapter)}.{int(number)}, "
    out, current = [], None
    for block in guide.read_text(encoding="utf-8").split("\n\n"):
        if current and out[-1].count("```") % 2:   # inside a code block: a '#' line is a comment
            out[-1] += "\n\n" + block
        elif block.startswith("**") and re.match(r"\*\*\d+\.\d+, ", block):
            current = block.startswith(tag)
            if current:
                out.append(block)
        elif block.startswith("#"):
            current = False
        elif current:
            out[-1] += "\n\n" + block
    return out


# --------------------------------------------------------------------------- one table for many items
def grade_items(items: list[Item], submissions: Path, instructor: Path | None, out_csv: Path,
                timeout: float = 60.0, test_timeout: float = 10.0, memory_mb: int = 2048) -> list[dict]:
    """Grade ``SUBMISSIONS/<student>/<item>.ipynb`` for every student and item into one CSV: one row
    per student, a column per item and question, the total and what went wrong. A missing notebook
    scores 0 for that item and is named in the row's notes. Returns the rows."""
    from course_utils.grading.batch import grade_one

    submissions = Path(submissions)
    students = sorted(p for p in submissions.iterdir() if p.is_dir())
    if not students:
        raise ValueError(f"no student folders in {submissions}: expected {submissions}/<student>/<item>.ipynb")
    hidden = {it.name: hidden_tests(it, instructor) for it in items}
    protected = sorted({str(submissions.resolve()), str(Path(out_csv).resolve())}
                       | {str(it.source.parent.resolve()) for it in items}
                       | ({str(Path(instructor).resolve())} if instructor else set()))
    rows = []
    for student in students:
        row: dict = {"student": student.name}
        notes, total = [], 0.0
        for it in items:
            path = student / f"{it.name}.ipynb"
            points = dict.fromkeys(it.questions, 0.0)
            if not path.is_file():
                notes.append(f"{it.name}: no {path.name}")
            else:
                rep = grade_one(it.lab, path, hidden[it.name], protected, timeout, test_timeout, memory_mb)
                points = rep.question_points(it.lab)
                if rep.error:
                    notes.append(f"{it.name}: {rep.error}")
            for q in it.questions:
                row[f"{it.name}:{q}"] = points[q]
            row[it.name] = sum(points.values())
            total += row[it.name]
        row["total"], row["notes"] = total, "; ".join(notes)
        rows.append(row)
    maxima = _max_points(items, hidden)
    columns = ["student"] + [c for it in items for c in (*(f"{it.name}:{q}" for q in it.questions), it.name)] \
        + ["total", "notes"]
    out_csv = Path(out_csv)
    out_csv.parent.mkdir(parents=True, exist_ok=True)
    with out_csv.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(columns)
        w.writerow(["(max)"] + [f"{maxima[c]:g}" for c in columns[1:-1]] + [""])
        for row in rows:
            name = row["student"]
            safe = "'" + name if name[:1] in ("=", "+", "-", "@") else name   # no spreadsheet formulas
            w.writerow([safe] + [f"{row[c]:g}" for c in columns[1:-1]] + [row["notes"]])
    return rows


def _max_points(items: list[Item], hidden: dict[str, str]) -> dict[str, float]:
    from course_utils.grading.batch import _Registrar
    from course_utils.grading.core import expect_close, expect_equal

    out: dict[str, float] = {}
    for it in items:
        full = it.lab.copy()
        exec(compile(hidden[it.name], f"<hidden tests of {it.name}>", "exec"),
             {"check": _Registrar(full), "expect_close": expect_close, "expect_equal": expect_equal,
              "math": __import__("math")})
        for q in it.questions:
            out[f"{it.name}:{q}"] = sum(t.points for t in full.tests if t.question == q)
        out[it.name] = sum(out[f"{it.name}:{q}"] for q in it.questions)
    out["total"] = sum(out[it.name] for it in items)
    return out
