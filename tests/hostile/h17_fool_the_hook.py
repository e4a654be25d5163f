# Defect 3: make the audit hook see another path: rebind the builtins and os functions it might use,
# or hand it a path object that names one file when the hook looks and another when open() does.
import builtins
import os
import pathlib

saved = builtins.any, builtins.isinstance, os.fspath, os.fsdecode, os.path.realpath, os.path.isdir


class Shifty(os.PathLike):
    calls = 0

    def __fspath__(self):
        Shifty.calls += 1
        return HIDDEN if Shifty.calls % 2 else "notes.txt"


def attempt(label, fn):
    try:
        fn()
        print(f"{label}: ALLOWED")
    except Exception as err:
        print(f"{label}: REFUSED ({type(err).__name__})")


builtins.any = lambda it: False
builtins.isinstance = lambda *a: True
os.fspath = os.fsdecode = os.path.realpath = lambda p: "notes.txt"
os.path.isdir = lambda p: False
attempt("patched helpers", lambda: open(HIDDEN).read())
attempt("patched helpers, list", lambda: os.listdir(SUBS))
builtins.any, builtins.isinstance, os.fspath, os.fsdecode, os.path.realpath, os.path.isdir = saved
attempt("shifting path object", lambda: open(Shifty()).read())
attempt("pathlib path", lambda: pathlib.Path(HIDDEN).read_text())
