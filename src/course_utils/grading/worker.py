"""The grading worker process (student cells, then the tests, every message signed) and its tamper snapshot."""
import json
import multiprocessing as mp
import os
import shutil
import signal
import sys
import tempfile
from typing import Any, Callable

from course_utils.grading import core
from course_utils.grading.checker import Checker
from course_utils.grading.core import _alarm, _Timeout, _trusted, expect_close, expect_equal, run_test
from course_utils.grading.sandbox import _Capped, _install_guard, _seccomp


def _worker(conn: Any) -> None:
    """Grading worker, forked from a clean server (libraries loaded, no hidden tests, clean argv and
    environment) for one attempt at one submission.

    Everything it reports is length-prefixed JSON with an HMAC under a per-attempt key that only
    this function's locals hold. Student cells run first; the hidden tests arrive afterwards."""
    import gc
    import resource
    from json.encoder import encode_basestring_ascii as esc

    try:
        from _hashlib import hmac_digest
    except ImportError:  # pragma: no cover
        import hmac as _h
        hmac_digest = _h.digest
    core._BATCH = True  # check() calls inside a submission do nothing
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

    from struct import pack as struct_pack
    from struct import unpack as struct_unpack

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
    core._TRUSTED = _trusted()
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
    not add it (which would look like a change to the module); and give the course's classes their
    ``__slotnames__`` (``copy.deepcopy`` and pickle cache it on a class the first time they copy an
    instance: a submission that deep-copies a course model must not look like tampering)."""
    import copyreg

    for name, mod in list(sys.modules.items()):
        if (name.startswith("course_utils") or name in _VERSION_WATCHED) and isinstance(getattr(mod, "__dict__", None), dict):
            mod.__dict__.setdefault("__warningregistry__", {})
        if name.startswith("course_utils") and isinstance(getattr(mod, "__dict__", None), dict):
            for v in list(vars(mod).values()):
                if isinstance(v, type) and v.__module__ == name:
                    copyreg._slotnames(v)


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


_SERVER_SNAPSHOT: list = []


def _prepare_server() -> None:
    """In the grading server (before any worker forks from it): load what every worker needs and
    take the tamper snapshot once, so that each worker starts in milliseconds."""
    import importlib._bootstrap_external  # noqa: F401 - loaded before workers fork
    import json.encoder  # noqa: F401 - loaded before workers fork
    import pkgutil
    import traceback  # noqa: F401 - loaded before workers fork

    import numpy  # noqa: F401 - loaded before workers fork
    import torch  # noqa: F401 - loaded before workers fork
    import torch._dynamo  # noqa: F401 - a student's first torch.optim optimizer would load it (seconds)

    import course_utils.labs as labs

    for m in pkgutil.iter_modules(labs.__path__):
        importlib.import_module(f"course_utils.labs.{m.name}")
    importlib.import_module("course_utils.exercises")   # the chapter exercise sets, graded like labs
    core._BATCH = True  # check() calls inside a submission do nothing
    core._TRUSTED = _trusted()
    _warning_registries()
    _SERVER_SNAPSHOT[:] = _snapshot()
