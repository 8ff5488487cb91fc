"""The ``processes`` pool (a study's and a tune's) ends with its parent: killed, terminated or interrupted.

A worker whose parent was killed with SIGKILL exits within a second or so (it would otherwise
train on into a run directory that ``trainlab resume`` removes and trains again); SIGTERM and
Ctrl-C do not wait for the runs in flight: the workers are terminated and the directory is
marked ``interrupted``. The command line runs in a subprocess; its workers are found in /proc.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from cli_process import start
from trainlab import rundir

# Runs far longer than a test waits (100 steps an epoch, 3000 epochs: minutes): a worker still alive afterwards
# is one that kept training, and a command line that waited for its runs would not return within a minute.
EPOCHS = 3000
BASE = {
    "data": {"source": "synthetic_classification", "n_samples": 2000, "n_features": 8},
    "model": {"hidden": [16, 8]},
    "training": {"epochs": EPOCHS, "batch_size": 16, "tensorboard": False},
}
STUDY = {"name": "pooled", "base": BASE, "vary": {"plain": {}}, "seeds": [0, 1], "metric": "val_loss",
         "executor": "processes", "workers": 2}
TUNE = {"name": "pooled", "base": BASE, "trials": 2, "population": 2, "sampler": "grid", "pruner": "none",
        "executor": "processes", "workers": 2, "space": {"model.dropout": {"choice": [0.0, 0.2]}}}

pytestmark = pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="finds the workers in /proc (Linux)")


def _children(pid: int) -> set[int]:
    """The processes ``pid`` started (its pool's workers, and multiprocessing's resource tracker)."""
    found = set()
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found |= {int(c) for c in (task / "children").read_text().split()}
        except OSError:
            continue
    return found


def _alive(pid: int) -> bool:
    """Running (a zombie, ended but not yet reaped by whoever adopted it, is not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"waited {timeout:g} s for {what}"
        time.sleep(0.05)


def _start_and_wait_for_training(tmp_path: Path, kind: str) -> tuple:
    """``trainlab study|tune`` with the pool, once both workers train: the process, its directory and its workers."""
    spec = tmp_path / f"{kind}.yaml"
    spec.write_text(yaml.safe_dump(STUDY if kind == "study" else TUNE, sort_keys=False))
    out = tmp_path / "out"
    process = start([kind, str(spec), "--out", str(out)] + (["--no-figures"] if kind == "study" else []))
    runs = ([out / "runs" / "plain" / f"seed{s}" for s in (0, 1)] if kind == "study"
            else [out / "runs" / f"trial-{t:03d}" for t in (0, 1)])
    try:
        _wait_for(lambda: all((r / "history.csv").is_file() for r in runs) or process.poll() is not None, 240,
                  "both workers to train")
        assert process.poll() is None, process.communicate()[1][-2000:]
        workers = _children(process.pid)
        assert len(workers) >= 2  # the pool's 2 workers (and the resource tracker)
    except BaseException:
        process.kill()
        process.communicate()
        raise
    return process, out, workers


def test_the_workers_end_within_seconds_of_the_study_killed_with_sigkill(tmp_path):
    process, out, workers = _start_and_wait_for_training(tmp_path, "study")
    os.kill(process.pid, signal.SIGKILL)
    process.wait()  # not its output: the pipes stay open while a worker that outlived it holds them
    try:
        _wait_for(lambda: not any(_alive(w) for w in workers), 10, "the workers to end with their parent")
    finally:
        for worker in workers:  # what a failed test would leave training (or waiting for work, for ever)
            if _alive(worker):
                os.kill(worker, signal.SIGKILL)
        process.communicate()
    assert json.loads((out / "study.json").read_text())["status"] == "running"  # for trainlab resume


@pytest.mark.parametrize(("kind", "signum", "said"), [
    ("study", signal.SIGTERM, "trainlab: terminated (SIGTERM)"),
    ("tune", signal.SIGINT, "trainlab: interrupted"),  # Ctrl-C, sent to the command line only
])
def test_sigterm_and_ctrl_c_terminate_the_workers_and_return_at_once(tmp_path, kind, signum, said):
    process, out, workers = _start_and_wait_for_training(tmp_path, kind)
    sent = time.monotonic()
    os.kill(process.pid, signum)
    try:
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:  # say where it hangs: every thread's stack (faulthandler, on SIGABRT)
            os.kill(process.pid, signal.SIGABRT)
            pytest.fail(f"no return within 60 s of the signal; its stderr:\n{process.communicate(timeout=30)[1][-6000:]}")
        took = time.monotonic() - sent
        # terminated and joined as the command line ends; the resource tracker ends as it reads that end
        _wait_for(lambda: not any(_alive(w) for w in workers), 5, "the workers to end")
    finally:
        if process.poll() is None:
            process.kill()
        for worker in workers:
            if _alive(worker):
                os.kill(worker, signal.SIGKILL)
        _, stderr = process.communicate()
    assert process.returncode != 0 and said in stderr
    # the runs in flight were not waited for: the records, tables and report take the time
    assert took < 30
    record = json.loads((out / f"{kind}.json").read_text())
    assert record["status"] == "interrupted"
    runs = sorted(p.parent for p in out.glob("runs/**/history.csv"))
    assert len(runs) == 2 and all(len(rundir.read_csv(run / "history.csv")) < EPOCHS for run in runs)
