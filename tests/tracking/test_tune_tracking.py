"""A tune logged to MLflow (a local sqlite store), read back with MLflow's own client."""

from __future__ import annotations

import json
import math
import socket

import pytest
import yaml

pytest.importorskip("mlflow")

from mlflow.tracking import MlflowClient  # noqa: E402

import trainlab  # noqa: E402
from trainlab import cli, rundir  # noqa: E402
from trainlab.errors import TrainlabError  # noqa: E402
from trainlab.tune import load_tune  # noqa: E402

BASE = {
    "data": {"source": "synthetic_classification", "n_samples": 160, "n_features": 8},
    "model": {"hidden": [8]},
    "training": {"epochs": 3, "batch_size": 32, "tensorboard": False},
}
# 4 trials in one fused population, asha at epoch 1 (2 of 4 go on); batch size 1000 fails in training.
SEARCH = {"name": "tracked-tune", "base": BASE, "trials": 4, "population": 4, "sampler": "grid",
          "space": {"optimizer.learning_rate": {"choice": [0.001, 0.03]}, "training.batch_size": {"choice": [32, 1000]}},
          "pruner": {"name": "asha", "min_epochs": 1, "reduction_factor": 2}}


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """A sqlite store made once for the module (MLflow's migrations take seconds): its URI."""
    uri = f"sqlite:///{tmp_path_factory.mktemp('mlflow') / 'mlflow.db'}"
    MlflowClient(uri).search_experiments()
    return uri


def test_cli_tune_logs_a_parent_run_with_a_child_per_trial(store, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "search.yaml").write_text(yaml.safe_dump(SEARCH, sort_keys=False))
    assert cli.main(["tune", "search.yaml", "--out", "out", "--mlflow", store]) == 0
    printed = capsys.readouterr().out.strip().splitlines()[-1]
    assert printed.startswith("mlflow: tune run ") and printed.endswith(f" at {store}")
    out = tmp_path / "out"
    tune = json.loads((out / "tune.json").read_text())
    trials = rundir.read_csv(out / "trials.csv")

    client = MlflowClient(store)
    parent = client.get_run(printed.split()[3])
    assert client.get_experiment(parent.info.experiment_id).name == "tracked-tune"  # default: the tune's name
    assert parent.info.status == "FINISHED" and parent.info.run_name == "tracked-tune"
    assert parent.data.tags["trainlab.kind"] == "tune" and parent.data.tags["trainlab.status"] == "completed"
    assert parent.data.tags["trainlab.tune_dir"] == str(out.resolve())
    params = parent.data.params
    assert params["sampler"] == "grid" and params["pruner.name"] == "asha" and params["trials"] == "4"
    assert params["space.optimizer.learning_rate.choice"] == "[0.001, 0.03]" and params["executor"] == "fused"
    assert not any(k.startswith("tracking") for k in params)
    # tune.json's source (the base recipe inline, base_dir, the tracking URI) and engines are no params
    assert "source" in tune and "engines" in tune
    assert not any(k.split(".")[0] in ("source", "engines") for k in params)
    assert not any(store in v for v in params.values())
    metrics = parent.data.metrics
    assert metrics["best_value"] == pytest.approx(tune["best_value"], rel=1e-12)
    assert metrics["best_trial"] == tune["best_trial"] and metrics["trials_run"] == 4
    counts = {s: sum(r["status"] == s for r in trials) for s in ("completed", "pruned", "failed")}
    assert counts == {"completed": 1, "pruned": 1, "failed": 2}  # 2 trained, the worse stopped at rung 1
    assert {k: metrics[f"n_{k}"] for k in counts} == counts
    assert {"tune.json", "trials.csv", "best.yaml"} <= {a.path for a in client.list_artifacts(parent.info.run_id)}

    children = client.search_runs([parent.info.experiment_id], f"tags.mlflow.parentRunId = '{parent.info.run_id}'")
    by_name = {c.info.run_name: c for c in children}
    assert sorted(by_name) == [f"trial-{r['trial']:03d}" for r in trials]
    for row in trials:
        child = by_name[f"trial-{row['trial']:03d}"]
        assert child.data.tags["trainlab.trial_status"] == row["status"]
        assert child.data.params["optimizer.learning_rate"] == json.dumps(row["optimizer.learning_rate"])
        assert child.data.params["training.batch_size"] == json.dumps(row["training.batch_size"])
        if row["status"] == "failed":
            assert child.info.status == "FAILED" and math.isnan(child.data.metrics["value"])
            assert "must be <= the training set size" in child.data.tags["trainlab.error"]
            continue
        assert child.info.status == "FINISHED" and child.data.metrics["value"] == pytest.approx(row["value"])
        history = rundir.read_csv(out / "runs" / f"trial-{row['trial']:03d}" / "history.csv")
        logged = client.get_metric_history(child.info.run_id, "val_loss")
        assert [m.value for m in logged] == pytest.approx([h["val_loss"] for h in history], rel=1e-12)
        if row["status"] == "pruned":
            assert child.data.metrics["pruned_at_epoch"] == row["pruned_at_epoch"] == 1 and len(logged) == 1
    assert {p.name for p in tmp_path.iterdir()} == {"search.yaml", "out"}  # the artifacts went next to the database


def test_the_base_recipes_tracking_applies_when_the_search_has_none():
    spec = load_tune({**SEARCH, "base": {**BASE, "tracking": {"mlflow": {"uri": "sqlite:///base.db"}}}})
    assert spec.mlflow.uri == "sqlite:///base.db"
    spec = load_tune({**SEARCH, "base": {**BASE, "tracking": {"mlflow": {"uri": "sqlite:///base.db"}}},
                      "tracking": {"mlflow": {"uri": "sqlite:///search.db", "experiment": "searches"}}})
    assert spec.mlflow.uri == "sqlite:///search.db" and spec.mlflow.experiment == "searches"
    assert load_tune(SEARCH).mlflow is None
    with pytest.raises(TrainlabError, match=r"^tracking.mlflow.uri: must be sqlite:///PATH"):
        load_tune({**SEARCH, "tracking": {"mlflow": {"uri": "nowhere"}}})


def test_a_store_that_does_not_answer_fails_before_the_search(tmp_path, monkeypatch):
    from trainlab import tracking

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setattr(tracking, "CONNECT_TIMEOUT_S", 1.0)
    with pytest.raises(TrainlabError, match="^tracking.mlflow.uri: no MLflow server answered within 1 s"):
        trainlab.tune({**SEARCH, "tracking": {"mlflow": {"uri": f"http://127.0.0.1:{port}"}}}, out=tmp_path / "t")
    assert not (tmp_path / "t").exists()


def test_log_tune_needs_a_tune_directory(tmp_path):
    from trainlab.tracking import log_tune

    with pytest.raises(TrainlabError, match=r"is not a tune directory \(no tune.json\)"):
        log_tune(tmp_path, "sqlite:///x.db")
