"""Test setup shared by unit tests and notebook (nbval) runs.

Notebooks run in the ci profile with the shared data mirror, static outputs and strict grading
checks; a per-notebook time report is printed at the end so the 2-minute budget stays visible.
"""
from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent
_shared = ROOT.parent / "shared" / "data"
if "COURSE_DATA_DIR" not in os.environ and _shared.is_dir():
    os.environ["COURSE_DATA_DIR"] = str(_shared)
os.environ.setdefault("COURSE_PROFILE", "ci")
os.environ.setdefault("COURSE_STATIC_OUTPUT", "1")
os.environ.setdefault("COURSE_STRICT", "1")      # graded checks raise on failure (see grading)
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("PYTHONHASHSEED", "0")
if "PYTEST_XDIST_WORKER" in os.environ:
    # pytest -n N: share the cores between the N workers (and the notebook kernels they start).
    # With every process using all cores, PyTorch's threads fight over them: on 2 cores notebook
    # 4.4 took 119 s next to notebook 4.3 instead of 27 s alone.
    _threads = str(max(1, (os.cpu_count() or 1) // int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))))
    for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(_var, _threads)

NOTEBOOK_BUDGET_S = 120.0
_durations: dict[str, float] = defaultdict(float)


def pytest_runtest_logreport(report):
    path = report.nodeid.split("::", 1)[0]
    if path.endswith(".ipynb"):
        _durations[path] += report.duration


def pytest_terminal_summary(terminalreporter):
    if not _durations:
        return
    tr = terminalreporter
    tr.section(f"notebook times (ci profile, budget {NOTEBOOK_BUDGET_S:.0f} s each)")
    for path, seconds in sorted(_durations.items(), key=lambda kv: -kv[1]):
        flag = "  OVER BUDGET" if seconds > NOTEBOOK_BUDGET_S else ""
        tr.write_line(f"{seconds:7.1f} s  {path}{flag}")
    tr.write_line(f"{sum(_durations.values()):7.1f} s  total over {len(_durations)} notebooks")
