"""Execute the book's notebooks into the jupyter-cache that `jupyter-book build` reads, with progress.

    python -m course_tools.bookbuild            # the profile of this machine (cpu here, ci under CI=true)

Each notebook is executed in its own folder, as the book build would, and cached with the profile it
ran in and a hash of what it depends on in the package (the course_utils modules it imports,
transitively, and the stored results it may show). A later build re-runs only the notebooks whose code,
dependencies or profile changed. In the ci profile two notebooks run at a time with a 600 s cell limit;
in the cpu and gpu profiles one at a time with every core and no cell limit (their timings are part of
what the pages show). Each notebook is printed as it starts and ends, with the elapsed time and an
estimate of what is left; a notebook that fails names itself and its cell, and the command exits 1.
"""
from __future__ import annotations

import ast
import functools
import hashlib
import json
import os
import re
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

from course_tools.nbtools import BOOK_NOTEBOOKS, REPO_ROOT

CACHE = "_build/.jupyter_cache"
TIMES = "course_times.json"      # seconds per notebook and profile, from earlier builds (estimates)
_IMPORT = re.compile(r"(?:from|import)\s+course_utils(?:\.(\w+))?(?:\s+import\s+([\w, ()]+))?")


def module_graph(src: Path = REPO_ROOT / "src" / "course_utils") -> dict[str, set[str]]:
    """Which course_utils modules each module imports (``models`` stands for the models package)."""
    graph: dict[str, set[str]] = {}
    for path in src.rglob("*.py"):
        rel = path.relative_to(src).with_suffix("").parts
        name = ".".join(p for p in rel if p != "__init__")
        deps: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("course_utils"):
                mod = node.module.removeprefix("course_utils").lstrip(".")
                deps |= {f"{mod}.{a.name}" if mod else a.name for a in node.names} | ({mod} if mod else set())
            elif isinstance(node, ast.ImportFrom) and node.level and node.module:
                deps.add(".".join([*rel[:-1], node.module]) if len(rel) > 1 else node.module)
        graph[name] = deps
    return graph


def dependencies(notebook: Path, graph: dict[str, set[str]] | None = None) -> set[str]:
    """The course_utils modules a notebook uses, transitively (names as in :func:`module_graph`)."""
    graph = graph if graph is not None else module_graph()
    text = "\n".join("".join(c.get("source", [])) for c in json.loads(notebook.read_text(encoding="utf-8"))["cells"]
                     if c.get("cell_type") == "code")
    todo = {"runtime", "data", "results", "resources"}
    for mod, names in _IMPORT.findall(text):
        todo |= {mod} if mod else set()
        names = [n.split(" as ")[0].strip() for n in names.replace("(", "").replace(")", "").split(",")]
        todo |= {f"{mod}.{n}" if mod else n for n in names if n}
    todo |= {f"labs.{lab}" for lab in re.findall(r"Checker\(\s*[\"'](\w+)", text)}
    seen: set[str] = set()
    while todo:
        mod = todo.pop()
        if mod in graph and mod not in seen:
            seen.add(mod)
            todo |= graph[mod]
    return seen


def dependency_hash(notebook: Path, graph: dict[str, set[str]] | None = None) -> str:
    """A hash of the package code a notebook depends on, the stored results and its chapter's files."""
    src = REPO_ROOT / "src" / "course_utils"
    h = hashlib.sha256()
    files = [src / (m.replace(".", "/") + ".py") for m in sorted(dependencies(notebook, graph))]
    files = [f if f.is_file() else f.with_suffix("") / "__init__.py" for f in files]
    files += sorted((REPO_ROOT / "results").glob("*.json"))
    files += sorted(p for p in notebook.parent.iterdir() if p.suffix in (".csv", ".py"))
    for f in files:
        if f.is_file():
            h.update(f.name.encode() + b"\0" + f.read_bytes())
    return h.hexdigest()[:16]


def _execute(path: str, timeout: int | None, threads: int) -> tuple[str, float, str | None, str | None]:
    """Run one notebook in its folder (a worker process); return (path, seconds, the executed notebook's
    JSON, or the error when it failed)."""
    import nbclient
    import nbformat

    os.environ.update(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    nb = nbformat.read(path, as_version=4)
    t0 = time.perf_counter()
    try:
        nbclient.NotebookClient(nb, timeout=timeout, kernel_name="python3", record_timing=False,
                                resources={"metadata": {"path": str(Path(path).parent)}}).execute()
    except Exception as err:  # noqa: BLE001 - any failure is reported with the notebook and its cell
        return path, time.perf_counter() - t0, None, _describe_failure(nb, err)
    return path, time.perf_counter() - t0, nbformat.writes(nb), None


def _describe_failure(nb, err: Exception) -> str:
    """Which cell failed and how: its number among the code cells, first line and the error."""
    code = [c for c in nb.cells if c.cell_type == "code"]
    failed = next((i for i, c in enumerate(code) for o in c.get("outputs", []) if o.get("output_type") == "error"),
                  None)
    where = (f"code cell {failed + 1} of {len(code)} (`{code[failed].source.splitlines()[0][:70]}`)"
             if failed is not None else "while starting or running a cell")
    reason = getattr(err, "ename", type(err).__name__) + ": " + str(getattr(err, "evalue", err)).splitlines()[0][:300]
    return f"{where}: {reason}"


def _clock(seconds: float) -> str:
    m, s = divmod(int(round(seconds)), 60)
    return f"{m // 60}h{m % 60:02d}m" if m >= 60 else f"{m}m{s:02d}s"


def build(patterns: list[str] | None = None, profile: str | None = None, cache_path: str = CACHE,
          root: Path = REPO_ROOT) -> int:
    """Execute what is not cached for this profile; print progress; return the number of failures."""
    from jupyter_cache import get_cache
    from jupyter_cache.cache.main import CacheBundleIn

    import nbformat

    from course_utils.runtime import get_profile

    profile = profile or get_profile()
    cache = get_cache(str(Path(root) / cache_path))
    times_file = Path(cache.path) / TIMES
    times = json.loads(times_file.read_text()) if times_file.is_file() else {}
    graph = module_graph()
    paths = sorted({p.resolve() for pat in (patterns or BOOK_NOTEBOOKS) for p in Path(root).glob(pat)})
    _rel = functools.partial(_relative, root=Path(root).resolve())
    todo, deps = [], {}
    for p in paths:
        cache.add_nb_to_project(str(p))
        deps[str(p)] = dependency_hash(p, graph)
        record = cache.get_cached_project_nb(str(p))
        if record and record.data.get("profile") == profile and record.data.get("deps") == deps[str(p)]:
            continue
        if record:
            cache.remove_cache(record.pk)   # outdated: another profile, or the package code it uses changed
        todo.append(str(p))
    workers = 2 if profile == "ci" else 1
    threads = max(1, (os.cpu_count() or 1) // workers)
    timeout = 600 if profile == "ci" else None
    known = [t for t in (times.get(profile, {}).get(_rel(p)) for p in todo) if t]
    print(f"book notebooks: {len(paths)}, cached for the {profile} profile: {len(paths) - len(todo)}, "
          f"to run: {len(todo)} ({workers} at a time, {threads} thread(s) each, "
          f"cell limit: {f'{timeout} s' if timeout else 'none'})", flush=True)
    start, failures, done_s = time.perf_counter(), [], []

    def estimate_left(remaining: list[str]) -> str:
        mean = (sum(done_s) / len(done_s)) if done_s else (sum(known) / len(known) if known else None)
        if mean is None:
            return "unknown until the first notebook ends"
        est = sum(times.get(profile, {}).get(_rel(p)) or mean for p in remaining) / workers
        return f"about {_clock(est)} left"

    remaining = list(todo)
    with ProcessPoolExecutor(max_workers=workers) as pool:
        futures = {}
        for p in todo:
            futures[pool.submit(_execute, p, timeout, threads)] = p
        for i, p in enumerate(todo[:workers]):
            print(f"  started  {_rel(p)}", flush=True)
        started = workers
        for fut in as_completed(futures):
            path, seconds, executed, error = fut.result()
            remaining.remove(path)
            done_s.append(seconds)
            times.setdefault(profile, {})[_rel(path)] = round(seconds, 1)
            if error:
                failures.append((path, error))
                print(f"  FAILED   {_rel(path)} after {_clock(seconds)}: {error}", flush=True)
            else:
                cache.cache_notebook_bundle(CacheBundleIn(nbformat.reads(executed, as_version=4), path, data={"profile": profile, "deps": deps[path],
                                                                                "seconds": round(seconds, 1)}),
                                            check_validity=False, overwrite=True)
                print(f"  finished {_rel(path)} in {_clock(seconds)}", flush=True)
            print(f"  [{len(todo) - len(remaining)}/{len(todo)}] elapsed {_clock(time.perf_counter() - start)}, "
                  f"{estimate_left(remaining)}", flush=True)
            if started < len(todo):
                print(f"  started  {_rel(todo[started])}", flush=True)
                started += 1
    times_file.write_text(json.dumps(times, indent=1, sort_keys=True) + "\n")
    print(f"executed {len(todo) - len(failures)} notebook(s) in {_clock(time.perf_counter() - start)}, "
          f"{len(failures)} failed", flush=True)
    for path, error in failures:
        print(f"FAILED: {_rel(path)}: {error}\n  rerun it alone: COURSE_PROFILE={profile} .venv/bin/python -m "
              f"pytest --nbval-lax {_rel(path)}", file=sys.stderr)
    return len(failures)


def _relative(path: str, root: Path) -> str:
    return Path(path).relative_to(root).as_posix()


if __name__ == "__main__":
    sys.exit(1 if build(sys.argv[1:] or None) else 0)
