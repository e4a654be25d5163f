"""Checked exercises at the end of the chapter notebooks, built on the labs' machinery.

    from course_utils.exercises import checker
    check = checker("ch01_01")      # the exercise set of chapter 1, notebook 1
    check("q1")                     # pass/fail with a message; "not answered yet" for a stub

Each set is a :class:`course_utils.grading.Lab` with public tests only; the reference solutions,
hidden tests and mutants are on the instructor's side (tests/lab_mutants/ex_chNN.py).
One module per chapter (``ch01`` ... ``ch06``) defines that chapter's sets; importing this
package registers them all.
As in the labs, an unanswered exercise never raises; with COURSE_STRICT=1 a wrong one does.
"""
from __future__ import annotations

import importlib
import sys

from course_utils.grading import Checker, Lab

SETS: dict[str, Lab] = {}


def exercise_set(key: str, title: str, questions: dict[str, str]) -> Lab:
    """Create and register the exercise set ``key`` (e.g. ``"ch01_01"``)."""
    SETS[key] = Lab(f"ex_{key}", title, questions)
    return SETS[key]


def checker(key: str, namespace: dict | None = None) -> Checker:
    """A ``Checker`` for the exercise set ``key`` that reads the answers from the caller's globals."""
    if key not in SETS:
        raise ValueError(f"no exercise set {key!r}; known: {', '.join(SETS)}")
    return Checker(SETS[key], sys._getframe(1).f_globals if namespace is None else namespace)


CHAPTERS = ("ch01", "ch02", "ch03", "ch04", "ch05", "ch06")

for _name in CHAPTERS:  # each chapter module registers its sets with exercise_set()
    importlib.import_module(f"{__name__}.{_name}")
