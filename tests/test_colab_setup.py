"""The notebooks' setup cell, run as on Colab (COURSE_FORCE_SETUP=1) in a subprocess.

Honest and fast: instead of a fresh Colab VM (which would reinstall torch), the cell's own code runs
with this venv's Python, and pip installs the course package from a copy of this working tree into
an empty --target folder without dependencies (PIP_TARGET, PIP_NO_DEPS: the dependencies are
Colab's). The data "download" comes from a local HTTP mirror of the shared data (COURSE_DATA_URL_BASE)
into an empty cache (LLM_COURSE_CACHE), with COURSE_DATA_DIR unset, so the test proves that the cell
installs the package and that prefetch downloads every file into the cache with its checksum verified.
"""
from __future__ import annotations

import functools
import http.server
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from course_utils import data
from course_tools import nbtools
from pkgcopy import package_copy

ROOT = Path(__file__).resolve().parents[1]


def local_data() -> Path | None:
    """A folder holding every data file to mirror: COURSE_DATA_DIR, ../shared/data, or the user cache."""
    for folder in (os.environ.get("COURSE_DATA_DIR"), ROOT.parent / "shared" / "data", data.cache_dir()):
        if folder and all((Path(folder) / spec.relpath).is_file() for spec in data.FILES.values()):
            return Path(folder)
    return None


pytestmark = pytest.mark.slow


class _Mirror(http.server.SimpleHTTPRequestHandler):
    requested: list[str] = []

    def log_message(self, *args):
        pass

    def do_GET(self):
        type(self).requested.append(self.path)
        super().do_GET()


@pytest.fixture
def mirror():
    """The shared data folder on http://127.0.0.1:<port>/, recording what is requested."""
    shared = local_data()
    if shared is None:
        pytest.skip("no local copy of the data to mirror (set COURSE_DATA_DIR, or run once online to fill the cache)")
    handler = type("Mirror", (_Mirror,), {"requested": []})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(handler, directory=str(shared)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/", handler.requested
    httpd.shutdown()
    httpd.server_close()


def test_setup_cell_installs_the_package_and_fetches_the_data(tmp_path, mirror):
    url, requested = mirror
    (tmp_path / "repo").mkdir()
    src = package_copy(tmp_path / "repo")
    target, cache = tmp_path / "site", tmp_path / "cache"
    env = {k: v for k, v in os.environ.items()
           if k not in ("COURSE_DATA_DIR", "COURSE_OFFLINE", "PYTHONPATH") and not k.startswith("PIP_")}
    env.update(COURSE_FORCE_SETUP="1", COURSE_PACKAGE_SOURCE=str(src), COURSE_DATA_URL_BASE=url,
               LLM_COURSE_CACHE=str(cache), PIP_TARGET=str(target), PIP_NO_DEPS="1",
               PIP_NO_BUILD_ISOLATION="0", PIP_DISABLE_PIP_VERSION_CHECK="1", PYTHONPATH=str(target))
    cell = nbtools.setup_cell_source()
    assert "COURSE_FORCE_SETUP" in cell and "prefetch" in cell
    run = subprocess.run([sys.executable, "-c", cell], env=env, capture_output=True, text=True, timeout=600,
                         cwd=tmp_path)
    assert run.returncode == 0, f"setup cell failed:\n{run.stdout[-2000:]}\n{run.stderr[-3000:]}"

    # the package was installed by the cell, into the target, and is the one that gets imported
    assert (target / "course_utils" / "data.py").is_file(), sorted(p.name for p in target.iterdir())
    where = subprocess.run([sys.executable, "-c", "import course_utils.data as d; print(d.__file__)"],
                           env=env, capture_output=True, text=True, cwd=tmp_path)
    assert Path(where.stdout.strip()).is_relative_to(target), where

    # every data file was downloaded from the mirror into the empty cache, and matches its checksum
    for spec in data.FILES.values():
        got = cache / spec.relpath
        assert got.is_file(), f"{spec.relpath} was not fetched into the cache"
        assert data.sha256_of(got) == spec.sha256
        assert f"/{spec.relpath}" in requested, f"{spec.relpath} did not come from the mirror"


def test_setup_cell_does_nothing_outside_colab(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "COURSE_FORCE_SETUP"}
    env["COURSE_PACKAGE_SOURCE"] = str(tmp_path / "does-not-exist")  # would fail if pip ran
    run = subprocess.run([sys.executable, "-c", nbtools.setup_cell_source()], env=env,
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0 and run.stdout == "", run.stderr
