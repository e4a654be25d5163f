"""Batch grading: each submission in its own worker processes; the parent trusts only its own tests."""
import importlib
import json
import multiprocessing as mp
import os
import secrets
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

from course_utils.grading.core import TAMPERED, Lab, Outcome, Test, expect_close, expect_equal, load_lab
from course_utils.grading.generate import hidden_source, lab_name
from course_utils.grading.report import Report
from course_utils.grading.sandbox import _MAX_MESSAGE, _STATUSES, TRUNCATED
from course_utils.grading.submission import SubmissionError, _lab_of, read_submission

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
    job = Job(lab, cells, hidden, {(t.question, t.name): t for t in full.tests}, protected,
              time.monotonic() + timeout, test_timeout, memory_mb, _hidden_snippets(hidden))
    todo, got, why = list(job.tests), job.got, ""
    while todo and not why:  # a worker that dies or hangs in a test costs that test; the rest reruns
        why = _attempt(job, todo)
        todo = [k for k in todo if k not in got]
    rep.cell_errors, rep.output = job.cell_errors, job.output
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
    worker = importlib.import_module("course_utils.grading.worker")._worker  # not __main__'s copy
    with _Argv():
        proc = ctx.Process(target=worker, args=(child,), daemon=True, name="course-grade-worker")
        proc.start()
    child.close()
    return proc, parent


@dataclass
class Job:
    """One submission being graded: what every worker attempt needs, and what the attempts found."""

    lab: str                                    # the lab's name
    cells: list[str]                            # the submission's code cells
    hidden: str                                 # the hidden tests' source
    tests: dict[tuple[str, str], Test]          # (question, test name) -> the parent's own test
    protected: list[str]                        # paths the worker may not read or write
    deadline: float                             # time.monotonic() at which the whole notebook stops
    test_timeout: float                         # seconds per test
    memory_mb: int
    snippets: list[str]                         # lines of the hidden tests a message may not quote
    got: dict[tuple[str, str], Outcome] = field(default_factory=dict)  # filled by the attempts
    cell_errors: list[str] = field(default_factory=list)
    output: str = ""


def _attempt(job: Job, todo: list[tuple[str, str]], spawn: Callable | None = None) -> str:
    """One worker process: run the cells, then the tests in ``todo``; record outcomes in ``job.got``
    (and the cells' errors and output in ``job``); returns why it stopped early.

    The parent trusts nothing but "which of my tests passed": every message must carry a valid
    HMAC and come in the expected order (cells done once; then start/result for each test of
    ``todo`` in order; then done), and points come from the parent's own test list.
    ``spawn`` (tests only) replaces the worker process: it returns (process, connection)."""
    import hmac

    tests, got, deadline, test_timeout, snippets = job.tests, job.got, job.deadline, job.test_timeout, job.snippets
    workdir = tempfile.mkdtemp(prefix="course-grade-")
    os.chmod(workdir, 0o700)
    proc, parent = (spawn or _spawn_worker)()
    key = secrets.token_bytes(32)
    limits = {"test_timeout": test_timeout, "memory_mb": job.memory_mb, "parent_cwd": os.getcwd()}
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
        parent.send_bytes(json.dumps({"key": key.hex(), "cells": job.cells, "lab": job.lab, "workdir": workdir,
                                      "protected": job.protected, "limits": limits}).encode())
        msg = receive()
        if msg is None:
            return "the time limit for the whole notebook was exceeded"
        if msg["k"] != "cells_done" or not isinstance(msg.get("errors"), list):
            raise _Forged(f"an unexpected {msg['k']!r} message")
        job.cell_errors = [text(e, 300) for e in msg["errors"][:100]]
        job.output = text(msg.get("output"), 4000 + len(TRUNCATED))
        parent.send_bytes(json.dumps({"hidden": job.hidden, "todo": todo}).encode())
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
        if parent.poll(0):               # readable: another message, or the worker exited and closed the pipe
            try:
                parent.recv_bytes(_MAX_MESSAGE)
            except EOFError:             # closed: an honest worker ends right after "done"
                return ""
            except OSError:
                pass
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
