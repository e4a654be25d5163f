# Defect 4: the audit hook let traceback's helpers look at frames; a function compiled with the
# same file and function name asked for its caller's frame (and so the test's expected values).
import sys

ns = {"sys": sys}
exec(compile("def format_stack():\n    return sys._getframe(1)\n", "/usr/lib/python3.11/traceback.py", "exec"), ns)
try:
    ns["format_stack"]()
    print("fake traceback frame: ALLOWED")
except Exception as err:
    print(f"fake traceback frame: REFUSED ({type(err).__name__})")
try:
    import traceback

    traceback.extract_stack()
    print("real extract_stack: ALLOWED")
except Exception as err:
    print(f"real extract_stack: REFUSED ({type(err).__name__})")
