"""Prepare the git-ignored folder ``.device/`` that travels to the GPU machine (64 MiB limit):
the course data (from ../shared/data or COURSE_DATA_DIR) and a float16 copy of MiniLM (~45 MB
instead of ~90 MB). Then run the gpu profiles there, carrying ``.device``:

    .venv/bin/python benchmarks/prepare_device.py
    # device tool: run(command="bash benchmarks/gpu_profiles.sh", carry=[".device"])
"""
from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from course_utils.models.minilm import export_float16

ROOT = Path(__file__).resolve().parents[1]


LIMIT = 64 * 2**20


def main() -> None:
    data = Path(os.environ.get("COURSE_DATA_DIR") or ROOT.parent / "shared" / "data")
    if not (data / "sst2" / "train.tsv").is_file():
        sys.exit(f"no course data in {data}: set COURSE_DATA_DIR to the course's shared/data folder")
    out = ROOT / ".device"
    shutil.rmtree(out, ignore_errors=True)
    shutil.copytree(data, out / "data")
    export_float16(out / "minilm-fp16")
    size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
    print(f"{out}: {size / 2**20:.1f} MiB (limit 64 MiB with the rest of the repository)")
    if size > LIMIT:
        sys.exit("too large to travel to the GPU machine")


if __name__ == "__main__":
    main()
