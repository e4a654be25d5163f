# Defect 3: reading the instructor notebook, the private hidden tests and the classmates' files.
import os


def attempt(label, fn):
    try:
        fn()
        print(f"{label}: ALLOWED")
    except Exception as err:
        print(f"{label}: REFUSED ({type(err).__name__})")


attempt("dir_fd", lambda: os.read(os.open(REL_INSTRUCTOR, os.O_RDONLY, dir_fd=os.open("/", os.O_RDONLY)), 100))
attempt("open folder", lambda: os.open(LAB_PARENT, os.O_RDONLY))
attempt("hidden file", lambda: open(HIDDEN).read())
attempt("instructor", lambda: open(INSTRUCTOR).read())
attempt("relative path", lambda: open(os.path.relpath(INSTRUCTOR)).read())
attempt("symlink", lambda: (os.symlink(HIDDEN, "x.py"), open("x.py").read()))
attempt("list submissions", lambda: os.listdir(SUBS))
attempt("scandir by fd", lambda: list(os.scandir(os.open("/", os.O_RDONLY))))
attempt("grader's cmdline", lambda: open(f"/proc/{os.getppid()}/cmdline").read())
attempt("own environ", lambda: open("/proc/self/environ").read())
attempt("own memory", lambda: open("/proc/self/mem", "rb").read(1))
attempt("fd as a path", lambda: open(3, "rb").read(1))
attempt("chdir out", lambda: os.chdir("/"))
attempt("spawn", lambda: os.system("cat " + HIDDEN))
attempt("fork", os.fork)
attempt("ctypes", lambda: __import__("sys").modules["ctypes"].CDLL(None))


class Shifty(os.PathLike):  # names the hidden file when open() looks, a harmless file the next time
    calls = 0

    def __fspath__(self):
        Shifty.calls += 1
        return HIDDEN if Shifty.calls % 2 else "notes.txt"


attempt("shifting path object", lambda: open(Shifty()).read())
attempt("pathlib path", lambda: __import__("pathlib").Path(HIDDEN).read_text())


def fork_exec():  # subprocess's own reference to the C function: no audit event (the seccomp filter stops it)
    import subprocess

    r, w = os.pipe()
    args = [[b"/bin/cat", HIDDEN.encode()], [b"/bin/cat"], True, (), None, None, -1, -1, -1, -1, -1, -1, r, w,
            False, False, -1, None, None, None, -1, None, False]
    try:
        pid = subprocess._fork_exec(*args)
    except TypeError:
        pid = subprocess._fork_exec(*args[:-1])
    os.waitpid(pid, 0)


attempt("fork_exec", fork_exec)
