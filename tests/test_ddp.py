"""DDP: 2 processes (torchrun, gloo on CPU) follow the same loss curve as 1 process that sees the
whole (doubled) batch. Tolerance: 1e-4 absolute on every per-step loss, 1e-2 on the sum of all
~100k parameters; the only difference is the order of floating-point additions in the gradient
all-reduce."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "chapters" / "03_pretraining" / "ddp_train.py"
TOL = 1e-4


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(tmp_path: Path, nproc: int) -> dict:
    out = tmp_path / f"ddp{nproc}.json"
    args = ["--steps", "8", "--global-batch", "8", "--block-size", "32", "--out", str(out)]
    if nproc == 1:
        cmd = [sys.executable, str(SCRIPT), *args]
    else:
        cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(nproc),
               "--master_port", str(free_port()), str(SCRIPT), *args]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    return json.loads(out.read_text())


@pytest.mark.skipif(sys.platform == "win32", reason="gloo process groups need Linux/macOS here")
def test_two_process_ddp_matches_one_process_with_the_doubled_batch(tmp_path):
    one, two = run(tmp_path, 1), run(tmp_path, 2)
    assert two["world_size"] == 2 and two["backend"] == "gloo"
    assert len(one["loss"]) == len(two["loss"]) == 8
    assert one["loss"][-1] < one["loss"][0]                   # it did learn something
    for a, b in zip(one["loss"], two["loss"]):
        assert abs(a - b) < TOL, (one["loss"], two["loss"])
    assert abs(one["param_checksum"] - two["param_checksum"]) < TOL * 100
