"""The dask executor on real clusters bound to 127.0.0.1: results equal the sequential executor's,
a task that raises is retried once and then reported, a scheduler that does not answer is one line."""

from __future__ import annotations

import json
import math
import multiprocessing
import os
import socket
import time

import pytest

distributed = pytest.importorskip("distributed")

import trainlab  # noqa: E402
from trainlab.errors import TrainlabError  # noqa: E402
from trainlab.studies import load_study  # noqa: E402
from trainlab.studies.executors import dask as _dask  # noqa: E402
from trainlab import rundir  # noqa: E402

BASE = {
    "data": {"source": "synthetic_classification", "n_samples": 160, "n_features": 8},
    "model": {"hidden": [16, 8]},
    "training": {"epochs": 3, "batch_size": 32, "tensorboard": False},
}


def _spec(**changes):
    return {"name": "tiny", "base": BASE, "vary": {"plain": {"model.dropout": 0.0}, "dropout": {"model.dropout": 0.3}},
            "seeds": [0, 1], "metric": "val_accuracy", **changes}


@pytest.fixture(scope="module")
def scheduler():
    """A cluster started outside trainlab, as `dask scheduler` + `dask worker` would be: its address."""
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None, silence_logs=50) as cluster:
        yield cluster.scheduler_address


def test_local_cluster_study_equals_sequential_and_reports_a_task_that_raises(tmp_path):
    before = set(multiprocessing.active_children())
    # 'too_big' fails on the worker (a batch larger than the training set is found with the data in hand).
    spec = _spec(vary={"plain": {"model.dropout": 0.0}, "dropout": {"model.dropout": 0.3},
                       "too_big": {"training.batch_size": 1000}}, executor="dask", workers=2)
    warning = "too_big/seed0, too_big/seed1: failed, also when retried; reported in results.csv: TrainlabError"
    with pytest.warns(UserWarning, match=warning):
        dask = trainlab.study(spec, out=tmp_path / "dask", figures=False)
    good = {k: v for k, v in spec["vary"].items() if k != "too_big"}
    sequential = trainlab.study({**spec, "vary": good, "executor": "sequential", "workers": None},
                                out=tmp_path / "sequential", figures=False)

    assert set(multiprocessing.active_children()) <= before  # the LocalCluster it started is closed
    assert dask.executors == {"plain": "dask: fused (2 runs together, 2 seeds in turn in one traced program)", "dropout": "dask: fused (2 runs together, 2 seeds in turn in one traced program)",
                              "too_big": "dask: failed"}
    rows = {(r["variant"], r["seed"]): r for r in dask.results}
    for reference in sequential.results:
        key = (reference["variant"], reference["seed"])
        assert rows[key]["status"] == "completed" and rows[key]["executor"] == "dask"
        assert rows[key]["best_value"] == pytest.approx(reference["best_value"], rel=1e-6)
        ours = rundir.read_csv(dask.dir / "runs" / key[0] / f"seed{key[1]}" / "history.csv")
        theirs = rundir.read_csv(sequential.dir / "runs" / key[0] / f"seed{key[1]}" / "history.csv")
        for a, b in zip(ours, theirs, strict=True):
            assert a["loss"] == pytest.approx(b["loss"], rel=1e-5)
            assert a["val_loss"] == pytest.approx(b["val_loss"], rel=1e-5)
    recipe = (dask.dir / "runs" / "plain" / "seed1" / "recipe.yaml").read_text()
    threads = max(1, (os.cpu_count() or 1) // 2)  # the cores shared by the 2 workers on 127.0.0.1
    assert "seed: 1\n" in recipe and f"threads: {threads}\n" in recipe
    for seed in (0, 1):
        failed = rows[("too_big", seed)]
        assert failed["status"] == "failed" and math.isnan(failed["best_value"])
        assert failed["error"] == ("TrainlabError: training.batch_size: must be <= the training set size "
                                   "(128 samples), got 1000")
        assert not (dask.dir / "runs" / "too_big").exists()
    assert {r["variant"]: r["n_failed"] for r in dask.summary} == {"plain": 0, "dropout": 0, "too_big": 2}
    with open(dask.dir / "results.csv", newline="") as f:
        assert "must be <= the training set size" in f.read()
    saved = json.loads((dask.dir / "study.json").read_text())
    assert saved["executor"] == "dask" and saved["dask_address"] is None and saved["status"] == "completed"


def test_a_task_that_raises_is_retried_once_then_reported(scheduler, tmp_path, monkeypatch):
    attempts = tmp_path / "attempts"
    attempts.mkdir()

    def task(plans, reason, spec, hosts):  # in place of training: fails once ('flaky') or always ('lost')
        import uuid

        variant = plans[0].variant
        (attempts / f"{variant}-{uuid.uuid4().hex}").touch()
        if variant == "lost" or len(list(attempts.glob(f"{variant}-*"))) == 1:
            raise _dask.TaskError(f"RuntimeError: {variant} went wrong")
        return [({"variant": p.variant, "seed": p.seed, "best_value": 0.5, "best_epoch": 1, "epochs_run": 1,
                  "wall_time_s": 0.1, "executor": "fused", "status": "completed"},
                 {"summary.json": b"{}", "tensorboard/train/events": b"\x00\x01"}, "sequential") for p in plans]

    monkeypatch.setattr(_dask, "train_task", task)
    spec = _spec(vary={"flaky": {}, "lost": {"training.batch_size": 16}}, seeds=[0], executor="dask",
                 dask_address=scheduler)
    with pytest.warns(UserWarning, match="lost/seed0: failed, also when retried"):
        study = trainlab.study(spec, out=tmp_path / "s", figures=False)
    assert len(list(attempts.glob("flaky-*"))) == 2 and len(list(attempts.glob("lost-*"))) == 2
    rows = {r["variant"]: r for r in study.results}
    assert rows["flaky"]["status"] == "completed" and rows["flaky"]["executor"] == "dask"
    assert (study.dir / "runs" / "flaky" / "seed0" / "tensorboard" / "train" / "events").read_bytes() == b"\x00\x01"
    assert rows["lost"]["status"] == "failed" and rows["lost"]["error"] == "RuntimeError: lost went wrong"
    assert study.executors == {"flaky": "dask: sequential", "lost": "dask: failed"}
    assert json.loads((study.dir / "study.json").read_text())["dask_address"] == scheduler


def test_groups_split_until_every_worker_has_a_task():
    spec = load_study(_spec(vary={"a": {}, "b": {}, "c": {"training.batch_size": 16}}, seeds=[0, 1, 2]))
    from trainlab.studies.groups import plan_groups

    groups = plan_groups(spec)
    assert [len(plans) for plans, _ in groups] == [6, 3]
    assert [len(plans) for plans, _ in _dask._tasks(groups, 2)] == [6, 3]
    assert sorted(len(plans) for plans, _ in _dask._tasks(groups, 4)) == [1, 2, 3, 3]
    assert sorted(p.key for plans, _ in _dask._tasks(groups, 16) for p in plans) == sorted(p.key for p in spec.plans)
    assert len(_dask._tasks(groups, 16)) == 9  # every run its own task, none lost


def test_a_scheduler_that_does_not_answer_is_one_line_naming_the_address(tmp_path, monkeypatch):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setattr(_dask, "CONNECT_TIMEOUT_S", 1.0)
    address = f"tcp://127.0.0.1:{port}"
    started = time.perf_counter()
    with pytest.raises(TrainlabError) as info:
        trainlab.study(_spec(executor="dask", dask_address=address), out=tmp_path / "s")
    assert time.perf_counter() - started < 15
    assert str(info.value) == f"dask_address: no Dask scheduler answered within 1 s (OSError), got '{address}'"
    assert not (tmp_path / "s").exists()  # nothing was started, nothing is left behind


@pytest.mark.parametrize(("changes", "message"), [
    ({"executor": "dask", "dask_address": "127.0.0.1"},
     "dask_address: must be a Dask scheduler's address, tcp://HOST:PORT, got '127.0.0.1'"),
    ({"executor": "dask", "dask_address": "http://scheduler:8786"}, "dask_address: must be a Dask scheduler's address"),
    ({"dask_address": "tcp://scheduler:8786"},
     "dask_address: applies to executor: dask only (executor is fused), got 'tcp://scheduler:8786'"),
    ({"executor": "dask", "dask_address": "tcp://scheduler:8786", "workers": 4},
     "workers: sizes the LocalCluster; with dask_address the workers are those started with `dask worker`, got 4"),
    ({"executor": "dusk"}, "executor: "),
])
def test_bad_dask_settings_are_one_line_errors(changes, message):
    with pytest.raises(TrainlabError) as info:
        load_study(_spec(**changes))
    assert str(info.value).startswith(message)


def test_good_dask_addresses_are_accepted():
    for address in ("tcp://10.0.0.5:8786", "scheduler.internal:8786", "tls://[::1]:8786"):
        assert load_study(_spec(executor="dask", dask_address=address)).config.dask_address == address


def test_without_the_extra_the_dask_executor_is_refused(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "distributed" else real(name, *a))
    with pytest.raises(TrainlabError, match=r"executor: dask needs the dask extra: pip install 'trainlab\[dask\]'"):
        load_study(_spec(executor="dask"))
