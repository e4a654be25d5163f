"""Graded labs: in-notebook checks, the student-notebook generator and the batch grader.

One module per job: ``core`` (tests, outcomes, labs, expect_*), ``checker`` (in the notebook),
``generate`` (student notebooks), ``submission`` (reading a notebook), ``sandbox`` and ``worker``
(the grading process), ``batch`` (grading many), ``report`` (CSV and feedback), ``cli``.
The public names of all of them are importable from here.

    check = Checker("lab1_ngrams"); check("q1")                 # in a lab notebook
    python -m course_utils.grading generate exercises/<lab>       # instructor.ipynb -> student.ipynb
    course-grade exercises/<lab> submissions/ --out grades.csv    # grade every submitted notebook

Public tests live in ``course_utils.labs.<lab>`` (installed with the package, so they work on
Colab); hidden tests live in the instructor notebook (cells tagged ``hidden-tests``) or in a
private file given with ``--hidden``. See book/instructors.md for the workflow and threat model.
"""
from __future__ import annotations

import os

from course_utils.grading import worker
from course_utils.grading.batch import grade_batch, grade_one
from course_utils.grading.checker import Checker
from course_utils.grading.cli import main
from course_utils.grading.core import (
    BEGIN,
    END,
    HIDDEN_TAG,
    INSTRUCTOR_TAG,
    MD_BEGIN,
    MD_END,
    STRICT_ENV,
    STUB,
    TAMPERED,
    GradingError,
    Lab,
    Outcome,
    Test,
    expect_close,
    expect_equal,
    load_lab,
    plain,
    run_test,
)
from course_utils.grading.generate import generate_student, hidden_source, lab_name, solution_snippets
from course_utils.grading.report import Report, feedback_text, write_results
from course_utils.grading.submission import MAX_NOTEBOOK_BYTES, SubmissionError, read_submission

__all__ = ["BEGIN", "END", "GradingError", "HIDDEN_TAG", "INSTRUCTOR_TAG", "Lab", "MD_BEGIN", "MD_END",
           "Outcome", "STRICT_ENV", "STUB", "TAMPERED", "Test", "expect_close", "expect_equal", "load_lab",
           "plain", "run_test", "Checker", "generate_student", "hidden_source", "lab_name",
           "solution_snippets", "MAX_NOTEBOOK_BYTES", "SubmissionError", "read_submission", "Report",
           "feedback_text", "write_results", "grade_batch", "grade_one", "main"]

# In the grading server (a forkserver that preloads this package, environment COURSE_GRADE_SERVER=1):
# load what every worker needs and take the tamper snapshot once, before any worker forks.
if os.environ.get("COURSE_GRADE_SERVER") == "1" and __name__ == "course_utils.grading" and not worker._SERVER_SNAPSHOT:
    try:
        worker._prepare_server()
    except Exception:  # pragma: no cover - each worker then takes its own snapshot
        worker._SERVER_SNAPSHOT.clear()
