"""The quick tour, run once for every test that reads its output (once per test session, also under xdist)."""

from __future__ import annotations

import contextlib
import fcntl
import io
import json
import os

import pytest

from trainlab import cli


@pytest.fixture(scope="session")
def quick_tour(tmp_path_factory):
    """``trainlab tour --quick --out DIR`` as a user runs it: exit status, printed lines, ``tour.json``.

    Under pytest-xdist each worker has its own session; the first to get here runs the tour into a
    folder they share (the parent of their temporary folders, this test run's own) and the others
    read it.
    """
    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    out = shared / "quick-tour"
    with open(shared / "quick-tour.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        outcome = shared / "quick-tour.json"
        if not outcome.is_file():
            stdout, stderr = io.StringIO(), io.StringIO()
            with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
                status = cli.main(["tour", "--quick", "--out", str(out)])
            outcome.write_text(json.dumps({"status": status, "lines": stdout.getvalue().splitlines(),
                                           "stderr": stderr.getvalue()}), encoding="utf-8")
        ran = json.loads(outcome.read_text(encoding="utf-8"))
    tour = json.loads((out / "tour.json").read_text(encoding="utf-8"))
    return {**ran, "out": out, "tour": tour, "sections": {s["number"]: s for s in tour["sections"]}}
