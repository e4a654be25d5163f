"""The results contract (course_utils.results) and the files in results/ that follow it."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from course_utils import resources, results

ROOT = Path(__file__).resolve().parents[1]
RESULT_FILES = sorted((ROOT / "results").glob("*.json"))
NOTEBOOKS = sorted([*ROOT.glob("chapters/*/*.ipynb"), *ROOT.glob("exercises/*/*.ipynb")])
_CALL = re.compile(r"results\.(?:load|show|find)\(\s*\\?[\"']([a-z0-9_]+)\\?[\"']\s*,\s*(\\?[\"'](\w+)\\?[\"']|\w+)")


def test_every_results_file_follows_the_contract():
    assert RESULT_FILES, "results/ holds no JSON file"
    for path in RESULT_FILES:
        record = results.read(path)                      # raises with the problem named
        assert path.name == results.filename(record["name"], record["profile"]), path.name
        assert record["environment"]["profile"] == record["profile"], path.name


def test_every_result_a_notebook_names_exists_or_is_a_gpu_result():
    """A notebook that reads results.load("X", "cpu") (or with a profile variable: then X_cpu) must find
    the file; only gpu results may be missing ("not yet measured" needs a GPU)."""
    named = set()
    for nb in NOTEBOOKS:
        for name, _, profile in _CALL.findall(nb.read_text(encoding="utf-8")):
            named.add((name, profile or "cpu", nb.relative_to(ROOT).as_posix()))
    assert len(named) >= 10, named     # the pattern still finds the notebooks' calls
    missing = [(n, p, nb) for n, p, nb in named if p != "gpu" and results.find(n, p) is None]
    assert not missing, f"notebooks read results that are not in results/: {missing}"


def test_save_stamps_and_load_reads_back(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_RESULTS_DIR", str(tmp_path))
    assert results.load("toy_run", "gpu") is None
    path = results.save("toy_run", {"loss": 1.25, "rows": [1, 2]}, "gpu", folder=tmp_path)
    assert path == tmp_path / "toy_run_gpu.json"
    record = results.load("toy_run", "gpu")
    assert record["loss"] == 1.25 and record["name"] == "toy_run" and record["profile"] == "gpu"
    assert results.validate(record) == [] and results.payload(record) == {"loss": 1.25, "rows": [1, 2]}
    env = record["environment"]
    assert env["profile"] == "gpu" and env["processor"] and env["torch_threads"] >= 1 and "torch" in env
    assert re.match(r"\d{4}-\d\d-\d\dT", record["date"]) and record["commit"]
    assert not list(tmp_path.glob("*.tmp"))                         # written atomically


def test_the_first_folder_wins_and_the_installed_results_are_found(tmp_path, monkeypatch):
    stored = results.load("attention_cost", "cpu")
    assert stored is not None and results.find("attention_cost", "cpu").parent == results.installed_folder()
    monkeypatch.setenv("COURSE_RESULTS_DIR", str(tmp_path))
    results.save("attention_cost", {"rows": []}, "cpu", folder=tmp_path)
    assert results.load("attention_cost", "cpu")["rows"] == []


def test_show_says_plainly_what_is_not_measured(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_RESULTS_DIR", str(tmp_path))
    assert results.show("never_run", "gpu") is None
    assert "never_run (gpu profile): not yet measured (it needs a CUDA GPU)" in capsys.readouterr().out
    results.save("some_run", {"value": 3}, "cpu", folder=tmp_path)
    assert results.show("some_run", "cpu", keys=["value"])["value"] == 3
    out = capsys.readouterr().out
    assert out.startswith("some_run (cpu profile): measured on ") and '"value": 3' in out


@pytest.mark.parametrize("call, message", [
    (lambda d: results.save("Bad-Name", {}, "cpu", folder=d), "lower-case"),
    (lambda d: results.save("ok", {}, "laptop", folder=d), "not one of"),
    (lambda d: results.save("ok", {"date": "yesterday"}, "cpu", folder=d), "reserved key"),
])
def test_bad_input_is_refused_with_what_to_do(tmp_path, call, message):
    with pytest.raises(results.ResultsError, match=message):
        call(tmp_path)
    assert not list(tmp_path.iterdir())


def test_a_malformed_or_misnamed_file_is_an_error_not_a_silent_answer(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_RESULTS_DIR", str(tmp_path))
    (tmp_path / "old_style_cpu.json").write_text(json.dumps({"environment_record": {}, "value": 1}))
    with pytest.raises(results.ResultsError, match="missing key 'schema'"):
        results.load("old_style", "cpu")
    results.save("right", {"v": 1}, "cpu", folder=tmp_path)
    (tmp_path / "right_cpu.json").rename(tmp_path / "wrong_cpu.json")
    with pytest.raises(results.ResultsError, match="rename the file"):
        results.load("wrong", "cpu")


def test_chapter_files_and_book_pages_come_from_the_installed_package():
    assert resources.chapter_file("01_history/milestones.csv").read_text().startswith("model,")
    with pytest.raises(FileNotFoundError, match="not among the course's installed chapter files"):
        resources.chapter_file("01_history/no_such_file.csv")
    files = resources.course_files(("book/*.md", "chapters/*/index.md"))
    assert "book/setup.md" in files and "chapters/02_attention/index.md" in files
    with pytest.raises(ValueError, match="installed course text"):
        resources.course_files(("src/*.py",))


def test_every_subpackage_is_listed_for_the_wheel():
    """pyproject lists packages explicitly (results/, chapters/ and book/ are mapped into the package):
    a new subpackage of src/course_utils that is not listed would be missing from a pip install."""
    import tomllib

    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(ROOT / "src").parts) for p in (ROOT / "src").rglob("__init__.py")}
    assert found <= listed, f"add to [tool.setuptools] packages: {sorted(found - listed)}"
