"""A tune's populations on other processes: a spawned pool (``processes``) and a real LocalCluster (``dask``).

Same seeds, same numbers as ``fused``; pruning in a task ranks a trial against the earlier
populations and its own group, not against the other groups of its population; bad settings
are one line before anything trains.
"""

from __future__ import annotations

import json
import math
import multiprocessing
import socket

import pytest

import trainlab
from trainlab import rundir
from trainlab.errors import TrainlabError
from trainlab.tune import load_tune

BASE = {
    "data": {"source": "synthetic_classification", "n_samples": 160, "n_features": 8},
    "model": {"hidden": [16, 8]},
    "training": {"epochs": 4, "batch_size": 32, "tensorboard": False},
}
# One population of 6: the batch size makes 3 fused groups (3 tasks) of 2 trials; 1000 is larger than the
# training set (128 samples), which training finds with the data in hand: those trials fail in their task.
SEARCH = {"name": "tiny", "base": BASE, "trials": 6, "population": 6, "sampler": "grid", "pruner": "none",
          "space": {"training.batch_size": {"choice": [16, 32, 1000]}, "model.dropout": {"choice": [0.0, 0.2]}}}
# The same without the failing group (2 tasks for 2 workers: a dask task starts a fresh process, TensorFlow and all).
SMALL = {**SEARCH, "trials": 4, "population": 4,
         "space": {"training.batch_size": {"choice": [16, 32]}, "model.dropout": {"choice": [0.0, 0.2]}}}
TOO_BIG = "TrainlabError: training.batch_size: must be <= the training set size (128 samples), got 1000"


def _history(tune_dir, trial):
    return rundir.read_csv(tune_dir / "runs" / f"trial-{trial:03d}" / "history.csv")


@pytest.fixture(scope="module")
def fused(tmp_path_factory):
    return trainlab.tune(SEARCH, out=tmp_path_factory.mktemp("fused") / "t")


def _summary_status(run):
    try:
        return json.loads((run / "summary.json").read_text())["status"]
    except (OSError, ValueError, KeyError):
        return None


def _values(row):
    return tuple(row[k] for k in SEARCH["space"])


def _assert_same_trials(result, fused):
    """Every trial as fused trained the trial with its values (same seeds): its status, value and each epoch's
    validation loss."""
    assert [r["trial"] for r in result.trials] == list(range(len(result.trials)))
    by_values = {_values(r): r for r in fused.trials}
    for ours in result.trials:
        theirs = by_values[_values(ours)]
        assert ours["status"] == theirs["status"] and ours["error"] == theirs["error"]
        if ours["status"] == "failed":
            assert ours["error"] == TOO_BIG and math.isnan(ours["value"])
            continue
        assert ours["status"] == "completed" and ours["epochs_run"] == theirs["epochs_run"] == 4
        # The tolerance the study executors are held to (dask against sequential): another process, other threads.
        assert ours["value"] == pytest.approx(theirs["value"], rel=1e-5)
        assert ours["best_epoch"] == theirs["best_epoch"]
        for a, b in zip(_history(result.dir, ours["trial"]), _history(fused.dir, theirs["trial"]), strict=True):
            assert a["val_loss"] == pytest.approx(b["val_loss"], rel=1e-5)
    assert _values(result.best_trial) == _values(fused.best_trial)


def test_processes_train_the_same_trials_as_fused(fused, tmp_path):
    result = trainlab.tune({**SEARCH, "executor": "processes", "workers": 2}, out=tmp_path / "t")
    _assert_same_trials(result, fused)
    assert len(result.trials) == 6 and sum(r["status"] == "failed" for r in result.trials) == 2
    trained = next(r["trial"] for r in result.trials if r["status"] == "completed")
    recipe = (result.dir / "runs" / f"trial-{trained:03d}" / "recipe.yaml").read_text()
    assert f"threads: {max(1, multiprocessing.cpu_count() // 2)}\n" in recipe  # the cores over the workers


def test_dask_trains_the_same_trials_as_fused_and_ships_the_run_directories(fused, tmp_path):
    before = set(multiprocessing.active_children())
    result = trainlab.tune({**SMALL, "executor": "dask", "workers": 2}, out=tmp_path / "t")
    assert set(multiprocessing.active_children()) <= before  # the LocalCluster it started is closed
    _assert_same_trials(result, fused)
    assert len(result.trials) == 4 and all(r["status"] == "completed" for r in result.trials)
    for row in result.trials:  # the files came back from the workers' temporary folders
        run = result.dir / "runs" / f"trial-{row['trial']:03d}"
        if row["status"] == "completed":
            assert {"summary.json", "history.csv", "recipe.yaml"} <= {p.name for p in run.iterdir()}
    tune = json.loads((result.dir / "tune.json").read_text())
    assert tune["executor"] == "dask" and tune["workers"] == 2 and tune["status"] == "completed"


def _expected_pruning(rows, histories, population, reduction_factor, rungs):
    """ASHA as a task decides it: at a rung, against the earlier populations' trials and itself (one trial a task)."""
    expected = {}
    for row in rows:
        trial = row["trial"]
        earlier = [r["trial"] for r in rows if r["trial"] // population < trial // population]
        expected[trial] = None
        for rung in rungs:
            mine = histories[trial][rung - 1]
            peers = [histories[t][rung - 1] for t in earlier if len(histories[t]) >= rung] + [mine]
            keep = max(1, len(peers) // reduction_factor)
            if sorted(peers).index(mine) >= keep:
                expected[trial] = rung
                break
    return expected


def test_asha_in_tasks_ranks_against_earlier_populations(tmp_path):
    """Two populations of two trials, each trial its own group (its own batch size): the first population
    prunes nothing (a task knows no peers yet), the second is ranked against the first, and not against
    the other task of its population (in-process, the later trial would see the earlier one). The
    decisions and the merge are the same code for dask (:class:`PopulationExecutor`); only where a task
    trains differs, which the tests above compare."""
    # seed 5 asks for batch sizes 8, 16 (they learn fastest per epoch), then 32, 64: the second population is pruned
    search = {**SEARCH, "executor": "processes", "workers": 2, "trials": 4, "population": 2, "seed": 5,
              "space": {"training.batch_size": {"choice": [8, 16, 32, 64]}},
              "pruner": {"name": "asha", "min_epochs": 1, "reduction_factor": 2}}
    result = trainlab.tune(search, out=tmp_path / "t")
    histories = {r["trial"]: [h["val_loss"] for h in _history(result.dir, r["trial"])] for r in result.trials}
    expected = _expected_pruning(result.trials, histories, 2, 2, [1, 2])
    assert {r["trial"]: r["pruned_at_epoch"] for r in result.trials} == expected
    assert expected[0] is expected[1] is None and any(expected[t] is not None for t in (2, 3))
    for r in result.trials:
        assert r["status"] == ("pruned" if expected[r["trial"]] else "completed")
        assert r["epochs_run"] == len(histories[r["trial"]]) == (expected[r["trial"]] or 4)


def test_a_scheduler_that_does_not_answer_is_one_line_and_leaves_no_tune_directory(tmp_path, monkeypatch):
    from trainlab.studies.executors import dask as _dask

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setattr(_dask, "CONNECT_TIMEOUT_S", 1.0)
    address = f"tcp://127.0.0.1:{port}"
    with pytest.raises(TrainlabError) as info:
        trainlab.tune({**SEARCH, "executor": "dask", "dask_address": address}, out=tmp_path / "t")
    assert str(info.value) == f"dask_address: no Dask scheduler answered within 1 s (OSError), got '{address}'"
    assert not (tmp_path / "t").exists()


@pytest.mark.parametrize(("changes", "message"), [
    ({"executor": "dusk"}, "executor: must be one of"),
    ({"executor": "processes", "workers": 0}, "workers: must be > 0, got 0"),
    ({"executor": "dask", "dask_address": "127.0.0.1"},
     "dask_address: must be a Dask scheduler's address, tcp://HOST:PORT, got '127.0.0.1'"),
    ({"executor": "processes", "dask_address": "tcp://scheduler:8786"},
     "dask_address: applies to executor: dask only (executor is processes), got 'tcp://scheduler:8786'"),
    ({"executor": "dask", "dask_address": "tcp://scheduler:8786", "workers": 4},
     "workers: sizes the LocalCluster; with dask_address the workers are those started with `dask worker`, got 4"),
])
def test_bad_executor_settings_are_one_line_errors(changes, message):
    with pytest.raises(TrainlabError) as info:
        load_tune({**SEARCH, **changes})
    assert str(info.value).startswith(message)


def test_the_parent_merges_each_task_into_its_pruner(tmp_path):
    """Tasks by fused group, each given a snapshot of the pruner; their values and pruning points merged back,
    every trial finished in the population's order, a task that failed gives failed rows (no training here)."""
    from trainlab.studies.spec import Plan
    from trainlab.training.prepare import load_recipe
    from trainlab.tune.population import TrialRun
    from trainlab.tune.pruning import Pruner
    from trainlab.tune.remote import PopulationExecutor, TaskResult
    from trainlab.tune.sampler import Asked

    spec = load_tune({**SEARCH, "pruner": {"name": "asha", "min_epochs": 1, "reduction_factor": 2}})
    pruner = Pruner(spec.config.pruner, "val_loss", "min", 4)
    pruner.values, pruner.finished, pruner.pruned = {0: {1: 0.5, 2: 0.4}}, [0], {}
    handle = object()  # Optuna's trial: it stays in the parent
    trials = []
    for number, batch in ((1, 16), (2, 32), (3, 16)):
        values = {"training.batch_size": batch, "model.dropout": 0.0}
        recipe, _, _ = load_recipe(spec.trial_recipe(values))
        trials.append(TrialRun(Asked(number, values, handle), Plan(str(number), 0, recipe, None), tmp_path / str(number)))
    seen = []

    class Canned(PopulationExecutor):
        def _run(self, tasks, task_spec, snapshot):
            seen.append(([[t.asked.number for t in task] for task in tasks], snapshot, task_spec.config.executor,
                         {t.asked.handle for task in tasks for t in task}))
            snapshot.values[0][3] = 9.0  # what a task does to its snapshot stays there
            done = [dict(r, trial=n, status=s) for n, s, r in ((1, "completed", {"value": 0.3}),
                                                               (3, "pruned", {"value": 0.9}))]
            return [TaskResult(done, {1: {1: 0.3, 2: 0.2}, 3: {1: 0.9}}, {3: 1}), "RuntimeError: lost"]

    rows = Canned(spec).train(trials, spec, pruner)
    groups, snapshot, executor, handles = seen[0]
    assert groups == [[1, 3], [2]] and executor == "fused" and handles == {None}
    assert snapshot is not pruner and snapshot.finished == [0]
    assert pruner.values == {0: {1: 0.5, 2: 0.4}, 1: {1: 0.3, 2: 0.2}, 2: {}, 3: {1: 0.9}}
    assert pruner.pruned == {3: 1} and pruner.finished == [0, 1, 2, 3]
    assert [(r["trial"], r["status"]) for r in rows] == [(1, "completed"), (2, "failed"), (3, "pruned")]
    assert rows[1]["error"] == "RuntimeError: lost" and rows[1]["training.batch_size"] == 32


def test_a_worker_killed_in_a_population_fails_its_trials_and_the_next_population_gets_a_new_pool(tmp_path):
    """kill -9 of the pool's worker while the first population trains (the OOM killer's way): that population's
    trials fail with a clear error, one warning says the pool starts again, and the second population trains
    in the new pool; the search ends ``completed``."""
    import os
    import signal
    import threading
    import time

    from trainlab.tune.remote import POOL_BROKEN

    # 2 populations of 2 trials; a population is one task (one fused group: only the dropout differs) on the one
    # worker, long enough (200 epochs) for the kill to land while it trains
    epochs = 200
    search = {**SEARCH, "executor": "processes", "workers": 1, "trials": 4, "population": 2,
              "base": {**BASE, "training": {**BASE["training"], "epochs": epochs}},
              "space": {"model.dropout": {"choice": [0.0, 0.1, 0.2, 0.3]}}}
    out = tmp_path / "t"
    before = {p.pid for p in multiprocessing.active_children()}
    killed: list[tuple[int, bool]] = []  # the worker, and whether the first population was still training

    def kill_the_worker_once_the_first_population_trains():
        deadline = time.monotonic() + 120
        first = [out / "runs" / f"trial-{t:03d}" for t in (0, 1)]
        while time.monotonic() < deadline:
            if any((run / "history.csv").is_file() for run in first):
                workers = [p.pid for p in multiprocessing.active_children() if p.pid not in before]
                training = all(_summary_status(run) in (None, "running") for run in first)
                os.kill(workers[0], signal.SIGKILL)
                killed.append((workers[0], training))
                return
            time.sleep(0.01)

    killer = threading.Thread(target=kill_the_worker_once_the_first_population_trains, daemon=True)
    killer.start()
    with pytest.warns(UserWarning) as warned:
        result = trainlab.tune(search, out=out)
    killer.join(timeout=5)
    assert killed and killed[0][1]  # killed mid-training
    died = [str(w.message) for w in warned if "worker process died" in str(w.message)]
    assert died == ["a worker process died (killed, or out of memory); its population's unfinished trials failed; "
                    "the pool of 1 processes is started again"]
    statuses = {r["trial"]: (r["status"], r["error"]) for r in result.trials}
    assert statuses[0] == statuses[1] == ("failed", POOL_BROKEN)
    assert all(statuses[t][0] == "completed" and not statuses[t][1] for t in (2, 3))
    for trial in (2, 3):
        assert len(_history(result.dir, trial)) == epochs
    tune = json.loads((result.dir / "tune.json").read_text())
    assert tune["status"] == "completed" and tune["trials_run"] == 4 and tune["best_trial"] in (2, 3)
    rows = rundir.read_csv(result.dir / "trials.csv")
    assert [(r["trial"], r["status"]) for r in rows] == [(0, "failed"), (1, "failed"), (2, "completed"),
                                                         (3, "completed")]
    assert rows[0]["error"] == POOL_BROKEN
