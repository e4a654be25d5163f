"""course_utils.bench: the benchmarks' shared command line, settings parser and timer; and the rule
that benchmark scripts import the installed package (no sys.path edits, no script importing another)."""
from __future__ import annotations

import ast
import time
from pathlib import Path

import pytest

from course_utils import bench

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = sorted((ROOT / "benchmarks").glob("*.py"))


def test_parser_has_the_shared_options_and_setup_applies_threads(monkeypatch):
    import torch

    args = bench.parser("Doc line.\nmore", settings=True).parse_args(
        ["--profile", "ci", "--threads", "1", "--out", "x.json", "--set", "lr=2e-3"])
    before = torch.get_num_threads()
    try:
        assert bench.setup(args) == "ci" and torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
    assert str(args.out) == "x.json" and args.set == ["lr=2e-3"]
    monkeypatch.setenv("COURSE_PROFILE", "cpu")
    assert bench.setup(bench.parser(None).parse_args([])) == "cpu"
    with pytest.raises(SystemExit):
        bench.parser(None).parse_args(["--profile", "tpu"])
    with pytest.raises(SystemExit, match="at least 1"):
        bench.setup(bench.parser(None).parse_args(["--threads", "0"]))


def test_parse_settings_reads_literals_and_refuses_unknown_keys():
    assert bench.parse_settings(["lr=2e-3", "amp=bf16", "layers=(2, 3)", "budget=None", "n=4"]) == {
        "lr": 2e-3, "amp": "bf16", "layers": (2, 3), "budget": None, "n": 4}
    with pytest.raises(SystemExit, match="KEY=VALUE"):
        bench.parse_settings(["lr"])
    with pytest.raises(SystemExit, match="unknown setting; known: lr"):
        bench.parse_settings(["rate=1"], known=["lr"])


def test_timers_measure_what_they_call():
    calls = []
    result, seconds = bench.timed(lambda: calls.append(1) or 7)
    assert result == 7 and seconds >= 0 and calls == [1]
    best, median = bench.time_call(lambda: time.sleep(0.01), min_time=0.05)
    assert 0.009 <= best <= median


def test_save_per_processor_keeps_one_entry_per_processor(tmp_path):
    from course_utils import results

    out = tmp_path / "r.json"
    env = results.environment()
    for name, value in (("A", 1), ("B", 2), ("A", 3)):
        bench.save_per_processor(out, {"processor": {"name": name}, "environment": env, "value": value}, "ci",
                                 "benchmarks/my_bench.py", "a task")
    doc = results.read(out)
    assert [(e["processor"]["name"], e["value"]) for e in doc["processors"]] == [("B", 2), ("A", 3)]


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_benchmarks_import_the_package_not_paths_or_each_other(script):
    tree = ast.parse(script.read_text())
    siblings = {p.stem for p in SCRIPTS}
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr == "path" and getattr(node.value, "id", None) == "sys":
            parent_calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
                            and n.func.attr in ("insert", "append") and n.func.value is node]
            assert not parent_calls, f"{script.name} edits sys.path: import the installed package instead"
        if isinstance(node, ast.ImportFrom) and node.module:
            assert node.module.split(".")[0] not in siblings, f"{script.name} imports benchmark {node.module}"
        if isinstance(node, ast.Import):
            for a in node.names:
                assert a.name.split(".")[0] not in siblings, f"{script.name} imports benchmark {a.name}"


def test_load_note_says_whether_the_machine_was_shared(monkeypatch):
    import os

    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    monkeypatch.setattr(os, "getloadavg", lambda: (9.0, 8.0, 7.0))
    assert "shared machine (load average 8.0" in bench.load_note() and "upper bounds" in bench.load_note()
    monkeypatch.setattr(os, "getloadavg", lambda: (0.5, 0.4, 0.3))
    assert bench.load_note().startswith("measured on a quiet machine (load average 0.4")
