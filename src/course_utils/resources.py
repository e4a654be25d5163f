"""The chapters' own files (tables, scripts, the lessons' text), installed with the package.

``chapters/`` is installed as ``course_utils._chapters`` (in an editable install it is the repository's
folder itself), so a notebook copied alone into an empty folder, as on Colab, reads the same files.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path


def chapters_folder() -> Path:
    """The installed chapters folder (``chapters/`` of the repository in an editable install)."""
    spec = importlib.util.find_spec("course_utils._chapters")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the course package was installed without its chapters; reinstall it "
                                "with `pip install llm-course` (or `pip install .` from the repository)")
    return Path(next(iter(spec.submodule_search_locations)))


def chapter_file(relative: str) -> Path:
    """A file of a chapter, e.g. ``chapter_file("01_history/milestones.csv")``."""
    path = chapters_folder() / relative
    if not path.is_file():
        raise FileNotFoundError(f"{relative} is not among the course's installed chapter files "
                                f"({chapters_folder()}); check the name, or reinstall the course package")
    return path
