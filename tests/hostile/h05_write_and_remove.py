# Defect 3: removing, renaming or overwriting a classmate's notebook; changing the installed lab
# module's public tests; writing outside the submission's own temporary folder.
import os


def attempt(label, fn):
    try:
        fn()
        print(f"{label}: ALLOWED")
    except Exception as err:
        print(f"{label}: REFUSED ({type(err).__name__})")


attempt("remove classmate", lambda: os.remove(VICTIM))
attempt("rename classmate", lambda: os.rename(VICTIM, "stolen.ipynb"))
attempt("overwrite classmate", lambda: open(VICTIM, "w").write("{}"))
attempt("append to lab module", lambda: open(LABMOD, "a").write("\nlab.tests.clear()\n"))
attempt("write outside", lambda: open(MARKER, "w").write("x"))
attempt("remove by dir_fd", lambda: os.remove("x", dir_fd=os.open(".", os.O_RDONLY)))
attempt("compiled code", lambda: open("evil.pyc", "wb").write(b"x"))
attempt("own folder", lambda: open("notes.txt", "w").write("scratch"))
