"""The guard a grading worker installs before student code runs: audit hooks, file limits, seccomp, capped output."""
import os
import sys
from typing import Any, Callable

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
