"""Graded labs: in-notebook checks, the student-notebook generator and the batch grader.

    check = Checker("lab1_ngrams"); check("q1")                 # in a lab notebook
    python -m course_utils.grading generate exercises/<lab>       # instructor.ipynb -> student.ipynb
    course-grade exercises/<lab> submissions/ --out grades.csv    # grade every submitted notebook

Public tests live in ``course_utils.labs.<lab>`` (installed with the package, so they work on
Colab); hidden tests live in the instructor notebook (cells tagged ``hidden-tests``) or in a
private file given with ``--hidden``. See book/instructors.md for the workflow and threat model.
"""
from __future__ import annotations

import argparse
import csv
import importlib
import inspect
import json
import multiprocessing as mp
import os
import re
import secrets
import shutil
import signal
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

STRICT_ENV = "COURSE_STRICT"
HIDDEN_TAG, INSTRUCTOR_TAG = "hidden-tests", "instructor-only"
BEGIN, END = "# BEGIN SOLUTION", "# END SOLUTION"
MD_BEGIN, MD_END = "<!-- BEGIN SOLUTION -->", "<!-- END SOLUTION -->"
STUB = 'raise NotImplementedError("replace this line with your code")'
TAMPERED = "tampering detected"
_BATCH = False  # set in the grading worker: check() calls inside a submission do nothing


class GradingError(AssertionError):
    """A graded check failed in strict mode (COURSE_STRICT=1), so nbval marks the cell as failed."""


# --------------------------------------------------------------------------- tests and results
@dataclass
class Test:
    question: str
    name: str
    fn: Callable[..., Any]
    points: float = 1.0
    hidden: bool = False


@dataclass
class Outcome:
    question: str
    test: str
    status: str  # pass | fail | unanswered | error | timeout | crashed
    points: float
    max_points: float
    hidden: bool
    message: str = ""


class Lab:
    """A lab's questions and tests; public tests register with ``@lab.test("q1")``."""

    def __init__(self, name: str, title: str, questions: dict[str, str]):
        self.name, self.title, self.questions = name, title, dict(questions)
        self.tests: list[Test] = []

    def test(self, question: str, points: float = 1.0, hidden: bool = False) -> Callable:
        """Decorator: register a test of ``question``; its parameters name the student's objects."""
        if question not in self.questions:
            raise ValueError(f"{self.name}: unknown question {question!r}; known: {', '.join(self.questions)}")

        def register(fn: Callable) -> Callable:
            self.tests = [t for t in self.tests if not (t.question == question and t.name == fn.__name__)]
            self.tests.append(Test(question, fn.__name__, fn, float(points), hidden))
            return fn
        return register

    def copy(self) -> "Lab":
        new = Lab(self.name, self.title, self.questions)
        new.tests = list(self.tests)
        return new

    def max_points(self, question: str | None = None, hidden: bool = True) -> float:
        return sum(t.points for t in self.tests
                   if (question is None or t.question == question) and (hidden or not t.hidden))


def load_lab(name: str) -> Lab:
    """The lab ``name`` with its public tests, from ``course_utils.labs.<name>``."""
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise ValueError(f"lab name {name!r} must be a Python identifier like 'lab1_ngrams'")
    try:
        module = importlib.import_module(f"course_utils.labs.{name}")
    except ModuleNotFoundError as err:
        raise ValueError(f"no public tests for lab {name!r}: expected course_utils/labs/{name}.py") from err
    return module.lab.copy()


_TRUSTED: tuple = ()  # (TensorBase.detach, .cpu, .tolist, ndarray.tolist), bound before student code runs


def _trusted() -> tuple:
    """The conversion methods of tensors and arrays, taken from the C base classes (a student can
    replace ``torch.Tensor.tolist``; the grading worker binds these before any student code runs)."""
    if _TRUSTED:
        return _TRUSTED
    torch, np = sys.modules.get("torch"), sys.modules.get("numpy")
    base = getattr(getattr(torch, "_C", None), "TensorBase", None) or getattr(getattr(torch, "_C", None), "_TensorBase", None)
    return (base.detach, base.cpu, base.tolist) if base is not None else (None, None, None), \
        (np.ndarray.tolist if np is not None else None)


def _np_scalar_types(np: Any) -> set:
    return {t for t in set(np.sctypeDict.values()) if isinstance(t, type) and t.__module__ == "numpy"}


def plain(x: Any, depth: int = 0) -> Any:
    """A student's return value as plain data (numbers, strings, lists, tuples, dicts, sets);
    tensors and arrays become lists. Only these exact types are accepted: any other object,
    subclasses included (of int, list, tensor, ndarray, numpy scalars...), is refused, so none can
    fake ``==`` or ``tolist()``."""
    if depth > 32:
        raise AssertionError("the returned value is nested too deeply")
    t = type(x)
    if x is None or t is bool or t is int or t is float or t is str:
        return x
    if t is list or t is tuple:
        items = [plain(v, depth + 1) for v in x]
        return items if t is list else tuple(items)
    if t is dict:
        return {plain(k, depth + 1): plain(v, depth + 1) for k, v in dict.items(x)}
    if t is set or t is frozenset:
        return frozenset(plain(v, depth + 1) for v in x)
    torch = sys.modules.get("torch")
    if torch is not None and (t is torch.Tensor or t is torch.nn.Parameter):
        (detach, cpu, tolist), _ = _trusted()
        out = tolist(cpu(detach(x)))
        return plain(out, depth + 1)
    if torch is not None and (t is torch.dtype or t is torch.Size):
        return str(x) if t is torch.dtype else tuple(int(v) for v in tuple.__iter__(x))
    np = sys.modules.get("numpy")
    if np is not None and t is np.ndarray:
        _, tolist = _trusted()
        return plain(tolist(x), depth + 1)
    if np is not None and t in _np_scalar_types(np):
        return plain(x.item(), depth + 1)
    kind = "a subclass of " + next((b.__name__ for b in t.__mro__[1:] if b.__module__ in ("builtins", "numpy", "torch")
                                    and b is not object), "object") if t.__mro__[1:-1] else "an object"
    raise AssertionError(f"expected plain data (numbers, lists, tensors...), got {kind} of type {t.__name__}")


def expect_close(got: Any, expected: Any, what: str, rtol: float = 1e-5, atol: float = 1e-8) -> None:
    """Fail with 'what: expected ..., got ...' unless ``got`` equals ``expected`` within tolerance."""
    import numpy as np

    try:
        g, e = np.asarray(plain(got), dtype=float), np.asarray(plain(expected), dtype=float)
    except (TypeError, ValueError):
        raise AssertionError(f"{what}: expected a number or array like {_short(expected)}, got {_short(got)}") from None
    if g.shape != e.shape:
        raise AssertionError(f"{what}: expected shape {tuple(e.shape)}, got shape {tuple(g.shape)}")
    if not np.allclose(g, e, rtol=rtol, atol=atol, equal_nan=True):
        raise AssertionError(f"{what}: expected {_short(expected)}, got {_short(got)}")


def expect_equal(got: Any, expected: Any, what: str) -> None:
    """Fail with 'what: expected ..., got ...' unless ``got == expected`` (compared as plain data)."""
    if not (plain(got) == plain(expected)):
        raise AssertionError(f"{what}: expected {_short(expected)}, got {_short(got)}")


def _short(x: Any, n: int = 160) -> str:
    if hasattr(x, "detach"):
        x = x.detach()
        if x.numel() > 12:
            return f"tensor of shape {tuple(x.shape)}"
        x = [round(v, 4) for v in x.flatten().tolist()] if x.is_floating_point() else x.tolist()
    if isinstance(x, float):
        return f"{x:.6g}"
    s = repr(x)
    return s if len(s) <= n else s[: n - 3] + "..."


class _Timeout(BaseException):
    pass


def _alarm(seconds: float | None):
    """Context: raise _Timeout in the main thread after ``seconds`` (no-op without SIGALRM)."""
    class _Ctx:
        def __enter__(self):
            self.on = bool(seconds) and hasattr(signal, "setitimer") and _main_thread()
            if self.on:
                def handler(signum, frame):
                    raise _Timeout()
                self.old = signal.signal(signal.SIGALRM, handler)
                signal.setitimer(signal.ITIMER_REAL, float(seconds))

        def __exit__(self, *exc):
            if self.on:
                signal.setitimer(signal.ITIMER_REAL, 0)
                signal.signal(signal.SIGALRM, self.old)
    return _Ctx()


def _main_thread() -> bool:
    import threading
    return threading.current_thread() is threading.main_thread()


def _refuse_subclasses(r: Any, what: str) -> None:
    """A tensor or array subclass (or one inside a returned tuple/list) can override the methods
    that tests call on results (``.sum()``, ``.masked_select()``...): refuse it."""
    torch, np = sys.modules.get("torch"), sys.modules.get("numpy")
    for v in ((r,) + (tuple(r)[:64] if type(r) in (tuple, list) else ())):
        t = type(v)
        if (torch is not None and isinstance(v, torch.Tensor) and t not in (torch.Tensor, torch.nn.Parameter)) or \
                (np is not None and isinstance(v, (np.ndarray, np.generic)) and t is not np.ndarray
                 and t not in _np_scalar_types(np)):
            raise AssertionError(f"{what} returned an object of type {t.__name__} (a subclass of a tensor or "
                                 "array), not a plain tensor or array")


def _data_copy(x: Any) -> Any:
    """A deep copy of test data (containers, tensors, arrays); other objects (a student's layer) as they are."""
    import copy

    torch, np = sys.modules.get("torch"), sys.modules.get("numpy")
    data = (list, tuple, dict, set, frozenset) + ((torch.Tensor,) if torch else ()) + ((np.ndarray,) if np else ())
    if type(x) in data:
        try:
            return copy.deepcopy(x)
        except Exception:
            return x
    return x


def _returns_checked(obj: Any) -> Any:
    """The student's function, wrapped so that it works on copies of the test's arguments and its
    results are refused if they are tensor or array subclasses."""
    import types

    if type(obj) is not types.FunctionType:
        return obj

    def call(*args: Any, **kwargs: Any) -> Any:
        args = tuple(_data_copy(a) for a in args)  # changing the test's data in place cannot change the
        kwargs = {k: _data_copy(v) for k, v in kwargs.items()}  # expected values computed from it afterwards
        r = obj(*args, **kwargs)
        _refuse_subclasses(r, f"{obj.__name__}(...)")
        return r
    return call


def run_test(test: Test, namespace: dict, timeout: float | None = None) -> Outcome:
    """Run one test against the student's namespace and classify the result."""
    names = list(inspect.signature(test.fn).parameters)
    base = dict(question=test.question, test=test.name, max_points=test.points, hidden=test.hidden)
    missing = [n for n in names if n not in namespace]
    if missing:
        return Outcome(status="unanswered", points=0.0, message=f"not answered yet: `{missing[0]}` is not "
                       "defined (run the cell that defines it)", **base)
    try:
        with _alarm(timeout):
            test.fn(*[_returns_checked(namespace[n]) for n in names])
    except NotImplementedError:
        return Outcome(status="unanswered", points=0.0,
                       message="not answered yet: the function still raises NotImplementedError", **base)
    except AssertionError as err:
        return Outcome(status="fail", points=0.0, message=str(err) or "a check failed", **base)
    except _Timeout:
        return Outcome(status="timeout", points=0.0, message=f"took longer than {timeout:g} s", **base)
    except Exception as err:  # the student's code raised: a failed test, not a grader crash
        return Outcome(status="error", points=0.0, message=f"your code raised {type(err).__name__}: {err}"[:500], **base)
    return Outcome(status="pass", points=test.points, message="", **base)


# --------------------------------------------------------------------------- in-notebook checks
class Checker:
    """``check = Checker("lab1_ngrams")`` in a lab notebook; ``check("q1")`` runs q1's tests.

    Prints pass/fail with what was expected and a running score. Unanswered questions never
    raise; with COURSE_STRICT=1 (pytest/CI) a wrong answer raises GradingError.
    """

    def __init__(self, lab: str | Lab, namespace: dict | None = None):
        self.lab = lab.copy() if isinstance(lab, Lab) else load_lab(lab)
        if namespace is None and not _BATCH:
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
        if _BATCH:
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
        if _BATCH:
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


# --------------------------------------------------------------------------- student notebook generator
def _strip_solutions(source: str, where: str) -> str:
    out, inside, indent = [], False, ""
    for line in source.split("\n"):
        s = line.strip()
        if s.startswith(BEGIN):
            if inside:
                raise ValueError(f"{where}: nested {BEGIN}")
            inside, indent = True, line[: len(line) - len(line.lstrip())]
            if not indent:
                raise ValueError(f"{where}: {BEGIN} must be inside a function body (indented), so the "
                                 "student notebook still runs top to bottom")
            out.append(f"{indent}# YOUR CODE HERE")
            out.append(indent + STUB)
        elif s.startswith(END):
            if not inside:
                raise ValueError(f"{where}: {END} without {BEGIN}")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise ValueError(f"{where}: {BEGIN} without {END}")
    return "\n".join(out)


def _strip_markdown(source: str) -> str:
    return re.sub(re.escape(MD_BEGIN) + r".*?" + re.escape(MD_END), "*Your answer here.*", source, flags=re.S)


def _tags(cell: Any) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def generate_student(lab_dir: Path) -> str:
    """The student notebook text for ``lab_dir/instructor.ipynb`` (solutions and hidden tests removed)."""
    import nbformat

    from course_utils import nbtools

    src = Path(lab_dir) / "instructor.ipynb"
    nb = nbformat.read(src, as_version=4)
    cells = []
    for i, cell in enumerate(nb.cells):
        if HIDDEN_TAG in _tags(cell) or INSTRUCTOR_TAG in _tags(cell):
            continue
        if cell.cell_type == "code":
            cell.source = _strip_solutions(cell.source, f"{src} cell {i}")
        elif cell.cell_type == "markdown":
            cell.source = _strip_markdown(cell.source)
        cells.append(cell)
    nb.cells = cells
    nb.metadata["course_lab"] = {"generated_from": "instructor.ipynb",
                                 "note": "generated by `python -m course_utils.grading generate`; do not edit"}
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "student.ipynb"
        out.write_text(nbformat.writes(nb) + "\n", encoding="utf-8")
        nbtools.normalize(out)
        return out.read_text(encoding="utf-8")


def solution_snippets(lab_dir: Path) -> list[str]:
    """Lines of solution code and hidden-test code that must never appear in the student notebook."""
    import nbformat

    nb = nbformat.read(Path(lab_dir) / "instructor.ipynb", as_version=4)
    lines: list[str] = []
    for cell in nb.cells:
        if HIDDEN_TAG in _tags(cell):
            lines += cell.source.split("\n")
            continue
        inside = False
        for line in cell.source.split("\n"):
            if line.strip().startswith((BEGIN, MD_BEGIN)):
                inside = True
            elif line.strip().startswith((END, MD_END)):
                inside = False
            elif inside:
                lines.append(line)
    return [s.strip() for s in lines if len(s.strip()) >= 12 and not s.strip().startswith("#")]


def hidden_source(lab_dir: Path, hidden: Path | None = None) -> str:
    """Hidden-test code: the ``--hidden`` file (.py or .ipynb) or the instructor notebook's hidden cells."""
    path = Path(hidden) if hidden else Path(lab_dir) / "instructor.ipynb"
    if not path.is_file():
        raise FileNotFoundError(f"hidden tests {path} not found")
    if path.suffix != ".ipynb":
        return path.read_text(encoding="utf-8")
    nb = json.loads(path.read_text(encoding="utf-8"))
    return "\n\n".join(_src(c) for c in nb["cells"] if HIDDEN_TAG in _tags(c))


def _src(cell: dict) -> str:
    s = cell.get("source", "")
    return "".join(s) if isinstance(s, list) else str(s)


def lab_name(lab_dir: Path) -> str:
    return Path(lab_dir).resolve().name


# --------------------------------------------------------------------------- batch grading
class SubmissionError(ValueError):
    """A submitted file is not a readable notebook."""


MAX_NOTEBOOK_BYTES = 20 * 2**20


def read_submission(path: Path) -> list[str]:
    """The code cells of a submitted notebook (nbformat 4, or 3 converted), with IPython magics
    commented out. Raises SubmissionError with a clear reason for anything else."""
    path = Path(path)
    if not path.is_file():
        raise SubmissionError("not a regular file")
    if path.stat().st_size > MAX_NOTEBOOK_BYTES:
        raise SubmissionError(f"the file is larger than {MAX_NOTEBOOK_BYTES // 2**20} MB")
    try:
        nb = json.loads(path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError:
        raise SubmissionError("not a text file (expected a .ipynb notebook)") from None
    except json.JSONDecodeError as err:
        raise SubmissionError(f"invalid notebook JSON ({err.msg} at line {err.lineno})") from None
    except RecursionError:
        raise SubmissionError("invalid notebook: its JSON is nested too deeply") from None
    if not isinstance(nb, dict):
        raise SubmissionError("not a notebook: the file is JSON but not an object with a 'cells' list")
    major = nb.get("nbformat")
    if isinstance(nb.get("worksheets"), list) and "cells" not in nb:  # nbformat 3: cells in worksheets, code in 'input'
        cells = [dict(c, source=c.get("input", "")) for ws in nb["worksheets"] if isinstance(ws, dict)
                 for c in (ws.get("cells") if isinstance(ws.get("cells"), list) else []) if isinstance(c, dict)]
    elif isinstance(nb.get("cells"), list):
        cells = nb["cells"]
    elif isinstance(major, int) and major < 3:
        raise SubmissionError(f"nbformat {major} notebooks are not supported: open and save it in Jupyter first")
    else:
        raise SubmissionError("not a notebook: no 'cells' list")
    code = [c for c in cells if isinstance(c, dict) and c.get("cell_type") == "code"]
    if not code:
        raise SubmissionError("the notebook has no code cells")
    out = []
    for i, c in enumerate(code):
        s = c.get("source", "")
        if isinstance(s, list) and all(isinstance(x, str) for x in s):
            s = "".join(s)
        if not isinstance(s, str):
            raise SubmissionError(f"code cell {i + 1}: its 'source' is not text (a string or a list of strings)")
        out.append(re.sub(r"^(\s*)([%!])", r"\1# \2", s, flags=re.M))
    return out


def _lab_of(cells: list[str]) -> str | None:
    """The lab a notebook was written for, from its ``Checker("<lab>")`` line (None if absent)."""
    for s in cells:
        m = re.search(r"""Checker\(\s*["']([A-Za-z_][A-Za-z0-9_]*)["']""", s)
        if m:
            return m.group(1)
    return None


_BLOCKED_EVENTS = frozenset((
    "subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork", "os.forkpty",
    "os.kill", "os.killpg", "signal.pthread_kill", "sys.addaudithook", "_thread.start_new_thread",
    "sys._current_frames", "sys._current_exceptions",
    "sys.settrace", "sys.setprofile", "gc.get_objects", "gc.get_referrers", "gc.get_referents", "code.__new__",
    "function.__new__", "sys.set_asyncgen_hooks_firstiter", "sys.set_asyncgen_hooks_finalizer", "cpython.remote_debugger_script",
    "shutil.make_archive", "shutil.unpack_archive", "sqlite3.connect", "sqlite3.enable_load_extension",
    "webbrowser.open", "os.startfile", "pty.spawn"))
_BLOCKED_PREFIXES = ("ctypes.", "socket.", "fcntl.", "syslog.", "winreg.", "msvcrt.", "ftplib.", "http.", "urllib.",
                     "smtplib.", "poplib.", "imaplib.", "nntplib.", "telnetlib.", "resource.")
_BLOCKED_IMPORTS = frozenset(("ctypes", "_ctypes", "cffi", "_cffi_backend", "_posixsubprocess", "_xxsubinterpreters",
                              "_testcapi", "_testinternalcapi", "tracemalloc", "faulthandler"))
# events that change the file system -> (indices of path arguments, indices of dir_fd arguments)
_WRITE_EVENTS = {
    "os.remove": ((0,), (1,)), "os.rmdir": ((0,), (1,)), "os.rename": ((0, 1), (2, 3)), "os.mkdir": ((0,), (2,)),
    "os.symlink": ((0, 1), (2,)), "os.link": ((0, 1), (2, 3)), "os.truncate": ((0,), ()), "os.chmod": ((0,), (2,)),
    "os.chown": ((0,), (3,)), "os.utime": ((0,), (3,)), "os.chflags": ((0,), ()), "os.lchflags": ((0,), ()),
    "os.setxattr": ((0,), ()), "os.removexattr": ((0,), ()), "shutil.rmtree": ((0,), (1,)),
    "shutil.copyfile": ((1,), ()), "shutil.copymode": ((1,), ()), "shutil.copystat": ((1,), ()),
    "shutil.copytree": ((1,), ()), "shutil.move": ((0, 1), ()), "shutil.chown": ((0,), ()), "os.mkfifo": ((0,), (2,)),
    "os.mknod": ((0,), (3,)), "os.lockf": ((0,), ()),
}
_READ_EVENTS = {"os.listdir": 0, "os.scandir": 0, "os.chdir": 0, "os.getxattr": 0, "os.listxattr": 0,
                "glob.glob": 0, "glob.glob/2": 0, "shutil.copyfile": 0, "shutil.copytree": 0, "shutil.copymode": 0,
                "shutil.copystat": 0, "os.fwalk": 0}
_PROC_OK = frozenset(("statm", "stat", "status", "meminfo", "cpuinfo", "limits", "mounts", "cgroup", "sys"))
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_TRUNC


def _install_guard(workdir: str, protected: list[str], watched_dicts: list[dict] = (),
                   watched_objects: frozenset = frozenset()) -> Callable[[], str]:
    """Audit hook in the worker (Python's audit hooks; see the threat model in book/instructors.md).

    Refused: opening, listing or statting-by-name the protected paths (lab folder, hidden tests,
    submissions, outputs) and other processes' /proc entries; any write, remove, rename or link
    outside ``workdir``; file descriptors, ``dir_fd`` or path objects other than str and bytes in
    place of paths, opening folders; new processes, threads, signals, sockets, ctypes; frames,
    tracing, gc object walks, new code objects.

    The hook uses only what it binds here (C functions, copies of the tables): a submission that
    rebinds a builtin, ``os.fspath``, ``os.path.realpath`` or this module's tables does not change
    it. Paths are resolved by the kernel (an ``O_PATH`` descriptor read back from /proc/self/fd).

    Returns a function that says which of ``watched_dicts`` changed since the hook was installed
    (each dict's internal version, which any change moves, even one undone afterwards), or "".
    """
    import importlib._bootstrap_external as _bx

    blocked, blocked_prefixes, blocked_imports = frozenset(_BLOCKED_EVENTS), tuple(_BLOCKED_PREFIXES), frozenset(_BLOCKED_IMPORTS)
    write_events = {k: (tuple(p), tuple(f)) for k, (p, f) in _WRITE_EVENTS.items()}
    read_events, proc_ok, write_flags = frozenset(_READ_EVENTS), frozenset(_PROC_OK), _WRITE_FLAGS
    o_path, o_cloexec = getattr(os, "O_PATH", 0), os.O_CLOEXEC
    os_open, os_close, os_fstat, readlink, realpath = os.open, os.close, os.fstat, os.readlink, os.path.realpath
    kernel_paths = bool(o_path) and os.path.isdir("/proc/self/fd")
    str_t, bytes_t, int_t, bool_t, len_, any_, type_, id_ = str, bytes, int, bool, len, any, type, id
    perm, oserror = PermissionError, OSError
    fs_encoding = sys.getfilesystemencoding()
    pid = str(os.getpid())
    pyc_loader = _bx._compile_bytecode.__code__
    stack_to_text = _frame_readers()
    getframe = sys._getframe
    busy: list[int] = []

    def deny(what: str) -> None:
        raise perm(f"{what} is not allowed while grading")

    def canon(p: str, follow: bool = True, depth: int = 0) -> tuple[str, bool]:
        """The kernel's absolute path for ``p`` (its folder's, plus the last name, if it does not
        exist or ``follow`` is False) and whether it is a folder."""
        if not kernel_paths or depth > 64:
            return realpath(p), False
        if follow:
            try:
                fd = os_open(p, o_path | o_cloexec)
            except oserror:
                fd = -1
            if fd >= 0:
                try:
                    return readlink(f"/proc/self/fd/{fd}"), (os_fstat(fd).st_mode & 0o170000) == 0o040000
                finally:
                    os_close(fd)
        stripped = p.rstrip("/")
        if "/" not in stripped:
            head, tail = ".", stripped
        else:
            head, tail = stripped.rsplit("/", 1)
            head = head or "/"
        if tail in ("", ".", ".."):
            return realpath(p), False
        parent, _ = canon(head, True, depth + 1)
        return (parent.rstrip("/") + "/" + tail), False

    home = canon(workdir)[0]
    prefixes = tuple(canon(p)[0].rstrip("/") for p in protected)

    def resolve(arg: Any, event: str, follow: bool = True) -> tuple[str, bool]:
        t = type_(arg)
        if t is int_t or t is bool_t:
            deny(f"{event} with a file descriptor")
        if t is bytes_t:
            arg = bytes_t.decode(arg, fs_encoding, "surrogateescape")
        elif t is not str_t:
            deny(f"{event} with a {t.__name__} path (use a str)")
        if "\0" in arg:
            deny(f"{event} with a NUL in the path")
        busy.append(1)
        try:
            return canon(arg, follow)
        finally:
            busy.pop()

    def inside(p: str, root: str) -> bool:
        return p == root or p.startswith(root + "/")

    def check_read(p: str) -> None:
        for q in prefixes:
            if inside(p, q):
                deny(f"reading {p}")
        if p.startswith("/proc/"):
            part = p.split("/")
            if (part[2] != pid and part[2] not in proc_ok) or (part[2] == pid and len_(part) > 3 and part[3] not in proc_ok):
                deny(f"reading {p}")
        if p.startswith("/dev/") and p not in ("/dev/null", "/dev/urandom", "/dev/random", "/dev/zero"):
            deny(f"reading {p}")

    def check_write(p: str) -> None:
        if not inside(p, home) and p != "/dev/null":
            deny(f"writing {p} (only the submission's own temporary folder is writable)")
        if p.endswith((".pyc", ".pyo", ".so", ".pth")):
            deny(f"writing {p} (compiled code)")

    def hook(event: str, args: tuple) -> None:
        if busy:
            return
        if event in blocked or event.startswith(blocked_prefixes):
            deny(event)
        if event == "open":
            p, is_dir = resolve(args[0], "open")
            mode, flags = args[1] if len_(args) > 1 else None, args[2] if len_(args) > 2 else 0
            writing = (type_(mode) is str_t and any_(c in mode for c in "wax+")) or \
                (type_(flags) is int_t and flags & write_flags)
            if writing:
                check_write(p)
            check_read(p)
            if is_dir:
                deny(f"opening the folder {p}")
        elif event in write_events:
            paths, fds = write_events[event]
            for i in fds:
                if i < len_(args) and args[i] is not None and args[i] != -1:
                    deny(f"{event} with dir_fd")
            for i in paths:
                if i < len_(args):
                    follow = event in ("os.truncate", "os.chmod", "os.chown", "os.utime", "shutil.copyfile",
                                       "shutil.copymode", "shutil.copystat", "shutil.copytree")
                    check_write(resolve(args[i], event, follow)[0])
        elif event in read_events:
            if event == "glob.glob/2" and (args[2] is not None or args[3] is not None):
                deny("glob with root_dir or dir_fd")
            if args and args[0] is not None:
                p = resolve(args[0], event)[0]
                check_read(p)
                if event == "os.chdir" and not inside(p, home):
                    deny(f"changing to {p}")
        elif event == "object.__setattr__" and len_(args) > 1:  # (dataclasses set __defaults__ of their own functions)
            name = args[1]
            if type_(name) is not str_t or name == "__code__" or \
                    (name in ("__defaults__", "__kwdefaults__", "__class__", "__bases__", "__module__", "__qualname__",
                              "__name__", "__dict__") and id_(args[0]) in watched_objects):
                deny(f"setting .{name}")
        elif event == "object.__delattr__" and args and id_(args[0]) in watched_objects:
            deny("deleting an attribute of the grader, NumPy, PyTorch or a watched module")
        elif event == "object.__getattr__" and len_(args) > 1:
            if type_(args[1]) is not str_t or args[1].endswith("_frame"):
                deny(f"reading .{args[1]}")
        elif event in ("marshal.loads", "marshal.load", "sys._getframe"):
            busy.append(1)
            try:  # only the import system may unmarshal code; only the standard library's helpers that turn
                # frames into text or module names (traceback, namedtuple, enum, typing) may look at frames
                caller = getframe(1).f_code
            finally:
                busy.pop()
            ok = any_(caller is c for c in stack_to_text) if event == "sys._getframe" else caller is pyc_loader
            if not ok:
                deny(event)
        elif event == "import" and args and type_(args[0]) is str_t and args[0].split(".")[0] in blocked_imports:
            deny(f"importing {args[0]}")
        elif event == "mmap.__new__" and args and args[0] is not None and args[0] != -1:
            deny("mmap of a file")

    versions = _dict_versions()
    dicts = list(watched_dicts) if versions else []

    def read_versions() -> list[int]:
        busy.append(1)
        try:
            return [versions(d) for d in dicts]
        finally:
            busy.pop()
    before = read_versions()

    def changed() -> str:
        after = read_versions()
        for d, a, b in zip(dicts, before, after):
            if a != b:
                name = d.get("__name__") if type_(d.get("__name__")) is str_t else None
                return f"{name or d.get('__qualname__', 'a watched dictionary')} (changed, perhaps changed back)"
        return ""
    sys.addaudithook(hook)
    return changed


def _dict_versions() -> Callable[[dict], int] | None:
    """A reader of CPython's internal version of a dict (moved by every change, even one undone
    later), or None where that is not available (other interpreters, Python 3.13+)."""
    if sys.implementation.name != "cpython" or sys.version_info >= (3, 13):
        return None
    try:
        import ctypes
    except ImportError:  # pragma: no cover
        return None
    u64, offset = ctypes.c_uint64, 2 * ctypes.sizeof(ctypes.c_void_p) + ctypes.sizeof(ctypes.c_ssize_t)

    def version(d: dict) -> int:
        return u64.from_address(id(d) + offset).value
    probe: dict = {}
    v0 = version(probe)
    probe["x"] = 1
    v1 = version(probe)
    probe["x"] = 2
    return version if v0 != v1 != version(probe) else None


def _frame_readers() -> tuple:
    """Code of the library functions that may call ``sys._getframe`` while grading: each turns the
    frame into text, a module name or a bool and never hands it out."""
    import collections
    import enum
    import traceback
    import typing

    fns = [traceback.format_stack, traceback.extract_stack, traceback.print_stack, collections.namedtuple,
           getattr(typing, "_caller", None), getattr(getattr(enum, "EnumType", enum.EnumMeta), "_create_", None)]
    te = sys.modules.get("typing_extensions")
    fns += [getattr(te, n, None) for n in ("_caller", "_has_generic_or_protocol_as_origin")] if te else []
    return tuple(c for c in (getattr(getattr(f, "__func__", f), "__code__", None) for f in fns) if c is not None)


def _seccomp() -> bool:
    """Linux x86-64: a seccomp filter in the worker (no exec, fork, ptrace, other processes' memory or
    sockets; threads of the libraries still start). Returns whether it is active."""
    import platform
    import struct

    if sys.platform != "linux" or platform.machine() != "x86_64":
        return False
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
    except (ImportError, OSError):
        return False
    allow, eperm, enosys = 0x7FFF0000, 0x00050000 | 1, 0x00050000 | 38

    def op(code: int, k: int, jt: int = 0, jf: int = 0) -> bytes:
        return struct.pack("HBBI", code, jt, jf, k)
    ld, jeq, jge, jset, ret = 0x20, 0x15, 0x35, 0x45, 0x06
    prog = [op(ld, 4), op(jeq, 0xC000003E, 1, 0), op(ret, eperm), op(ld, 0), op(jge, 0x40000000, 0, 1), op(ret, eperm)]
    # execve, execveat, fork, vfork, ptrace, process_vm_readv/writev, socket, socketpair, kill, tkill, tgkill
    for nr in (59, 322, 57, 58, 101, 310, 311, 41, 53, 62, 200, 234):
        prog += [op(jeq, nr, 0, 1), op(ret, eperm)]
    prog += [op(jeq, 435, 0, 1), op(ret, enosys)]  # clone3: glibc falls back to clone
    prog += [op(jeq, 56, 1, 0), op(ret, allow), op(ld, 16), op(jset, 0x10000, 0, 1), op(ret, allow), op(ret, eperm)]
    buf = ctypes.create_string_buffer(b"".join(prog), len(prog) * 8)

    class Fprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]
    fprog = Fprog(len(prog), ctypes.addressof(buf))
    if libc.prctl(38, 1, 0, 0, 0) != 0:  # PR_SET_NO_NEW_PRIVS
        return False
    return libc.prctl(22, 2, ctypes.byref(fprog), 0, 0) == 0  # PR_SET_SECCOMP, SECCOMP_MODE_FILTER


class _Capped:
    """A stdout replacement that keeps the first ``limit`` characters."""

    def __init__(self, limit: int = 4000):
        self.parts: list[str] = []
        self.size, self.limit = 0, limit

    def write(self, s: str) -> int:
        s = str.__add__("", s) if isinstance(s, str) else str(s)
        if self.size < self.limit:
            self.parts.append(s[: self.limit - self.size])
        self.size += len(s)
        return len(s)

    def flush(self) -> None:
        pass

    def text(self) -> str:
        out = "".join(self.parts)
        return out + (TRUNCATED if self.size > self.limit else "")


TRUNCATED = "\n[... output truncated]"
_STATUSES = ("pass", "fail", "unanswered", "error", "timeout")
_MAX_MESSAGE = 64 * 2**10


def _worker(conn: Any) -> None:
    """Grading worker, forked from a clean server (libraries loaded, no hidden tests, clean argv and
    environment) for one attempt at one submission.

    Everything it reports is length-prefixed JSON with an HMAC under a per-attempt key that only
    this function's locals hold. Student cells run first; the hidden tests arrive afterwards."""
    global _BATCH, _TRUSTED
    import gc
    import resource
    from json.encoder import encode_basestring_ascii as esc

    try:
        from _hashlib import hmac_digest
    except ImportError:  # pragma: no cover
        import hmac as _h
        hmac_digest = _h.digest
    _BATCH = True
    fd = os.dup(conn.fileno())
    conn.close()
    proc = mp.current_process()
    proc._args, proc._kwargs, proc._target = (), {}, None  # type: ignore[attr-defined]
    read, write, loads, sigmask, setitimer = os.read, os.write, json.loads, signal.pthread_sigmask, signal.setitimer
    gc_enable, gc_disable, gc_callbacks, run, tampered = gc.enable, gc.disable, gc.callbacks, run_test, _tampered
    all_signals = set(signal.Signals) - {signal.SIGKILL, signal.SIGSTOP}
    strt, listt, dictt, boolt, intt, floatt = str, list, dict, bool, int, float
    seq = [0]

    def read_exact(n: int) -> bytes:
        buf = b""
        while len(buf) < n:
            chunk = read(fd, n - len(buf))
            if not chunk:
                raise EOFError
            buf += chunk
        return buf

    def recv() -> Any:
        (n,) = struct_unpack("!i", read_exact(4))
        return loads(read_exact(n).decode("utf-8"))

    def enc(o: Any) -> str:
        t = type(o)
        if o is None or t is boolt:
            return "null" if o is None else ("true" if o else "false")
        if t is intt or t is floatt:
            return repr(o) if o == o and o not in (float("inf"), float("-inf")) else "null"
        if t is listt:
            return "[" + ",".join([enc(v) for v in o]) + "]"
        if t is dictt:
            return "{" + ",".join([esc(k) + ":" + enc(v) for k, v in o.items()]) + "}"
        return esc(strt.__add__("", o) if isinstance(o, strt) else "<not text>")

    def quiet() -> None:  # no student code (signal handlers, gc callbacks, finalizers) from here to send()
        sigmask(signal.SIG_BLOCK, all_signals)
        gc_disable()
        gc_callbacks.clear()
        for which in (signal.ITIMER_REAL, signal.ITIMER_VIRTUAL, signal.ITIMER_PROF):
            setitimer(which, 0)

    def send(msg: dict) -> None:
        body = enc(msg).encode("ascii")
        mac = hmac_digest(key, str(seq[0]).encode() + b":" + body, "sha256").hex().encode()
        seq[0] += 1
        data = mac + body
        frame = struct_pack("!i", len(data)) + data
        while frame:
            frame = frame[write(fd, frame):]

    def loud() -> None:
        gc_enable()
        sigmask(signal.SIG_UNBLOCK, all_signals)

    from struct import pack as struct_pack, unpack as struct_unpack

    setup = recv()
    key = bytes.fromhex(setup.pop("key"))
    workdir, limits, cells = setup["workdir"], setup["limits"], setup["cells"]
    os.chdir(workdir)
    sys.argv[:] = ["course-grade-worker"]
    sys.orig_argv[:] = [sys.executable]
    mp.process.ORIGINAL_DIR = workdir  # type: ignore[attr-defined]
    keep = {k: os.environ[k] for k in ("PATH", "LANG", "LC_ALL", "MPLBACKEND") if k in os.environ}
    os.environ.clear()
    os.environ.update(keep, HOME=workdir, TMPDIR=workdir, COURSE_PROFILE="ci", OMP_NUM_THREADS="1")
    getattr(sys.modules.get("posix"), "environ", {}).clear()
    tempfile.tempdir = workdir
    sys.dont_write_bytecode = True
    protected = setup["protected"]
    sys.path[:] = [p for p in sys.path if p and os.path.isdir(p)
                   and not any(os.path.realpath(p).startswith(q) for q in protected)
                   and os.path.realpath(p) != os.path.realpath(limits["parent_cwd"])]
    devnull = os.open(os.devnull, os.O_RDWR)
    for std in (0, 1, 2):
        os.dup2(devnull, std)
    out = _Capped()
    sys.stdout = sys.stderr = out  # type: ignore[assignment]
    sys.stdin = None  # type: ignore[assignment]
    vm = _vm_bytes()
    mem = vm + int(limits["memory_mb"]) * 2**20
    resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
    resource.setrlimit(resource.RLIMIT_FSIZE, (50 * 2**20, 50 * 2**20))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    checker = Checker(setup["lab"], namespace={})
    _TRUSTED = _trusted()
    del setup
    _seccomp()
    import traceback  # noqa: F401  (loaded before the guard: torch formats stacks with it)
    if not _SERVER_SNAPSHOT:
        _warning_registries()
    snap = list(_SERVER_SNAPSHOT) or _snapshot()  # taken once in the server: the same objects after fork
    _SERVER_SNAPSHOT.clear()
    shutil._use_fd_functions = False  # type: ignore[attr-defined]  # rmtree by path: folders cannot be opened
    watched = frozenset(id(e[3]) for e in snap if isinstance(e[3], (type, type(sys))) or type(e[3]).__name__ == "function")
    dict_changed = _install_guard(workdir, protected, _version_watched(), watched)
    ns: dict[str, Any] = {"__name__": "__main__", "__builtins__": __builtins__}
    errors: list[str] = []
    for i, src in enumerate(cells):
        try:
            code = compile(src, f"<cell {i + 1}>", "exec")
            with _alarm(limits["test_timeout"]):
                exec(code, ns)
        except _Timeout:
            errors.append(f"cell {i + 1}: stopped after {limits['test_timeout']:g} s")
        except MemoryError:
            errors.append(f"cell {i + 1}: MemoryError (memory limit {limits['memory_mb']} MB)")
        except BaseException as err:  # SyntaxError, SystemExit, KeyboardInterrupt in student code
            try:
                errors.append(f"cell {i + 1}: {type(err).__name__}: {err}"[:300])
            except BaseException:
                errors.append(f"cell {i + 1}: an exception that cannot be shown")
    quiet()
    changed = tampered(snap) or dict_changed()
    if changed:
        send({"k": "tampered", "what": changed})
        return
    send({"k": "cells_done", "errors": [strt(e) for e in errors][:100], "output": out.text()})
    sys.stdout = sys.stderr = _Capped(0)  # output during the tests is dropped (it could echo tests)
    request = recv()
    hidden, todo = request["hidden"], [tuple(k) for k in request["todo"]]
    hns: dict[str, Any] = {"__name__": "hidden_tests", "check": checker,
                           "expect_close": expect_close, "expect_equal": expect_equal}
    exec(compile(hidden, "<hidden tests>", "exec"), hns)
    del hidden, request
    tests = {(t.question, t.name): t for t in checker.lab.tests}
    checker.namespace = ns
    for key_ in todo:
        send({"k": "start", "q": key_[0], "t": key_[1]})
        t = tests.get(key_)
        loud()
        try:
            outcome = run(t, ns, limits["test_timeout"]) if t is not None else None
            status, message = (outcome.status, outcome.message) if outcome else ("error", "test not found")
        except BaseException as err:  # SystemExit, KeyboardInterrupt, our _Timeout raised by the student
            status, message = "error", f"your code raised {type(err).__name__}"
        quiet()
        changed = tampered(snap) or dict_changed()
        if changed:
            send({"k": "tampered", "what": changed})
            return
        send({"k": "result", "q": key_[0], "t": key_[1], "status": status, "message": message})
    send({"k": "done"})


_WATCHED = ("course_utils", "numpy", "torch", "builtins", "math", "inspect", "dataclasses", "signal", "types",
            "multiprocessing", "pickle", "sys", "os", "posix", "re", "json", "collections", "functools", "operator",
            "hmac", "_hashlib", "hashlib", "struct", "_struct", "gc", "traceback", "importlib", "random", "copy")


def _snapshot() -> list[tuple[str, Any, Any, Any]]:
    """What the grader relies on, to spot a submission that changes it: the functions and classes of
    the grader, NumPy, PyTorch and key standard modules (module and class dictionaries, new keys
    included), the grader's function defaults, and which module objects ``sys.modules`` holds."""
    import warnings

    out: list[tuple[str, Any, Any, Any]] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _collect(out)
    return out


_CLASS_MODULES = frozenset(("torch", "torch._tensor", "torch._C", "torch.nn.parameter", "torch.nn.modules.module",
                            "torch.nn.modules.linear", "numpy", "json.encoder", "json.decoder", "hmac",
                            "inspect", "dataclasses", "functools", "collections"))
_SIZE = object()  # marks a snapshot entry that records a dictionary's size


def _collect(out: list) -> None:
    mods = sys.modules
    for name, mod in list(mods.items()):
        if name.split(".")[0] not in _WATCHED:
            continue
        out.append((f"sys.modules[{name!r}]", mods, name, mod))
        d = getattr(mod, "__dict__", None)
        if not isinstance(d, dict):
            continue
        ours = name.startswith("course_utils")
        if ours and not hasattr(mod, "__path__"):  # a package gains names as its submodules load
            out.append((f"{name} (its names)", d, _SIZE, len(d)))
        for k, v in list(d.items()):
            if isinstance(v, type) and (ours or name in _CLASS_MODULES) and getattr(v, "__module__", None) == name:
                cd = v.__dict__
                out.append((f"{name}.{k} (its attributes)", cd, _SIZE, len(cd)))
                out += [(f"{name}.{k}.{a}", cd, a, w) for a, w in list(cd.items())]
            if ours or (callable(v) and not isinstance(v, type(sys))):
                out.append((f"{name}.{k}", d, k, v))
            if ours and type(v).__name__ == "function":
                out.append((f"{name}.{k}.__defaults__", v, "__defaults__", v.__defaults__))
                out.append((f"{name}.{k}.__kwdefaults__", v, "__kwdefaults__", v.__kwdefaults__))


_VERSION_WATCHED = ("builtins", "math", "operator", "functools", "itertools", "inspect", "dataclasses", "types",
                    "copy", "random", "heapq", "bisect", "os", "posixpath", "genericpath", "numpy.core.numeric",
                    "numpy._core.numeric", "numpy.core.fromnumeric", "numpy._core.fromnumeric", "torch.functional",
                    "torch.nn.functional", "torch._tensor")  # modules, not packages: no submodule appears in them


def _warning_registries() -> None:
    """Give the watched modules their ``__warningregistry__`` now, so a warning during a test does
    not add it (which would look like a change to the module)."""
    for name, mod in list(sys.modules.items()):
        if (name.startswith("course_utils") or name in _VERSION_WATCHED) and isinstance(getattr(mod, "__dict__", None), dict):
            mod.__dict__.setdefault("__warningregistry__", {})


def _version_watched() -> list[dict]:
    """The dictionaries whose every change counts as tampering: the grader's and the labs' modules
    and classes, the main NumPy and PyTorch namespaces and the tensor and module classes."""
    import gc

    out: list[dict] = []
    for name, mod in list(sys.modules.items()):
        d = getattr(mod, "__dict__", None)
        if not isinstance(d, dict) or hasattr(mod, "__path__") and name.startswith("course_utils"):
            continue
        if name.startswith("course_utils") or name in _VERSION_WATCHED:
            out.append(d)
        if name.startswith("course_utils") or name in ("torch._tensor", "torch.nn.modules.module"):
            for v in list(d.values()):
                if isinstance(v, type) and v.__module__ == name:
                    out += [r for r in gc.get_referents(v.__dict__) if type(r) is dict]
    return out


def _tampered(snap: list[tuple[str, Any, Any, Any]], len: Callable = len, type: Callable = type,
              getattr: Callable = getattr) -> str:
    for label, d, k, v in snap:
        if k is _SIZE:
            if len(d) != v:
                return label
        elif type(d) is dict or type(d).__name__ == "mappingproxy":
            if d.get(k, _SIZE) is not v:
                return label
        elif getattr(d, k, _SIZE) is not v:
            return label
    return ""


def _vm_bytes() -> int:
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return 0


@dataclass
class Report:
    student: str
    outcomes: list[Outcome] = field(default_factory=list)
    error: str = ""
    cell_errors: list[str] = field(default_factory=list)
    output: str = ""
    seconds: float = 0.0

    def question_points(self, lab: Lab) -> dict[str, float]:
        return {q: sum(o.points for o in self.outcomes if o.question == q) for q in lab.questions}


_WORKER_ENV = ("PATH", "LANG", "LC_ALL", "MPLBACKEND")


def _context() -> Any:
    ctx = mp.get_context("forkserver" if "forkserver" in mp.get_all_start_methods() else "spawn")
    if ctx.get_start_method() == "forkserver":
        from multiprocessing import forkserver

        ctx.set_forkserver_preload(["course_utils.grading", "numpy", "torch"])
        saved = dict(os.environ)
        try:  # the server (and so every worker) starts with a minimal environment
            os.environ.clear()
            os.environ.update({k: saved[k] for k in _WORKER_ENV if k in saved}, OMP_NUM_THREADS="1",
                              COURSE_PROFILE="ci", COURSE_GRADE_SERVER="1")
            forkserver.ensure_running()
        finally:
            os.environ.clear()
            os.environ.update(saved)
    return ctx


class _Argv:
    """Context: a neutral ``sys.argv`` and ``__main__`` while a worker starts (multiprocessing copies
    the first to the child and reruns the second's file there)."""

    def __enter__(self):
        import types

        self.saved, self.main = sys.argv, sys.modules["__main__"]
        sys.argv = ["course-grade-worker"]
        sys.modules["__main__"] = types.ModuleType("__main__")  # so the worker does not rerun the caller's script

    def __exit__(self, *exc):
        sys.argv = self.saved
        sys.modules["__main__"] = self.main


def grade_one(lab: Lab, path: Path, hidden: str, protected: list[str], timeout: float = 60.0,
              test_timeout: float = 10.0, memory_mb: int = 2048) -> Report:
    """Grade one submitted notebook in its own processes (time, memory and file limits). Never
    raises: anything that goes wrong becomes the report's ``error``."""
    rep = Report(Path(path).name)
    t0 = time.monotonic()
    full = lab.copy()
    exec(compile(hidden, "<hidden tests>", "exec"), {"check": _Registrar(full), "expect_close": expect_close,
                                                      "expect_equal": expect_equal})
    try:
        _grade(rep, full, lab.name, path, hidden, protected, timeout, test_timeout, memory_mb)
    except Exception as err:  # a bug or a file nobody foresaw: this submission only
        rep.error = f"not graded: {type(err).__name__}: {err}"[:500]
        rep.outcomes = [_missing(t, "not graded: " + rep.error) for t in full.tests]
    rep.seconds = time.monotonic() - t0
    return rep


def _grade(rep: Report, full: Lab, lab: str, path: Path, hidden: str, protected: list[str], timeout: float,
           test_timeout: float, memory_mb: int) -> None:
    try:
        cells = read_submission(path)
    except (SubmissionError, OSError) as err:
        rep.error = f"{type(err).__name__}: {err}"
        rep.outcomes = [_missing(t, "not graded: the notebook could not be read") for t in full.tests]
        return
    other = _lab_of(cells)
    notes = [f"this notebook is for {other}, not {lab}"] if other and other != lab else []
    tests = {(t.question, t.name): t for t in full.tests}
    snippets = _hidden_snippets(hidden)
    todo = [(t.question, t.name) for t in full.tests]
    got: dict[tuple[str, str], Outcome] = {}
    t0 = time.monotonic()
    deadline, why = t0 + timeout, ""
    while todo and not why:  # a worker that dies or hangs in a test costs that test; the rest reruns
        why = _attempt(rep, cells, lab, hidden, todo, tests, got, protected, deadline, test_timeout, memory_mb,
                       snippets)
        todo = [k for k in todo if k not in got]
    if why.startswith(TAMPERED):  # all points withheld: the checks themselves were changed
        got.clear()
        why += "; all points withheld, please review by hand"
    if why:
        notes.append(why)
    rep.error = "; ".join(notes)
    for t in full.tests:
        rep.outcomes.append(got.get((t.question, t.name)) or _missing(t, why or "no result"))


def _hidden_snippets(hidden: str) -> list[str]:
    lines = (s.strip() for s in hidden.split("\n"))
    return [s for s in lines if len(s) >= 20 and not s.startswith("#")]


class _Forged(Exception):
    pass


def _spawn_worker() -> tuple[Any, Any]:
    ctx = _context()
    parent, child = ctx.Pipe()
    worker = importlib.import_module("course_utils.grading")._worker  # not __main__'s copy
    with _Argv():
        proc = ctx.Process(target=worker, args=(child,), daemon=True, name="course-grade-worker")
        proc.start()
    child.close()
    return proc, parent


def _attempt(rep: Report, cells: list[str], lab: str, hidden: str, todo: list[tuple[str, str]],
             tests: dict[tuple[str, str], Test], got: dict, protected: list[str], deadline: float,
             test_timeout: float, memory_mb: int, snippets: list[str], spawn: Callable | None = None) -> str:
    """One worker process: run the cells, then the tests in ``todo``; returns why it stopped early.

    The parent trusts nothing but "which of my tests passed": every message must carry a valid
    HMAC and come in the expected order (cells done once; then start/result for each test of
    ``todo`` in order; then done), and points come from the parent's own test list.
    ``spawn`` (tests only) replaces the worker process: it returns (process, connection)."""
    import hmac

    workdir = tempfile.mkdtemp(prefix="course-grade-")
    os.chmod(workdir, 0o700)
    proc, parent = (spawn or _spawn_worker)()
    key = secrets.token_bytes(32)
    limits = {"test_timeout": test_timeout, "memory_mb": memory_mb, "parent_cwd": os.getcwd()}
    seq = 0
    current = None
    test_deadline = deadline

    def receive() -> dict | None:
        nonlocal seq
        left = min(deadline, test_deadline) - time.monotonic()
        if left <= 0 or not parent.poll(left):
            return None
        data = parent.recv_bytes(_MAX_MESSAGE)
        mac, body = data[:64], data[64:]
        want = hmac.new(key, str(seq).encode() + b":" + body, "sha256").hexdigest().encode()
        if not hmac.compare_digest(mac, want):
            raise _Forged("a message without the grader's signature")
        seq += 1
        try:
            msg = json.loads(body.decode("ascii"))
        except (ValueError, RecursionError):
            raise _Forged("a malformed message") from None
        if not isinstance(msg, dict) or not isinstance(msg.get("k"), str):
            raise _Forged("a malformed message")
        if msg["k"] == "tampered":
            raise _Forged(f"{str(msg.get('what'))[:200]} was changed by the submission")
        return msg

    def text(v: Any, n: int) -> str:
        if not isinstance(v, str):
            raise _Forged("a malformed message")
        return v[:n]

    try:
        parent.send_bytes(json.dumps({"key": key.hex(), "cells": cells, "lab": lab, "workdir": workdir,
                                      "protected": protected, "limits": limits}).encode())
        msg = receive()
        if msg is None:
            return "the time limit for the whole notebook was exceeded"
        if msg["k"] != "cells_done" or not isinstance(msg.get("errors"), list):
            raise _Forged(f"an unexpected {msg['k']!r} message")
        rep.cell_errors = [text(e, 300) for e in msg["errors"][:100]]
        rep.output = text(msg.get("output"), 4000 + len(TRUNCATED))
        parent.send_bytes(json.dumps({"hidden": hidden, "todo": todo}).encode())
        for k in todo:
            msg = receive()
            if msg is None:
                return "the time limit for the whole notebook was exceeded"
            if msg["k"] != "start" or (msg.get("q"), msg.get("t")) != k:
                raise _Forged(f"an unexpected {msg['k']!r} message")
            current, test_deadline = k, min(deadline, time.monotonic() + test_timeout + 2.0)
            msg = receive()
            if msg is None:
                if time.monotonic() < deadline:
                    got[k] = _missing(tests[k], f"took longer than {test_timeout:g} s (the grader stopped the "
                                      "process)", "timeout")
                    return ""
                return "the time limit for the whole notebook was exceeded"
            if msg["k"] != "result" or (msg.get("q"), msg.get("t")) != k or msg.get("status") not in _STATUSES:
                raise _Forged(f"an unexpected {msg['k']!r} message")
            t = tests[k]
            message = text(msg.get("message", ""), 500)
            if any(s in message for s in snippets):
                message = "(message withheld: it quoted the hidden tests' code)"
            status = msg["status"]
            got[k] = Outcome(t.question, t.name, status, t.points if status == "pass" else 0.0, t.points, t.hidden,
                             message)
            current, test_deadline = None, deadline
        msg = receive()
        if msg is None or msg["k"] != "done":
            raise _Forged("no end-of-tests message" if msg is None else f"an unexpected {msg['k']!r} message")
        if parent.poll(0):
            raise _Forged("a message after the end of the tests")
        return ""
    except _Forged as err:
        return f"{TAMPERED}: {err}"
    except (EOFError, OSError, ValueError, TypeError, KeyError):
        proc.join(1)
        died = f"the grading process died (exit code {proc.exitcode}: a crash, os._exit or the memory limit)"
        if current:
            got[current] = _missing(tests[current], died, "crashed")
            return ""
        return died
    finally:
        if proc.is_alive():
            proc.kill()
        proc.join(5)
        parent.close()
        shutil.rmtree(workdir, ignore_errors=True)


class _Registrar:
    """Stands in for ``check`` when the grader lists the hidden tests."""

    def __init__(self, lab: Lab):
        self.lab = lab

    def test(self, question: str, points: float = 1.0, hidden: bool = True) -> Callable:
        return self.lab.test(question, points, hidden)


def _missing(t: Test, why: str, status: str = "") -> Outcome:
    status = status or ("timeout" if "time limit" in why else "tampered" if why.startswith(TAMPERED) else "crashed")
    return Outcome(t.question, t.name, status, 0.0, t.points, t.hidden, why)


def grade_batch(lab_dir: Path, submissions: Iterable[Path], hidden: Path | None = None,
                timeout: float = 60.0, test_timeout: float = 10.0, memory_mb: int = 2048,
                extra_protected: Iterable[Path] = ()) -> tuple[Lab, list[Report]]:
    """Grade every submission of one lab; each runs in its own process. One bad file never stops
    the batch: it gets a report whose ``error`` says why."""
    lab_dir = Path(lab_dir).resolve()
    lab = load_lab(lab_name(lab_dir))
    _context()  # the server starts loading the libraries while this process reads the hidden tests
    src = hidden_source(lab_dir, hidden)
    subs = [Path(s).absolute() for s in submissions]
    protected = {lab_dir, *(Path(p).resolve() for p in extra_protected), *(s.parent.resolve() for s in subs),
                 *(s.resolve() for s in subs)}
    if lab_dir.parent.name == "exercises":
        protected.add(lab_dir.parent)
    if hidden:
        protected.add(Path(hidden).resolve())
    prot = sorted(str(p) for p in protected)
    return lab, [grade_one(lab, s, src, prot, timeout, test_timeout, memory_mb) for s in subs]


def write_results(lab: Lab, reports: list[Report], out_csv: Path, feedback_dir: Path | None = None,
                  hidden_details: bool = True) -> None:
    """Write the grade table (one row per student) and one feedback file per student."""
    full_max = {q: 0.0 for q in lab.questions}
    for r in reports[:1]:
        for o in r.outcomes:
            full_max[o.question] += o.max_points
    out_csv = Path(out_csv)
    out_csv.parent.mkdir(parents=True, exist_ok=True)
    with out_csv.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["student", *lab.questions, "total", "max_total", "error"])
        for r in reports:
            pts = r.question_points(lab)
            name = "'" + r.student if r.student[:1] in ("=", "+", "-", "@") else r.student  # no spreadsheet formulas
            w.writerow([name, *(f"{pts[q]:g}" for q in lab.questions), f"{sum(pts.values()):g}",
                        f"{sum(full_max.values()):g}", r.error])
    fb = Path(feedback_dir) if feedback_dir else out_csv.with_name(out_csv.stem + "_feedback")
    fb.mkdir(parents=True, exist_ok=True)
    for r in reports:
        (fb / (Path(r.student).stem + ".md")).write_text(feedback_text(lab, r, full_max, hidden_details),
                                                             encoding="utf-8")


def feedback_text(lab: Lab, r: Report, full_max: dict[str, float], hidden_details: bool = True) -> str:
    """Markdown feedback for one student: per-question points and why each test failed."""
    pts = r.question_points(lab)
    lines = [f"# {lab.title}: feedback for {r.student}", "",
             f"Total: {sum(pts.values()):g}/{sum(full_max.values()):g} points", ""]
    if r.error:
        lines += [f"**Not graded:** {r.error}", ""]
    for q, title in lab.questions.items():
        lines.append(f"## {q}: {title} — {pts[q]:g}/{full_max[q]:g}")
        for o in (o for o in r.outcomes if o.question == q):
            kind = "hidden test" if o.hidden else "test"
            if o.hidden and not hidden_details:
                lines.append(f"- {'✓' if o.status == 'pass' else '✗'} {kind} ({o.status})")
                continue
            lines.append(f"- {'✓' if o.status == 'pass' else '✗'} {kind} `{o.test}`"
                         + ("" if o.status == "pass" else f" ({o.status}): {_one_line(o.message)}"))
        lines.append("")
    if r.cell_errors:
        lines += ["## Cells that raised an error", "", *(f"- {_one_line(e)}" for e in r.cell_errors), ""]
    if r.output.strip():
        shown = r.output.removesuffix(TRUNCATED)
        cut = len(shown) > 2000 or r.output.endswith(TRUNCATED)
        text = shown[:2000] + (TRUNCATED if cut else "")
        fence = "`" * max(3, 1 + max((len(m) for m in re.findall(r"`+", text)), default=0))  # output cannot close it
        lines += ["## What your cells printed (start)", "", fence + "text", text, fence, ""]
    return "\n".join(lines)


def _one_line(s: str) -> str:
    """A message from student code on one line, so it cannot add headings or lines to the feedback."""
    return " ⏎ ".join(str(s).splitlines())


# --------------------------------------------------------------------------- command line
def main(argv: list[str] | None = None) -> int:
    """``course-grade LAB_DIR SUBMISSIONS --out grades.csv`` or ``... generate LAB_DIR [--check]``."""
    args = list(sys.argv[1:] if argv is None else argv)
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
                                       "generate exercises/<lab>. Guide: book/instructors.md")
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


_SERVER_SNAPSHOT: list = []


def _prepare_server() -> None:
    """In the grading server (before any worker forks from it): load what every worker needs and
    take the tamper snapshot once, so that each worker starts in milliseconds."""
    global _BATCH, _TRUSTED
    import importlib._bootstrap_external  # noqa: F401
    import json.encoder  # noqa: F401
    import pkgutil
    import traceback  # noqa: F401

    import numpy  # noqa: F401
    import torch  # noqa: F401

    import course_utils.labs as labs

    for m in pkgutil.iter_modules(labs.__path__):
        importlib.import_module(f"course_utils.labs.{m.name}")
    _BATCH = True
    _TRUSTED = _trusted()
    _warning_registries()
    _SERVER_SNAPSHOT[:] = _snapshot()


if os.environ.get("COURSE_GRADE_SERVER") == "1" and __name__ == "course_utils.grading" and not _SERVER_SNAPSHOT:
    try:
        _prepare_server()
    except Exception:  # pragma: no cover - each worker then takes its own snapshot
        _SERVER_SNAPSHOT.clear()


if __name__ == "__main__":
    from course_utils import grading as _module  # run the importable module: workers start from it

    sys.modules["__main__"].__spec__ = None  # multiprocessing then re-imports by path, quietly
    sys.exit(_module.main())
