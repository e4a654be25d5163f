"""ruff (configured in pyproject.toml) finds no undefined or unused names and no syntax errors."""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_ruff_finds_nothing():
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    assert ruff, "ruff is not installed: it is in the dev dependencies (`make install`)"
    done = subprocess.run([ruff, "check", "--output-format", "concise", "src", "tools", "tests", "benchmarks", "chapters"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]


def test_ruff_would_catch_an_undefined_name(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    return undefined_name\n")
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    done = subprocess.run([ruff, "check", "--isolated", "--select", "F", str(bad)], capture_output=True, text=True)
    assert done.returncode == 1 and "F821" in done.stdout


NOQA = re.compile(r"#\s*noqa(?::\s*[A-Z]+[0-9]+(?:\s*,\s*[A-Z]+[0-9]+)*)?(.*)$")


def unjustified_noqa(text: str) -> list[int]:
    """Line numbers of ``# noqa`` comments with no reason after them (``# noqa: F401 - re-exported``)."""
    out = []
    for i, line in enumerate(text.splitlines(), 1):
        m = NOQA.search(line)
        if m and len(m.group(1).strip(" -:()")) < 3:
            out.append(i)
    return out


def test_every_noqa_says_why():
    found = {str(p.relative_to(ROOT)): unjustified_noqa(p.read_text())
             for folder in ("src", "tools", "benchmarks", "tests") for p in (ROOT / folder).rglob("*.py")
             if "hostile" not in p.parts}
    assert {k: v for k, v in found.items() if v} == {}, "write the reason after each noqa: `# noqa: E402 - why`"
    assert unjustified_noqa("import x  # noqa: F401\nimport y  # noqa: F401 - re-exported\n") == [1]


MAX_MODULE_LINES = 400


def test_no_module_in_the_package_is_over_400_lines():
    """One home per concept, in files a reader can hold: split a module that grows past the limit."""
    long = {str(p.relative_to(ROOT)): n for folder in ("src", "tools") for p in (ROOT / folder).rglob("*.py")
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES}
    assert long == {}, f"modules over {MAX_MODULE_LINES} lines: {long}"
