"""Reading a submitted notebook safely: size and format limits, code cells only."""
import json
import re
from pathlib import Path


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
