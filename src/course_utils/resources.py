"""The chapters' own files (tables, scripts, the lessons' text) and the book's pages, installed with the package.

``chapters/`` is installed as ``course_utils._chapters`` and ``book/`` as ``course_utils._book`` (in an
editable install they are the repository's folders themselves), so a notebook copied alone into an
empty folder, as on Colab, reads the same files.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path


INSTALLED = {"chapters": "course_utils._chapters", "book": "course_utils._book"}


def installed(top: str) -> Path:
    """The installed copy of the repository folder ``top`` ("chapters" or "book")."""
    spec = importlib.util.find_spec(INSTALLED[top])
    if spec is not None and spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations)))
    checkout = Path(__file__).resolve().parents[2] / top   # src/ on PYTHONPATH in a checkout
    if (checkout / "__init__.py").is_file():
        return checkout
    raise FileNotFoundError(f"the course package was installed without its {top}/ folder; reinstall it "
                            "with `pip install llm-course` (or `pip install .` from the repository)")


def chapters_folder() -> Path:
    """The installed chapters folder (``chapters/`` of the repository in an editable install)."""
    return installed("chapters")


def course_files(patterns: tuple[str, ...] | list[str]) -> dict[str, Path]:
    """Installed files matching repository-relative glob patterns ("book/*.md", "chapters/*/index.md"),
    keyed by their path in the repository."""
    out: dict[str, Path] = {}
    for pattern in patterns:
        top, _, rest = pattern.partition("/")
        if top not in INSTALLED or not rest:
            raise ValueError(f"pattern {pattern!r}: the installed course text is under {sorted(INSTALLED)}/")
        base = installed(top)
        out |= {f"{top}/{p.relative_to(base).as_posix()}": p for p in base.glob(rest)
                if "__pycache__" not in p.parts}
    return dict(sorted(out.items()))


def chapter_file(relative: str) -> Path:
    """A file of a chapter, e.g. ``chapter_file("01_history/milestones.csv")``."""
    path = chapters_folder() / relative
    if not path.is_file():
        raise FileNotFoundError(f"{relative} is not among the course's installed chapter files "
                                f"({chapters_folder()}); check the name, or reinstall the course package")
    return path
