"""The in-notebook check: ``check = Checker("lab1_ngrams"); check("q1")``."""
import os
import sys
from typing import Callable

from course_utils.grading import core
from course_utils.grading.core import STRICT_ENV, GradingError, Lab, Outcome, load_lab, run_test


class Checker:
    """``check = Checker("lab1_ngrams")`` in a lab notebook; ``check("q1")`` runs q1's tests.

    Prints pass/fail with what was expected and a running score. Unanswered questions never
    raise; with COURSE_STRICT=1 (pytest/CI) a wrong answer raises GradingError.
    """

    def __init__(self, lab: str | Lab, namespace: dict | None = None):
        self.lab = lab.copy() if isinstance(lab, Lab) else load_lab(lab)
        if namespace is None and not core._BATCH:
            namespace = sys._getframe(1).f_globals
        self.namespace = namespace if namespace is not None else {}
        self.results: dict[str, list[Outcome]] = {}
        self._with_hidden = False

    def test(self, question: str, points: float = 1.0, hidden: bool = True) -> Callable:
        """Decorator for extra (by default hidden) tests, e.g. in an instructor notebook."""
        return self.lab.test(question, points, hidden)

    def run(self, question: str, hidden: bool = False, timeout: float | None = None) -> list[Outcome]:
        """Run a question's tests silently; ``hidden=True`` includes hidden tests."""
        if question not in self.lab.questions:
            raise ValueError(f"no question {question!r} in {self.lab.name}; "
                             f"questions are {', '.join(self.lab.questions)}")
        return [run_test(t, self.namespace, timeout) for t in self.lab.tests
                if t.question == question and (hidden or not t.hidden)]

    def __call__(self, question: str, hidden: bool = False) -> list[Outcome] | None:
        if core._BATCH:
            return None
        outcomes = self.run(question, hidden)
        self.results[question] = outcomes
        self._with_hidden |= hidden
        print(self._report(question, outcomes))
        print(self._score_line())
        wrong = [o for o in outcomes if o.status not in ("pass", "unanswered")]
        if wrong and os.environ.get(STRICT_ENV) == "1":
            raise GradingError(f"{question}: {wrong[0].test}: {wrong[0].message}")
        return None

    def run_all(self, hidden: bool = False) -> None:
        """Check every question (instructor notebooks use ``hidden=True``)."""
        for q in self.lab.questions:
            self(q, hidden)

    def _report(self, question: str, outcomes: list[Outcome]) -> str:
        title = f"{question} ({self.lab.questions[question]})"
        passed = sum(o.status == "pass" for o in outcomes)
        if not outcomes:
            return f"{title}: no tests"
        if all(o.status == "unanswered" for o in outcomes):
            return f"{title}: {outcomes[0].message}. Score 0 for now."
        mark = "passed" if passed == len(outcomes) else "FAILED"
        lines = [f"{title}: {mark} {passed}/{len(outcomes)} tests"]
        lines += [f"  ✗ {o.test}: {o.message}" for o in outcomes if o.status != "pass"]
        return "\n".join(lines)

    def _score_line(self) -> str:
        got = sum(o.points for outs in self.results.values() for o in outs)
        total = self.lab.max_points(hidden=self._with_hidden)
        which = "all tests (hidden included)" if self._with_hidden else "the public tests"
        return f"Score so far: {got:g}/{total:g} points on {which} of {self.lab.name}."

    def summary(self) -> None:
        """Run every public test quietly and print one line per question and the total."""
        if core._BATCH:
            return
        got = 0.0
        for q, title in self.lab.questions.items():
            outs = self.run(q)
            pts = sum(o.points for o in outs)
            got += pts
            state = ("not answered" if all(o.status == "unanswered" for o in outs)
                     else "passed" if all(o.status == "pass" for o in outs) else "some tests fail")
            print(f"{q:4s} {pts:g}/{self.lab.max_points(q, hidden=False):g}  {title}: {state}")
        print(f"Total: {got:g}/{self.lab.max_points(hidden=False):g} (public tests; the instructor "
              "may also run hidden tests)")
