"""Measured results: one contract for every benchmark that writes a number and every notebook that shows one.

    results.save("gpt_shakespeare", payload, "cpu")   # benchmarks: results/gpt_shakespeare_cpu.json, stamped
    results.load("gpt_shakespeare", "cpu")            # notebooks: the dict, or None if never measured
    results.show("gpt_shakespeare", "gpu")            # prints it, or says plainly "not yet measured"

A file is ``<name>_<profile>.json``. Its fixed keys (:data:`STAMP_KEYS`) say what was measured where:
``schema``, ``name``, ``profile``, ``environment`` (device, processor, bf16 support, threads, library
versions), ``date`` (UTC) and ``commit``; every other key is the benchmark's payload. Results are read
from ``$COURSE_RESULTS_DIR`` (``os.pathsep``-separated folders) first, then from the copy installed
with the package (``course_utils._results``: the repository's ``results/`` folder in an editable
install), so a notebook copied alone into an empty folder, as on Colab, still finds them.
"""
from __future__ import annotations

import datetime as _dt
import importlib.util
import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

SCHEMA = 1
STAMP_KEYS = ("schema", "name", "profile", "environment", "date", "commit")
PROFILES = ("ci", "cpu", "gpu")
ENV_KEYS = ("profile", "device", "processor", "bf16_instructions", "torch_threads", "python", "torch")
_NAME = re.compile(r"^[a-z0-9]+(?:_[a-z0-9]+)*$")


class ResultsError(ValueError):
    """A results file or a call to this module is malformed; the message says how to fix it."""


def filename(name: str, profile: str) -> str:
    """The file name of a result: ``<name>_<profile>.json``."""
    if not _NAME.match(name or ""):
        raise ResultsError(f"result name {name!r}: use lower-case letters, digits and single underscores, "
                           "e.g. 'gpt_shakespeare' (the profile is added to the file name by itself)")
    if profile not in PROFILES:
        raise ResultsError(f"profile {profile!r} is not one of {', '.join(PROFILES)}")
    return f"{name}_{profile}.json"


def installed_folder() -> Path:
    """The results folder installed with the package (in an editable install, or when ``src/`` is on
    PYTHONPATH as on the GPU machine: the repository's results/)."""
    spec = importlib.util.find_spec("course_utils._results")
    if spec is not None and spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations)))
    checkout = Path(__file__).resolve().parents[2] / "results"
    if (checkout / "__init__.py").is_file():
        return checkout
    raise ResultsError("the course package was installed without its results; reinstall it with "
                       "`pip install llm-course` (or `pip install .` from the repository)")


def folders() -> list[Path]:
    """Where results are looked for, in order: ``$COURSE_RESULTS_DIR`` entries, then the installed folder."""
    extra = [Path(p) for p in os.environ.get("COURSE_RESULTS_DIR", "").split(os.pathsep) if p.strip()]
    return [*extra, installed_folder()]


def find(name: str, profile: str | None = None) -> Path | None:
    """The path of a stored result, or None if it was never measured."""
    fname = filename(name, _profile(profile))
    return next((f / fname for f in folders() if (f / fname).is_file()), None)


def load(name: str, profile: str | None = None) -> dict[str, Any] | None:
    """A stored result as a dict (stamp and payload), or None if it was never measured."""
    path = find(name, profile)
    if path is None:
        return None
    record = read(path)
    expected = (name, _profile(profile))
    if (record["name"], record["profile"]) != expected:
        raise ResultsError(f"{path} says it is {record['name']!r} in profile {record['profile']!r}, "
                           f"but its file name says {expected}; rename the file or fix its stamp")
    return record


def read(path: str | Path) -> dict[str, Any]:
    """Read and validate one results file."""
    path = Path(path)
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise ResultsError(f"{path}: not a readable JSON results file ({err})") from err
    problems = validate(record)
    if problems:
        raise ResultsError(f"{path}: " + "; ".join(problems) + " (write results with course_utils.results.save)")
    return record


def validate(record: object) -> list[str]:
    """What is wrong with a record's stamp (an empty list when it follows the contract)."""
    if not isinstance(record, dict):
        return ["a results file holds one JSON object"]
    out = [f"missing key {k!r}" for k in STAMP_KEYS if k not in record]
    if out:
        return out
    if record["schema"] != SCHEMA:
        out.append(f"schema {record['schema']!r} is not {SCHEMA}")
    if record["profile"] not in PROFILES:
        out.append(f"profile {record['profile']!r} is not one of {PROFILES}")
    env = record["environment"]
    if not isinstance(env, dict):
        out.append("'environment' must be an object")
    else:
        out += [f"environment lacks {k!r}" for k in ENV_KEYS if k not in env]
    for key in ("name", "date", "commit"):
        if not isinstance(record[key], str) or not record[key]:
            out.append(f"{key!r} must be a non-empty string")
    return out


def environment() -> dict[str, Any]:
    """What a measurement ran on: the runtime record plus the processor, thread and CPU counts, and
    the machine's load average when the result is saved (timings measured under load are upper bounds)."""
    import torch

    from course_utils import runtime

    env = {**runtime.environment_record(), "processor": runtime.cpu_model(),
           "torch_threads": torch.get_num_threads(), "logical_cpus": os.cpu_count()}
    try:   # how busy the machine was (1, 5 and 15 minute averages): a shared machine slows timings down
        env["load_average"] = [round(x, 2) for x in os.getloadavg()]
    except (AttributeError, OSError):   # not on every platform
        pass
    return env


def commit() -> str:
    """The git commit of the course code that measured (``$COURSE_COMMIT``, else git, else 'unknown')."""
    if os.environ.get("COURSE_COMMIT"):
        return os.environ["COURSE_COMMIT"]
    here = Path(__file__).resolve().parent
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True,
                             timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=here,
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return sha + ("+uncommitted changes" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def stamp(name: str, payload: dict[str, Any], profile: str | None = None,
          env: dict[str, Any] | None = None, date: str | None = None) -> dict[str, Any]:
    """A record: the fixed keys followed by the payload (which must not use them)."""
    profile = _profile(profile)
    filename(name, profile)
    clash = [k for k in STAMP_KEYS if k in payload]
    if clash:
        raise ResultsError(f"the payload uses the reserved key(s) {clash}; rename them "
                           "(the environment is recorded by save itself, or passed as env=)")
    env = dict(env if env is not None else environment())
    env["profile"] = profile   # the sizes the payload was measured at
    date = date or _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    return {"schema": SCHEMA, "name": name, "profile": profile, "environment": env, "date": date,
            "commit": commit(), **payload}


def save(name: str, payload: dict[str, Any], profile: str | None = None, folder: str | Path | None = None,
         env: dict[str, Any] | None = None, path: str | Path | None = None) -> Path:
    """Write ``<folder>/<name>_<profile>.json`` (default folder: the installed results folder; ``path``
    names another file, e.g. a benchmark's ``--out``) atomically, and return its path."""
    record = stamp(name, payload, profile, env)
    problems = validate(record)
    if problems:
        raise ResultsError("; ".join(problems))
    if path is None:
        folder = Path(folder) if folder is not None else installed_folder()
        path = folder / filename(name, record["profile"])
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(record, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(path)   # never a half-written file, even if the run is killed
    return path


def payload(record: dict[str, Any] | None) -> dict[str, Any]:
    """A record without its stamp (what a benchmark merges a new measurement into); {} for None."""
    return {k: v for k, v in (record or {}).items() if k not in STAMP_KEYS}


def describe(record: dict[str, Any]) -> str:
    """One line: what was measured, in which profile, on which processor, when."""
    env = record["environment"]
    return (f"{record['name']} ({record['profile']} profile): measured on {env.get('device')}, "
            f"{str(record['date'])[:10]}, commit {str(record['commit'])[:12]}")


def show(name: str, profile: str | None = None, keys: list[str] | None = None) -> dict[str, Any] | None:
    """Print a stored result (its stamp, then the payload or the chosen keys); say so if not measured."""
    profile = _profile(profile)
    record = load(name, profile)
    if record is None:
        why = "it needs a CUDA GPU" if profile == "gpu" else "run its script in benchmarks/"
        print(f"{name} ({profile} profile): not yet measured ({why})")
        return None
    print(describe(record))
    shown = {k: v for k, v in record.items() if k not in STAMP_KEYS and (keys is None or k in keys)}
    print(json.dumps(shown, indent=1, ensure_ascii=False))
    return record


def _profile(profile: str | None) -> str:
    if profile is None:
        from course_utils.runtime import get_profile

        return get_profile()
    return profile
