"""course-grade against a deliberate student (issue 30): the hostile cells of tests/hostile/, each
added to a lab 1 notebook, are graded in one batch next to a classmate's correct notebook and a
set of malformed files, with a private --hidden file, the way book/instructors.md says to grade.

Every defect class of the issue has a case: code run in the grader (pickle), forged results,
the file system (argv, dir_fd, reading hidden tests, removing a classmate's notebook, changing the
installed lab module), faked checks (subclasses, patched tolist, sys.modules, traceback frames),
malformed files, and the smaller points (error column, nbformat 3, another lab's notebook, the
--hidden warning, truncated output). The hidden-test gaps have mutants in tests/lab_mutants/.
"""
from __future__ import annotations

import csv
import hashlib
import importlib.util
import json
import platform
import sys
import time
from pathlib import Path

import pytest

from course_utils import grading
from course_utils.grading.batch import Job, _attempt

ROOT = Path(__file__).resolve().parents[1]
LAB1 = ROOT / "exercises" / "lab1_ngrams"
HOSTILE = ROOT / "tests" / "hostile"
PRIVATE = """
@check.test("q1")
def q1_private_reference_after_the_call(bigram_counts):
    tokens = "a b a b".split()
    got = dict(bigram_counts(tokens))
    expected = {p: list(zip(tokens, tokens[1:])).count(p) for p in zip(tokens, tokens[1:])}
    expect_equal(got, expected, f"bigram_counts({tokens})")


@check.test("q3", points=2)
def q3_private_uniform(perplexity):
    import math
    expect_close(perplexity([math.log(0.25)] * 3), 4.0, "perplexity of three tokens at 1/4")
"""


def notebook(lab_dir: Path, extra: str = "", blank: bool = False) -> dict:
    """A lab notebook as handed in: the solution (or the blank student copy) plus one extra cell."""
    src = lab_dir / ("student.ipynb" if blank else "instructor.ipynb")
    nb = json.loads(src.read_text())
    nb["cells"] = [c for c in nb["cells"] if not {grading.HIDDEN_TAG, grading.INSTRUCTOR_TAG}
                   & set(c.get("metadata", {}).get("tags", []))]
    if extra:
        nb["cells"].append({"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [],
                            "source": extra})
    return nb


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("attack")
    subs, private = tmp / "submissions", tmp / "private" / "lab1_hidden.py"
    subs.mkdir()
    private.parent.mkdir()
    private.write_text(PRIVATE)
    marker, victim = tmp / "marker.txt", subs / "z_victim.ipynb"
    labmod = Path(importlib.util.find_spec("course_utils.labs.lab1_ngrams").origin)
    names = {"MARKER": str(marker), "VICTIM": str(victim), "HIDDEN": str(private), "SUBS": str(subs),
             "INSTRUCTOR": str(LAB1 / "instructor.ipynb"), "REL_INSTRUCTOR": str(LAB1 / "instructor.ipynb")[1:],
             "LAB_PARENT": str(LAB1.parent), "LABMOD": str(labmod)}
    header = "".join(f"{k} = {v!r}\n" for k, v in names.items())
    for f in sorted(HOSTILE.glob("h*.py")):
        nb = notebook(LAB1, header + f.read_text(), blank="blank" in f.stem)
        (subs / f"{f.stem}.ipynb").write_text(json.dumps(nb))
    (subs / "a_solution.ipynb").write_text(json.dumps(notebook(LAB1)))
    victim.write_text(json.dumps(notebook(LAB1)))
    # malformed files (defect 5) and the smaller points (defect 7)
    (subs / "m_deep.ipynb").write_text("[" * 100_000 + "]" * 100_000)
    bad = notebook(LAB1)
    first_code = next(i for i, c in enumerate(bad["cells"]) if c["cell_type"] == "code")
    bad["cells"][first_code + 1]["source"] = ["x = 1\n", 7]
    (subs / "m_int_in_source.ipynb").write_text(json.dumps(bad))
    v4 = notebook(LAB1)
    v3 = {"nbformat": 3, "nbformat_minor": 0, "metadata": {}, "worksheets": [{"cells": [
        {"cell_type": "code", "input": c["source"], "language": "python", "outputs": []} if c["cell_type"] == "code"
        else {"cell_type": "markdown", "source": c["source"]} for c in v4["cells"]]}]}
    (subs / "m_nbformat3.ipynb").write_text(json.dumps(v3))
    (subs / "m_other_lab.ipynb").write_text((ROOT / "exercises" / "lab2_attention" / "student.ipynb").read_text())
    lab_hash = hashlib.sha256(labmod.read_bytes()).hexdigest()
    out = tmp / "grades" / "lab1.csv"
    t0 = time.monotonic()
    code = grading.main([str(LAB1), str(subs), "--hidden", str(private), "--out", str(out), "--timeout", "30",
                         "--test-timeout", "3", "--memory-mb", "1024"])
    seconds = time.monotonic() - t0
    rows = {r["student"].removesuffix(".ipynb"): r for r in csv.DictReader(out.open())}
    fb = {p.stem: p.read_text() for p in (out.parent / "lab1_feedback").glob("*.md")}
    return dict(code=code, rows=rows, fb=fb, marker=marker, victim=victim, labmod=labmod, lab_hash=lab_hash,
                seconds=seconds, names=names, n=len(list(subs.glob("*.ipynb"))))


def full(rows: dict) -> float:
    return float(rows["a_solution"]["max_total"])


def test_every_file_gets_a_row_and_the_solutions_full_marks(graded):
    rows = graded["rows"]
    assert graded["code"] == 0 and len(rows) == graded["n"]
    for name in ("a_solution", "z_victim", "h03_argv_and_environment", "h04_read_protected", "h05_write_and_remove",
                 "h10_traceback_frame", "h12_loose_defaults", "h14_long_output", "h20_benign_but_busy", "m_nbformat3"):
        assert float(rows[name]["total"]) == full(rows) and rows[name]["error"] == "", (name, rows[name])
    # the lab's public tests plus the private hidden test, not the instructor notebook's examples
    assert full(rows) == grading.load_lab("lab1_ngrams").max_points() + 3


def test_no_code_runs_in_the_grader_and_forged_messages_are_caught(graded):
    rows, fb = graded["rows"], graded["fb"]
    assert not graded["marker"].exists()
    for name in ("h01_pickle_to_parent", "h02_blank_forged_results", "h15_forge_during_a_test"):
        assert rows[name]["total"] == "0" and "tampering detected" in rows[name]["error"], rows[name]
    assert "expect_close(perplexity([math.log(0.25)]" not in "".join(fb.values())


def test_the_worker_sees_no_paths_of_the_run(graded):
    out = graded["fb"]["h03_argv_and_environment"]
    assert "ARGV ['course-grade-worker']" in out and "PROCESS () {}" in out
    for key in ("HIDDEN", "SUBS", "LAB_PARENT"):
        assert graded["names"][key] not in out, key
    assert "lab1.csv" not in out


def test_protected_files_cannot_be_read_written_or_removed(graded):
    read = graded["fb"]["h04_read_protected"]
    write = graded["fb"]["h05_write_and_remove"]
    attempts = [line for line in (read + write).splitlines() if line.endswith(")") or line.endswith("ALLOWED")]
    allowed = [a for a in attempts if a.endswith("ALLOWED")]
    seccomp = sys.platform == "linux" and platform.machine() == "x86_64"
    assert allowed == ["own folder: ALLOWED"] + ([] if seccomp else ["fork_exec: ALLOWED"]), allowed
    assert len(attempts) >= 22 and "shifting path object: REFUSED" in read and "pathlib path: REFUSED" in read
    assert graded["victim"].is_file() and float(graded["rows"]["z_victim"]["total"]) == full(graded["rows"])
    assert hashlib.sha256(graded["labmod"].read_bytes()).hexdigest() == graded["lab_hash"]
    assert "fake traceback frame: REFUSED" in graded["fb"]["h10_traceback_frame"]
    assert "real extract_stack: ALLOWED" in graded["fb"]["h10_traceback_frame"]
    assert "defaults: REFUSED" in graded["fb"]["h12_loose_defaults"]
    assert "Cells that raised an error" not in graded["fb"]["h20_benign_but_busy"]


@pytest.mark.parametrize("name", ["h06_numpy_scalar_subclass", "h07_tensor_subclass"])
def test_subclasses_cannot_fake_a_value(graded, name):
    row = graded["rows"][name]
    assert row["q3"] == "0" and row["error"] == "" and float(row["total"]) < full(graded["rows"]), row
    assert "subclass" in graded["fb"][name]


@pytest.mark.parametrize("name, what", [("h08_patch_tensor_tolist", "torch.Tensor"),
                                        ("h09_sys_modules_copy", "sys.modules['course_utils.grading']"),
                                        ("h11_new_class_key", "course_utils.grading.core.Outcome"),
                                        ("h16_patch_and_restore", "course_utils.labs.lab1_ngrams"),
                                        ("h17_fool_the_hook", "builtins"),
                                        ("h18_patch_builtins_and_restore", "builtins")])
def test_changing_the_checks_is_detected(graded, name, what):
    row = graded["rows"][name]
    assert row["total"] == "0" and f"tampering detected: {what}" in row["error"], row


def test_changing_the_tests_inputs_gains_nothing(graded):
    row = graded["rows"]["h19_mutate_the_inputs"]
    assert row["q1"] == "0" and row["error"] == "", row  # the student's function works on a copy


def test_malformed_and_odd_files(graded):
    rows, fb = graded["rows"], graded["fb"]
    assert "nested too deeply" in rows["m_deep"]["error"] and rows["m_deep"]["total"] == "0"
    assert "code cell 2: its 'source' is not text" in rows["m_int_in_source"]["error"]
    assert "this notebook is for lab2_attention, not lab1_ngrams" in rows["m_other_lab"]["error"]
    assert "died" in rows["h13_exit_at_top_level"]["error"] and rows["h13_exit_at_top_level"]["total"] == "0"
    assert "[... output truncated]" in fb["h14_long_output"]


def test_grading_stays_fast(graded):
    per = graded["seconds"] / graded["n"]
    print(f"{per:.2f} s per submission over {graded['n']} submissions")
    assert per < 1.5  # about 0.5 s on 2 cores; generous for a busy CI machine


def test_missing_hidden_file_is_warned_about(tmp_path, capsys):
    sub = tmp_path / "s.ipynb"
    sub.write_text(json.dumps(notebook(LAB1)))
    assert grading.main([str(LAB1), str(sub), "--out", str(tmp_path / "g.csv")]) == 0
    assert "warning: no --hidden file" in capsys.readouterr().err


def test_plain_takes_exact_types_only():
    import numpy as np
    import torch

    assert grading.plain([np.float32(1.5), torch.tensor([1, 2]), torch.Size([2])]) == [1.5, [1, 2], (2,)]

    class Int(int):
        pass
    with pytest.raises(AssertionError, match="subclass of int"):
        grading.plain(Int(3))


class FakeProcess:
    exitcode = 0

    def is_alive(self):
        return False

    def join(self, timeout=None):
        pass

    def kill(self):
        pass


class ClosedBeforeLastPoll:
    """The grader's end of the pipe, slowed so that the worker has closed its end (``closed`` is set)
    before the grader reads the "done" message: the order a loaded machine can produce."""

    def __init__(self, conn, closed):
        self.conn, self.closed = conn, closed

    def recv_bytes(self, *a):
        data = self.conn.recv_bytes(*a)
        if b'"done"' in data:
            assert self.closed.wait(5)
        return data

    def __getattr__(self, name):
        return getattr(self.conn, name)


def converse(script, todo=(("q1", "t1"), ("q1", "t2")), close_after=False):
    """Run the grader's side of one attempt against a scripted worker that knows the signing key
    (as a student who broke into the worker's memory would): ``script(send, todo)`` sends messages.
    ``close_after``: the worker then closes its end of the pipe before the grader reads "done"."""
    import hmac
    import multiprocessing
    import threading

    lab = grading.Lab("tiny", "Tiny", {"q1": "one"})
    tests = {k: grading.Test(k[0], k[1], lambda: None, 2.0, hidden=True) for k in todo}
    parent, child = multiprocessing.Pipe()

    def worker():
        setup = json.loads(child.recv_bytes())
        key, seq = bytes.fromhex(setup["key"]), [0]

        def send(msg, sign=True):
            body = json.dumps(msg).encode()
            mac = hmac.new(key, f"{seq[0]}:".encode() + body, "sha256").hexdigest().encode() if sign else b"0" * 64
            seq[0] += 1
            child.send_bytes(mac + body)
        send({"k": "cells_done", "errors": [], "output": ""})
        child.recv_bytes()  # the hidden tests
        script(send, [list(k) for k in todo])
        if close_after:
            child.close()
            closed.set()
    closed = threading.Event()
    thread = threading.Thread(target=worker, daemon=True)
    thread.start()
    job = Job(lab.name, ["pass"], "SECRET_HIDDEN_TEST_SOURCE_LINE = 1", tests, [], time.monotonic() + 5, 2.0, 512,
              ["SECRET_HIDDEN_TEST_SOURCE_LINE = 1"])
    end = ClosedBeforeLastPoll(parent, closed) if close_after else parent
    why = _attempt(job, list(todo), spawn=lambda: (FakeProcess(), end))
    thread.join(5)
    return why, job.got


def test_signed_messages_still_cannot_claim_more_than_the_parents_tests():
    def honest_but_greedy(send, todo):
        for q, t in todo:
            send({"k": "start", "q": q, "t": t})
            send({"k": "result", "q": q, "t": t, "status": "pass", "message": "SECRET_HIDDEN_TEST_SOURCE_LINE = 1",
                  "points": 45, "max_points": 45, "hidden": False})
        send({"k": "done"})
    why, got = converse(honest_but_greedy)
    assert why == "" and [o.points for o in got.values()] == [2.0, 2.0]  # points from the parent's own tests
    assert all(o.max_points == 2.0 and o.hidden and "SECRET" not in o.message for o in got.values())


def honest(send, todo):
    for q, t in todo:
        send({"k": "start", "q": q, "t": t})
        send({"k": "result", "q": q, "t": t, "status": "pass"})
    send({"k": "done"})


def test_a_worker_that_exits_right_after_done_is_not_tampering():
    """An honest worker returns after "done" and its pipe closes; if that happens before the grader
    looks for extra messages (a loaded machine: CI graded h10_traceback_frame 0 once this way),
    the closed pipe must not read as "a message after the end of the tests"."""
    why, got = converse(honest, close_after=True)
    assert why == "" and [o.points for o in got.values()] == [2.0, 2.0]


def test_a_message_after_done_is_tampering_even_if_the_worker_then_exits():
    for close_after in (False, True):
        why, _ = converse(lambda send, todo: [honest(send, todo), send({"k": "done"})], close_after=close_after)
        assert why.startswith(grading.TAMPERED) and "after the end of the tests" in why, (close_after, why)


@pytest.mark.parametrize("script, reason", [
    (lambda send, todo: send({"k": "result", "q": "q1", "t": "t1", "status": "pass"}), "unexpected 'result'"),
    (lambda send, todo: [send({"k": "start", "q": "q1", "t": "t9"})], "unexpected 'start'"),
    (lambda send, todo: [send({"k": "start", "q": "q1", "t": "t1"}),
                         send({"k": "result", "q": "q1", "t": "t1", "status": "full marks"})], "unexpected 'result'"),
    (lambda send, todo: [send({"k": "start", "q": "q1", "t": "t1"}), send({"k": "start", "q": "q1", "t": "t1"})],
     "unexpected 'start'"),
    (lambda send, todo: [send({"k": "start", "q": "q1", "t": "t1"}),
                         send({"k": "result", "q": "q1", "t": "t1", "status": "pass"}, sign=False)],
     "without the grader's signature"),
    (lambda send, todo: [x for q, t in todo for x in (send({"k": "start", "q": q, "t": t}),
                                                      send({"k": "result", "q": q, "t": t, "status": "pass"}))]
     + [send({"k": "result", "q": "q1", "t": "t2", "status": "pass"})], "unexpected 'result'"),
])
def test_out_of_order_or_unsigned_messages_mean_tampering(script, reason):
    why, got = converse(script)
    assert why.startswith(grading.TAMPERED) and reason in why, why


def test_deep_copying_a_course_model_is_not_tampering(tmp_path):
    """copy.deepcopy caches __slotnames__ on a class the first time it copies an instance; the grader
    fills that cache before its snapshot, so a submission that copies a course model keeps its points."""
    from course_utils.grading import release

    item = release.resolve("lab1_ngrams", ROOT / "exercises")
    nb = json.loads(release.solution_notebook(item))
    nb["cells"].append({"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None, "id": "deepcopy",
                        "source": "import copy\nfrom course_utils.models.llama import Llama, LlamaConfig\n"
                                  "m = Llama(LlamaConfig(vocab_size=32, context=16, n_layer=1, n_head=2, n_kv_head=1, "
                                  "d_model=16, d_ff=32))\nm2 = copy.deepcopy(m)\n"})
    sub = tmp_path / "copies.ipynb"
    sub.write_text(json.dumps(nb))
    lab, [rep] = grading.grade_batch(ROOT / "exercises" / "lab1_ngrams", [sub])
    assert rep.error == "" and all(o.status == "pass" for o in rep.outcomes), (rep.error, rep.outcomes[:2])
