"""Tests, outcomes and labs; the checks a test calls (expect_close, expect_equal); running one test with a time limit."""
import importlib
import inspect
import re
import signal
import sys
from dataclasses import dataclass
from typing import Any, Callable

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
    """The lab ``name`` with its public tests, from ``course_utils.labs.<name>``; ``ex_chNN_MM`` is
    a chapter exercise set (:mod:`course_utils.exercises`)."""
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise ValueError(f"lab name {name!r} must be a Python identifier like 'lab1_ngrams'")
    if re.fullmatch(r"ex_ch\d\d_\d\d", name):
        from course_utils.exercises import SETS

        if name[3:] not in SETS:
            raise ValueError(f"no exercise set {name[3:]!r}; known: {', '.join(sorted(SETS))}")
        return SETS[name[3:]].copy()
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
