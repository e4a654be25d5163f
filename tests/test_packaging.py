"""environment.yml and pyproject.toml must list the same packages; constraints pin them all."""
import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def name(req: str) -> str:
    return re.split(r"[<>=!~\[; @]", req.strip(), maxsplit=1)[0].lower().replace("_", "-")


def pyproject_names() -> set[str]:
    proj = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = proj["dependencies"] + [r for extra in proj["optional-dependencies"].values() for r in extra]
    return {name(r) for r in reqs}


def environment_names() -> set[str]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    return {name(r) for r in pip}


def test_environment_matches_pyproject():
    assert environment_names() == pyproject_names()


def test_constraints_pin_every_package():
    pinned = {name(line) for line in (ROOT / "constraints.txt").read_text().splitlines()
              if line and not line.startswith("#")}
    missing = pyproject_names() - pinned
    assert not missing, f"constraints.txt lacks {sorted(missing)}: run `make lock`"


def test_torch_pin_is_the_local_cpu_wheel():
    assert "torch==2.13.0" in (ROOT / "environment.yml").read_text()
    assert re.search(r"^torch==2\.13\.0$", (ROOT / "constraints.txt").read_text(), re.M)
