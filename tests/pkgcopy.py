"""What pip needs to build the course package, copied from the working tree into a folder (pip builds
in place, so building in the repository itself would leave build/ folders in it). The package maps
results/, chapters/ and book/ into course_utils, so they travel with src/."""
from __future__ import annotations

import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE_PARTS = ("pyproject.toml", "README.md", "src", "results", "chapters", "book")


def package_copy(dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    for name in PACKAGE_PARTS:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "build"))
        else:
            shutil.copy2(src, dest / name)
    return dest
