"""Notebook hygiene: the shared setup cell, output stripping and kernelspec, as one command.

    python -m course_tools.nbtools normalize chapters exercises   # fix in place
    python -m course_tools.nbtools check chapters exercises       # report, exit 1 on problems
    python -m course_tools.nbtools execute-cache                   # = python -m course_tools.bookbuild
"""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
SETUP_MARKER = "# Course setup: identical in every notebook"
KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}


def repository_url(config: Path | None = None) -> str:
    """The repository URL, read from _config.yml (the one place it is set)."""
    text = (config or REPO_ROOT / "_config.yml").read_text(encoding="utf-8")
    m = re.search(r"^repository:\s*\n\s+url:\s*(\S+)", text, re.M)
    if not m:
        raise ValueError("_config.yml has no repository: url: entry")
    return m.group(1).rstrip("/")


def setup_cell_source(repo_url: str | None = None) -> str:
    """Source of the first code cell of every notebook."""
    url = repo_url or repository_url()
    return (
        f"{SETUP_MARKER} (see book/setup.md). On Colab it installs the\n"
        "# course package and fetches the data; on your own machine it does nothing.\n"
        "import os, subprocess, sys\n"
        "if \"google.colab\" in sys.modules or os.environ.get(\"COURSE_FORCE_SETUP\") == \"1\":\n"
        f"    _src = os.environ.get(\"COURSE_PACKAGE_SOURCE\", \"git+{url}.git\")\n"
        "    subprocess.run([sys.executable, \"-m\", \"pip\", \"install\", \"--quiet\", _src], check=True)\n"
        "    subprocess.run([sys.executable, \"-c\", \"import course_utils.data as d; d.prefetch()\"], check=True)"
    )


def notebooks(paths: list[str]) -> list[Path]:
    """All .ipynb files under the given files/folders, skipping hidden and build folders."""
    out: list[Path] = []
    for p in map(Path, paths):
        found = [p] if p.suffix == ".ipynb" else sorted(p.rglob("*.ipynb"))
        out += [f for f in found if not any(part.startswith((".", "_build")) for part in f.parts)]
    return out


def problems(path: Path, setup: str | None = None) -> list[str]:
    """What is wrong with a stored notebook (empty list when it is clean)."""
    setup = setup or setup_cell_source()
    try:
        nb = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        return [f"not valid notebook JSON: {err}"]
    issues = []
    code = [c for c in nb.get("cells", []) if c.get("cell_type") == "code"]
    if any(c.get("outputs") or c.get("execution_count") for c in code):
        issues.append("stored with outputs or execution counts (run `python -m course_tools.nbtools normalize`)")
    if not code or "".join(code[0].get("source", [])) != setup:
        issues.append("first code cell is not the shared setup cell")
    if nb.get("metadata", {}).get("kernelspec", {}).get("name") != "python3":
        issues.append("kernelspec is not python3")
    return issues


def normalize(path: Path, setup: str | None = None) -> bool:
    """Strip outputs, set the kernelspec and put the setup cell first; True if the file changed."""
    import nbformat

    setup = setup or setup_cell_source()
    before = path.read_text(encoding="utf-8")
    nb = nbformat.reads(before, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
        cell.metadata.pop("execution", None)
    old = [c for c in nb.cells if c.cell_type == "code" and SETUP_MARKER in c.source]
    nb.cells = [c for c in nb.cells if not (c.cell_type == "code" and SETUP_MARKER in c.source)]
    first_code = next((i for i, c in enumerate(nb.cells) if c.cell_type == "code"), len(nb.cells))
    nb.cells.insert(first_code, nbformat.v4.new_code_cell(setup))
    nb.cells[first_code]["id"] = old[0].get("id", "course-setup") if old else "course-setup"  # idempotent
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    nb.metadata["language_info"] = {"name": "python"}
    for i, cell in enumerate(nb.cells):
        cell["id"] = cell.get("id") or f"cell-{i}"
    after = nbformat.writes(nb) + "\n"
    if after != before:
        path.write_text(after, encoding="utf-8")
    return after != before


BOOK_NOTEBOOKS = ["chapters/*/[0-9]*.ipynb", "exercises/*/student.ipynb"]


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] == "execute-cache":
        from course_tools.bookbuild import build

        return 1 if build(args[1:] or None) else 0
    if not args or args[0] not in ("normalize", "check"):
        print(__doc__)
        return 2
    cmd, paths = args[0], args[1:] or ["chapters", "exercises"]
    setup, bad = setup_cell_source(), 0
    for nb in notebooks(paths):
        if cmd == "normalize":
            if normalize(nb, setup):
                print(f"normalized {nb}")
        else:
            for issue in problems(nb, setup):
                bad += 1
                print(f"{nb}: {issue}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
