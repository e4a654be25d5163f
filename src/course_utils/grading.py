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
from dataclasses import asdict, dataclass, field
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


def plain(x: Any, depth: int = 0) -> Any:
    """A student's return value as plain data (numbers, strings, lists, tuples, dicts, sets);
    tensors and arrays become lists. Other objects are refused, so none can fake ``==``."""
    if depth > 32:
        raise AssertionError("the returned value is nested too deeply")
    t = type(x)
    if x is None or t in (bool, int, float, str):
        return x
    for base, conv in ((bool, bool), (int, lambda v: int.__add__(v, 0)), (float, lambda v: float.__add__(v, 0.0)),
                       (str, lambda v: str.__add__(v, ""))):
        if isinstance(x, base):
            return conv(x)
    if isinstance(x, (list, tuple)):
        items = [plain(v, depth + 1) for v in (list.__iter__(x) if isinstance(x, list) else tuple.__iter__(x))]
        return items if isinstance(x, list) else tuple(items)
    if isinstance(x, dict):
        return {plain(k, depth + 1): plain(v, depth + 1) for k, v in dict.items(x)}
    if isinstance(x, (set, frozenset)):
        return frozenset(plain(v, depth + 1) for v in (set.__iter__(x) if isinstance(x, set) else frozenset.__iter__(x)))
    torch = sys.modules.get("torch")
    if torch is not None and t in (torch.Tensor, torch.nn.Parameter):
        return torch.Tensor.tolist(torch.Tensor.detach(x).cpu())
    if torch is not None and t is torch.dtype:
        return str(x)
    np = sys.modules.get("numpy")
    if np is not None and (t is np.ndarray or isinstance(x, np.generic)):
        return x.tolist()
    raise AssertionError(f"expected plain data (numbers, lists, tensors...), got an object of type {t.__name__}")


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
            test.fn(*[namespace[n] for n in names])
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


def read_submission(path: Path) -> list[str]:
    """The code cells of a submitted notebook, with IPython magics commented out."""
    try:
        nb = json.loads(Path(path).read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise SubmissionError("not a text file (expected a .ipynb notebook)") from None
    except json.JSONDecodeError as err:
        raise SubmissionError(f"invalid notebook JSON ({err.msg} at line {err.lineno})") from None
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        raise SubmissionError("not a notebook: no 'cells' list")
    code = [c for c in nb["cells"] if isinstance(c, dict) and c.get("cell_type") == "code"]
    if not code:
        raise SubmissionError("the notebook has no code cells")
    return [re.sub(r"^(\s*)([%!])", r"\1# \2", _src(c), flags=re.M) for c in code]


_FRAME_EVENTS = ("sys._getframe", "sys._current_frames", "sys.settrace",
                 "sys.setprofile", "gc.get_objects", "gc.get_referrers", "gc.get_referents")
_BLOCKED_EVENTS = ("subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork",
                   "os.forkpty", "os.kill", "os.killpg", "signal.pthread_kill", "ctypes.dlopen",
                   "ctypes.dlsym", "ctypes.cdata", "socket.connect", "socket.bind", "sys.addaudithook",
                   "_thread.start_new_thread", "object.__setattr__")
_TEXT_STACK = ("format_stack", "extract_stack", "print_stack")
_PATH_EVENTS = ("open", "os.listdir", "os.scandir", "glob.glob", "os.chdir", "shutil.copyfile")


def _install_guard(protected: list[str]) -> None:
    """Audit hook in the worker: no reading protected paths, no processes, signals or frame peeking."""
    prefixes = [p.rstrip(os.sep) for p in protected]
    me = str(os.getpid())
    realpath = os.path.realpath

    busy: list[int] = []

    def trusted_caller() -> bool:  # traceback's stack-to-text helpers (used by torch.manual_seed) may peek
        busy.append(1)
        try:
            code = sys._getframe(2).f_code
        finally:
            busy.pop()
        return code.co_filename.endswith(os.sep + "traceback.py") and code.co_name in _TEXT_STACK

    def hook(event: str, args: tuple) -> None:
        if busy or (event == "sys._getframe" and trusted_caller()):
            return
        if event in _BLOCKED_EVENTS or event in _FRAME_EVENTS:
            raise PermissionError(f"{event} is not allowed while grading")
        if event == "object.__getattr__" and len(args) > 1 and str(args[1]).endswith("_frame"):
            raise PermissionError(f"reading .{args[1]} is not allowed while grading")
        if event in _PATH_EVENTS and args and isinstance(args[0], (str, bytes, os.PathLike)):
            p = realpath(os.fsdecode(args[0]))
            m = re.match(r"/proc/(\d+)", p)
            if any(p == q or p.startswith(q + os.sep) for q in prefixes) or (m and m.group(1) != me):
                raise PermissionError(f"reading {p} is not allowed while grading")
    sys.addaudithook(hook)


class _Capped:
    """A stdout replacement that keeps the first ``limit`` characters."""

    def __init__(self, limit: int = 4000):
        self.parts: list[str] = []
        self.size, self.limit = 0, limit

    def write(self, s: str) -> int:
        if self.size < self.limit:
            self.parts.append(s[: self.limit - self.size])
        self.size += len(s)
        return len(s)

    def flush(self) -> None:
        pass

    def text(self) -> str:
        out = "".join(self.parts)
        return out + ("\n[... output truncated]" if self.size > self.limit else "")


def _worker(conn: Any, cells: list[str], lab: str, workdir: str, protected: list[str],
            limits: dict) -> None:
    """Grading worker (a fresh forked process per submission): student cells first, hidden tests after."""
    global _BATCH
    import resource

    _BATCH = True
    os.chdir(workdir)
    keep = {k: os.environ[k] for k in ("PATH", "LANG", "MPLBACKEND") if k in os.environ}
    os.environ.clear()
    os.environ.update(keep, HOME=workdir, TMPDIR=workdir, COURSE_PROFILE="ci", OMP_NUM_THREADS="1")
    sys.path[:] = [p for p in sys.path if p and os.path.isdir(p)
                   and not any(os.path.realpath(p).startswith(q) for q in protected)
                   and os.path.realpath(p) != os.path.realpath(limits["parent_cwd"])]
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    out = _Capped()
    sys.stdout = sys.stderr = out  # type: ignore[assignment]
    vm = _vm_bytes()
    mem = vm + int(limits["memory_mb"]) * 2**20
    resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
    resource.setrlimit(resource.RLIMIT_FSIZE, (50 * 2**20, 50 * 2**20))
    checker = Checker(lab, namespace={})
    run, send, as_dict, tampered = run_test, conn.send, asdict, _tampered  # bound before student code runs
    snap = _snapshot()
    _install_guard(protected)
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
            errors.append(f"cell {i + 1}: {type(err).__name__}: {err}"[:300])
    changed = tampered(snap)
    if changed:
        send(("tampered", changed))
        return
    send(("cells_done", {"errors": errors, "output": out.text()}))
    sys.stdout = sys.stderr = _Capped(0)  # output during the tests is dropped (it could echo tests)
    token, hidden, todo = conn.recv()
    hns: dict[str, Any] = {"__name__": "hidden_tests", "check": checker,
                           "expect_close": expect_close, "expect_equal": expect_equal}
    exec(compile(hidden, "<hidden tests>", "exec"), hns)
    checker.namespace = ns
    for t in checker.lab.tests:
        if [t.question, t.name] not in [list(k) for k in todo]:
            continue
        send(("start", token, (t.question, t.name)))
        outcome = run(t, ns, limits["test_timeout"])
        changed = tampered(snap)
        if changed:
            send(("tampered", changed))
            return
        send(("result", token, as_dict(outcome)))
    send(("done", token, None))


_WATCHED = ("course_utils", "numpy", "torch", "builtins", "math", "inspect", "dataclasses", "signal",
            "multiprocessing", "pickle", "sys", "os", "re", "json", "collections", "functools", "operator")


def _snapshot() -> list[tuple[str, Any, str, Any]]:
    """The functions and classes of the grader, numpy, torch and key standard modules, to spot
    a submission that replaces one (monkeypatching the checks)."""
    import warnings

    out: list[tuple[str, Any, str, Any]] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _collect(out)
    return out


def _collect(out: list) -> None:
    for name, mod in list(sys.modules.items()):
        d = getattr(mod, "__dict__", None)
        if not isinstance(d, dict) or name.split(".")[0] not in _WATCHED:
            continue
        for k, v in list(d.items()):
            if isinstance(v, type) and (name.startswith(("course_utils", "multiprocessing"))
                                        or v.__module__ in ("torch", "torch.nn.modules.module")):
                out += [(f"{name}.{k}.{a}", v.__dict__, a, w) for a, w in list(v.__dict__.items())]
            if callable(v) and not isinstance(v, type(sys)):
                out.append((f"{name}.{k}", d, k, v))


def _tampered(snap: list[tuple[str, Any, str, Any]]) -> str:
    for label, d, k, v in snap:
        if d.get(k) is not v:
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


def _context() -> Any:
    ctx = mp.get_context("forkserver" if "forkserver" in mp.get_all_start_methods() else "spawn")
    if ctx.get_start_method() == "forkserver":
        ctx.set_forkserver_preload(["course_utils.grading", "numpy", "torch"])
    return ctx


def grade_one(lab: Lab, path: Path, hidden: str, protected: list[str], timeout: float = 60.0,
              test_timeout: float = 10.0, memory_mb: int = 2048) -> Report:
    """Grade one submitted notebook in its own process (time, memory and file limits)."""
    full = lab.copy()
    exec(compile(hidden, "<hidden tests>", "exec"), {"check": _Registrar(full), "expect_close": expect_close,
                                                      "expect_equal": expect_equal})
    tests = {(t.question, t.name): t for t in full.tests}
    rep = Report(Path(path).name)
    t0 = time.monotonic()
    try:
        cells = read_submission(path)
    except (SubmissionError, OSError) as err:
        rep.error = f"{type(err).__name__}: {err}"
        rep.outcomes = [_missing(t, "not graded: the notebook could not be read") for t in full.tests]
        return rep
    todo = [(t.question, t.name) for t in full.tests]
    got: dict[tuple[str, str], Outcome] = {}
    deadline, why = t0 + timeout, ""
    while todo and not why:  # a worker that dies or hangs in a test costs that test; the rest reruns
        why = _attempt(rep, cells, lab.name, hidden, todo, tests, got, protected, deadline, test_timeout, memory_mb)
        todo = [k for k in todo if k not in got]
    if why.startswith(TAMPERED):  # all points withheld: the checks themselves were changed
        got.clear()
        rep.error = why + "; all points withheld, please review by hand"
    for t in full.tests:
        rep.outcomes.append(got.get((t.question, t.name)) or _missing(t, why or "no result"))
    rep.seconds = time.monotonic() - t0
    return rep


def _attempt(rep: Report, cells: list[str], lab: str, hidden: str, todo: list[tuple[str, str]],
             tests: dict[tuple[str, str], Test], got: dict, protected: list[str], deadline: float, test_timeout: float, memory_mb: int) -> str:
    """One worker process: run the cells, then the tests in ``todo``; returns why it stopped early."""
    ctx = _context()
    parent, child = ctx.Pipe()
    workdir = tempfile.mkdtemp(prefix="course-grade-")
    limits = {"test_timeout": test_timeout, "memory_mb": memory_mb, "parent_cwd": os.getcwd()}
    worker = importlib.import_module("course_utils.grading")._worker  # not __main__'s copy
    proc = ctx.Process(target=worker, args=(child, cells, lab, workdir, protected, limits), daemon=True)
    proc.start()
    child.close()
    token, current, why = secrets.token_hex(16), None, ""
    test_deadline = deadline
    try:
        while True:
            left = min(deadline, test_deadline) - time.monotonic()
            if left <= 0 or not parent.poll(left):
                if current and time.monotonic() < deadline:
                    got[current] = _missing(tests[current], f"took longer than {test_timeout:g} s (the grader "
                                            "stopped the process)", "timeout")
                    break
                why = "the time limit for the whole notebook was exceeded"
                break
            msg = parent.recv()
            if msg[0] == "cells_done":
                rep.cell_errors, rep.output = msg[1]["errors"], msg[1]["output"]
                parent.send((token, hidden, todo))
            elif msg[0] == "start" and msg[1] == token and tuple(msg[2]) in todo:
                current, test_deadline = tuple(msg[2]), time.monotonic() + test_timeout + 2.0
            elif msg[0] == "result" and msg[1] == token and current and msg[2]["test"] == current[1]:
                got[current] = Outcome(**msg[2])
                current, test_deadline = None, deadline
            elif msg[0] == "done" and msg[1] == token:
                break
            elif msg[0] == "tampered":
                why = f"{TAMPERED}: {str(msg[1])[:200]} was replaced by the submission"
                break
            else:
                why = "the submission tampered with the grader's messages"
                break
    except (EOFError, OSError, ValueError, TypeError):
        proc.join(1)
        died = f"the grading process died (exit code {proc.exitcode}: a crash, os._exit or the memory limit)"
        if current:
            got[current] = _missing(tests[current], died, "crashed")
        else:
            why = died
    finally:
        if proc.is_alive():
            proc.kill()
        proc.join(5)
        parent.close()
        shutil.rmtree(workdir, ignore_errors=True)
    return why


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
    """Grade every submission of one lab; each runs in its own process."""
    lab_dir = Path(lab_dir).resolve()
    lab = load_lab(lab_name(lab_dir))
    src = hidden_source(lab_dir, hidden)
    subs = [Path(s).resolve() for s in submissions]
    protected = {lab_dir, *(Path(p).resolve() for p in extra_protected), *(s.parent for s in subs), *subs}
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
            w.writerow([r.student, *(f"{pts[q]:g}" for q in lab.questions), f"{sum(pts.values()):g}",
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
                         + ("" if o.status == "pass" else f" ({o.status}): {o.message}"))
        lines.append("")
    if r.cell_errors:
        lines += ["## Cells that raised an error", "", *(f"- {e}" for e in r.cell_errors), ""]
    if r.output.strip():
        lines += ["## What your cells printed (start)", "", "```text", r.output[:2000], "```", ""]
    return "\n".join(lines)


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


if __name__ == "__main__":
    from course_utils import grading as _module  # run the importable module: workers start from it

    sys.modules["__main__"].__spec__ = None  # multiprocessing then re-imports by path, quietly
    sys.exit(_module.main())
