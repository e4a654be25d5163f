"""Every notebook runs alone, as on Colab: the course package installed WITHOUT -e (a wheel built from
a copy of the working tree, installed into an empty --target), the notebook copied into an empty
folder, the ci profile. Nothing may read the repository at run time: results, the chapters' tables and
scripts and the pages that 5.2 searches come from the installed package.

These runs repeat the nbval runs of `make test` in another setting, so they are marked `standalone`
and run as their own step of .ci/run (`pytest -m standalone`); `make test` runs one sample.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pkgcopy import package_copy

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted(p.relative_to(ROOT).as_posix() for p in [*ROOT.glob("chapters/*/[0-9]*.ipynb"),
                                                            *ROOT.glob("exercises/*/*.ipynb")])
SAMPLE = {"chapters/05_applications/02_semantic_search.ipynb"}   # the one that needed a clone before
@pytest.fixture(scope="session")
def installed_site(tmp_path_factory) -> Path:
    """The course package installed from a wheel into an empty folder (no -e, no dependencies)."""
    base = tmp_path_factory.mktemp("colab")
    src, target = package_copy(base / "src-copy"), base / "site"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    done = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                           "--target", str(target), str(src)], capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return target


def run_alone(notebook: str, site: Path, folder: Path) -> None:
    """Copy ``notebook`` alone into ``folder`` and execute it there with the installed package."""
    folder.mkdir()
    copy = folder / Path(notebook).name
    shutil.copy2(ROOT / notebook, copy)
    env = {**os.environ, "PYTHONPATH": str(site), "COURSE_PROFILE": "ci"}
    env.pop("COURSE_RESULTS_DIR", None)
    check = subprocess.run([sys.executable, "-c", "import course_utils; print(course_utils.__file__)"],
                           env=env, cwd=folder, capture_output=True, text=True)
    assert Path(check.stdout.strip()).is_relative_to(site), f"the kernel would import {check.stdout}{check.stderr}"
    script = ("import sys, nbformat, nbclient\n"
              "nb = nbformat.read(sys.argv[1], as_version=4)\n"
              "nbclient.NotebookClient(nb, timeout=600, kernel_name='python3',\n"
              "                        resources={'metadata': {'path': sys.argv[2]}}).execute()\n")
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", script, str(copy), str(folder)], env=env, cwd=folder,
                          capture_output=True, text=True, timeout=900)
    print(f"{notebook}: {time.perf_counter() - t0:.0f} s alone")
    assert done.returncode == 0, f"{notebook} fails when run alone:\n{done.stderr[-4000:]}"
    strays = sorted(p.name for p in folder.iterdir() if p != copy and p.name not in ("__pycache__",))
    print(f"  files it left beside it: {strays or 'none'}")


@pytest.mark.slow
@pytest.mark.parametrize("notebook", sorted(SAMPLE))
def test_sample_notebook_runs_alone_as_on_colab(notebook, installed_site, tmp_path):
    run_alone(notebook, installed_site, tmp_path / "empty")


@pytest.mark.standalone
@pytest.mark.parametrize("notebook", [n for n in NOTEBOOKS if n not in SAMPLE])
def test_notebook_runs_alone_as_on_colab(notebook, installed_site, tmp_path):
    run_alone(notebook, installed_site, tmp_path / "empty")


@pytest.mark.slow
def test_installed_package_carries_results_chapters_and_book(installed_site):
    """The wheel holds every results file, every chapter file and the book's pages."""
    for top, pkg in (("results", "_results"), ("chapters", "_chapters"), ("book", "_book")):
        for path in (ROOT / top).rglob("*"):
            if path.suffix in (".json", ".csv", ".ipynb", ".md", ".py") and "__pycache__" not in path.parts:
                rel = path.relative_to(ROOT / top)
                assert (installed_site / "course_utils" / pkg / rel).is_file(), f"{top}/{rel} is not installed"
