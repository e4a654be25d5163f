"""One helper for the tests that prove a lesson's code equals the package's: run a notebook's
tagged code cells (``metadata.tags``) in a fresh namespace and hand back what they define."""
from __future__ import annotations

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def tagged_source(notebook: str | Path, tag: str) -> str:
    """The source of the one code cell of ``notebook`` tagged ``tag`` (a path relative to the repo)."""
    path = ROOT / notebook
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    found = [c for c in cells if tag in c.get("metadata", {}).get("tags", [])]
    assert len(found) == 1, f"{path.name}: expected one cell tagged {tag!r}, found {len(found)}"
    return "".join(found[0]["source"])


def lesson(notebook: str | Path, *tags: str, edit: tuple[str, str] | None = None) -> dict:
    """Execute the cells tagged ``tags`` (in that order) and return their namespace. ``edit``
    replaces a piece of the source first: the tests use it to show that a changed lesson is caught."""
    namespace: dict = {"__name__": "lesson"}
    for tag in tags:
        src = tagged_source(notebook, tag)
        if edit is not None and edit[0] in src:
            src = src.replace(*edit)
        exec(compile(src, f"{notebook}[{tag}]", "exec"), namespace)
    return namespace
