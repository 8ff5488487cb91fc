"""MLflow tracking against a real local sqlite store, read back with MLflow's own client."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
import yaml

pytest.importorskip("mlflow")

from mlflow.tracking import MlflowClient  # noqa: E402

import trainlab  # noqa: E402
from trainlab import cli  # noqa: E402
from trainlab.config import load_recipe  # noqa: E402
from trainlab.errors import TrainlabError  # noqa: E402
from trainlab.studies import load_study  # noqa: E402
from trainlab.tracking import _flatten, log_run  # noqa: E402
from trainlab import rundir  # noqa: E402

RECIPE = """\
name: tracked
data: {source: synthetic_classification, n_samples: 200, n_features: 8, test_split: 0.2}
model: {hidden: [8]}
training: {epochs: 3, batch_size: 32, tensorboard: false}
"""


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """A sqlite store made once for the module (MLflow's migrations take seconds): its URI and folder."""
    folder = tmp_path_factory.mktemp("mlflow")
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    MlflowClient(uri).search_experiments()
    return uri, folder


@pytest.fixture
def elsewhere(tmp_path, monkeypatch):
    """An empty current directory, to show that nothing lands there."""
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    return cwd


def test_cli_run_logs_params_metrics_tags_and_artifacts(store, elsewhere, tmp_path, capsys):
    uri, folder = store
    recipe = tmp_path / "tracked.yaml"
    recipe.write_text(RECIPE)
    out = tmp_path / "run"
    assert cli.main(["run", str(recipe), "--out", str(out), "-q", "--mlflow", uri]) == 0
    printed = capsys.readouterr().out.strip().splitlines()[-1]
    assert printed.startswith("mlflow: run ") and printed.endswith(f" at {uri}")
    run_id = printed.split()[2]

    client = MlflowClient(uri)
    run = client.get_run(run_id)
    experiment = client.get_experiment(run.info.experiment_id)
    assert experiment.name == "tracked"  # default: the run's name
    assert run.info.status == "FINISHED" and run.info.run_name == "tracked"
    # artifacts next to the database, nowhere near the current directory
    assert experiment.artifact_location == (folder / "mlartifacts" / "tracked").as_uri()
    assert list(elsewhere.iterdir()) == []

    recipe_yaml = yaml.safe_load((out / "recipe.yaml").read_text())
    params = run.data.params
    assert params == {k: (v if isinstance(v, str) else json.dumps(v)) for k, v in _flatten(recipe_yaml).items()
                      if not k.startswith("tracking.")}
    assert params["optimizer.learning_rate"] == "0.001" and params["model.hidden"] == "[8]"
    assert params["loss"] == "binary_crossentropy"  # resolved, as the run ran it

    history = rundir.read_csv(out / "history.csv")
    for column in ("loss", "val_loss", "accuracy", "lr"):
        logged = client.get_metric_history(run_id, column)
        assert [m.step for m in logged] == [r["epoch"] for r in history] == [1, 2, 3]
        assert [m.value for m in logged] == pytest.approx([r[column] for r in history], rel=1e-12)
    summary = json.loads((out / "summary.json").read_text())
    metrics = run.data.metrics
    assert metrics["best_epoch"] == summary["best_epoch"] and metrics["epochs_run"] == 3
    assert metrics["test_loss"] == pytest.approx(summary["test"]["loss"])
    assert metrics["best_val_loss"] == pytest.approx(summary["best"]["val_loss"])

    tags = run.data.tags
    assert tags["trainlab.status"] == "completed" and tags["trainlab.run_dir"] == str(out.resolve())
    diagnosis = [d["rule"] for d in summary["diagnosis"]]
    assert tags["trainlab.diagnosis"] == (", ".join(diagnosis) or "healthy")
    artifacts = {a.path for a in client.list_artifacts(run_id)}
    assert {"recipe.yaml", "summary.json", "history.csv", "diagnosis.json", "report.html", "model.keras",
            "monitor.png", "curves.png"} <= artifacts
    saved = Path(client.download_artifacts(run_id, "diagnosis.json", str(tmp_path)))
    assert json.loads(saved.read_text()) == summary["diagnosis"]

    # The records are the contract: the same run directory logs again from Python, with the recipe's tracking.
    again = log_run(out)
    assert again != run_id and client.get_run(again).info.experiment_id == run.info.experiment_id


def test_a_study_is_a_parent_run_with_a_child_per_run(store, elsewhere, tmp_path):
    uri, _ = store
    study = trainlab.study({
        "name": "tracked-study",
        "base": {"data": {"source": "synthetic_classification", "n_samples": 160, "n_features": 8},
                 "model": {"hidden": [8]}, "training": {"epochs": 2, "tensorboard": False}},
        "vary": {"plain": {}, "dropout": {"model.dropout": 0.3}, "too_big": {"training.batch_size": 1000}},
        "seeds": [0], "executor": "sequential", "metric": "val_accuracy",
        "tracking": {"mlflow": {"uri": uri, "experiment": "studies"}},
    }, out=tmp_path / "study", figures=False)

    client = MlflowClient(uri)
    parent = client.get_run(study.mlflow_run_id)
    assert client.get_experiment(parent.info.experiment_id).name == "studies"
    assert parent.info.run_name == "tracked-study" and parent.data.tags["trainlab.kind"] == "study"
    assert parent.data.params["metric"] == "val_accuracy" and parent.data.params["seeds"] == "[0]"
    assert parent.data.params["variant.dropout"] == '{"model.dropout": 0.3}'
    means = {r["variant"]: r["mean"] for r in study.summary}
    assert parent.data.metrics["plain/mean"] == pytest.approx(means["plain"])
    assert parent.data.metrics["too_big/n_failed"] == 1
    assert {"study.json", "results.csv", "summary.csv", "comparisons.csv"} <= {
        a.path for a in client.list_artifacts(parent.info.run_id)}

    children = client.search_runs([parent.info.experiment_id],
                                  f"tags.mlflow.parentRunId = '{parent.info.run_id}'")
    by_name = {c.info.run_name: c for c in children}
    assert sorted(by_name) == ["dropout/seed0", "plain/seed0", "too_big/seed0"]
    plain = by_name["plain/seed0"]
    assert plain.info.status == "FINISHED" and plain.data.tags["trainlab.variant"] == "plain"
    assert len(client.get_metric_history(plain.info.run_id, "val_loss")) == 2
    failed = by_name["too_big/seed0"]  # no run directory: still a child run, with its error
    assert failed.info.status == "FAILED"
    assert "must be <= the training set size" in failed.data.tags["trainlab.error"]
    assert list(elsewhere.iterdir()) == []


@pytest.mark.parametrize(("tracking", "message"), [
    ({"mlflow": {"uri": "mlflow.db"}}, "tracking.mlflow.uri: must be sqlite:///PATH, http(s)://HOST[:PORT], "
                                       "file:PATH or a database URL (postgresql://..., mysql://..., mssql://...), "
                                       "got 'mlflow.db'"),
    ({"mlflow": {"uri": "sqlite://"}}, "tracking.mlflow.uri: must be sqlite:///PATH"),
    ({"mlflow": {"uri": "http://"}}, "tracking.mlflow.uri: must be sqlite:///PATH"),
    ({"mlflow": {"uri": "postgresql://db.internal/mlflow"}},
     "tracking.mlflow.artifact_location: is required with a database server"),
    ({"mlflow": {"uri": "sqlite:///m.db", "experiment": " "}}, "tracking.mlflow.experiment: must not be empty"),
    ({"mlflow": {"url": "sqlite:///m.db"}}, "tracking.mlflow.url: unknown key (did you mean 'uri'?)"),
    ({"wandb": {}}, "tracking.wandb: unknown key"),
])
def test_bad_tracking_settings_are_one_line_errors(tracking, message):
    with pytest.raises(TrainlabError) as info:
        load_recipe({"tracking": tracking})
    assert str(info.value).startswith(message)


def test_good_tracking_uris_are_accepted():
    for uri in ("sqlite:///mlflow.db", "sqlite:////abs/path/m.db", "http://127.0.0.1:5000", "https://mlflow.example",
                "file:///tmp/mlruns"):
        assert load_recipe({"tracking": {"mlflow": {"uri": uri}}})[0].tracking.mlflow.uri == uri
    recipe, _, _ = load_recipe({"tracking": {"mlflow": {"uri": "postgresql+psycopg2://db/m",
                                                        "artifact_location": "s3://bucket/mlflow"}}})
    assert recipe.tracking.mlflow.artifact_location == "s3://bucket/mlflow"
    assert load_recipe({})[0].tracking.mlflow is None  # off by default


def test_study_tracking_errors_name_the_study_key():
    base = {"data": {"source": "synthetic_classification", "n_samples": 100, "n_features": 4}}
    with pytest.raises(TrainlabError, match=r"^tracking.mlflow.uri: must be sqlite:///PATH"):
        load_study({"base": base, "tracking": {"mlflow": {"uri": "nowhere"}}})
    spec = load_study({"base": {**base, "tracking": {"mlflow": {"uri": "sqlite:///base.db"}}}})
    assert spec.mlflow.uri == "sqlite:///base.db"  # the base recipe's tracking, when the study has none


def test_without_mlflow_installed_tracking_is_refused(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "mlflow" else real(name, *a))
    with pytest.raises(TrainlabError) as info:
        load_recipe({"tracking": {"mlflow": {}}})
    assert str(info.value) == "tracking.mlflow: needs MLflow: pip install 'trainlab[mlflow]'"


def test_a_server_that_does_not_answer_is_one_line_in_bounded_time(tmp_path, monkeypatch):
    from trainlab import tracking

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setattr(tracking, "CONNECT_TIMEOUT_S", 1.0)
    run = tmp_path / "run"
    run.mkdir()
    rundir.write_json(run / "summary.json", {"status": "completed", "name": "r"})
    with pytest.raises(TrainlabError) as info:
        log_run(run, f"http://127.0.0.1:{port}")
    assert str(info.value) == (f"tracking.mlflow.uri: no MLflow server answered within 1 s (ConnectionRefusedError), "
                               f"got 'http://127.0.0.1:{port}'")
    # a study checks its store before training: nothing trains, no study directory
    with pytest.raises(TrainlabError, match="no MLflow server answered"):
        trainlab.study({"base": {"data": {"source": "synthetic_classification", "n_samples": 100, "n_features": 4}},
                        "tracking": {"mlflow": {"uri": f"http://127.0.0.1:{port}"}}}, out=tmp_path / "study")
    assert not (tmp_path / "study").exists()


def test_log_run_errors(tmp_path):
    with pytest.raises(TrainlabError, match=r"is not a run directory \(no summary.json\)"):
        log_run(tmp_path, "sqlite:///x.db")
    rundir.write_json(tmp_path / "summary.json", {"status": "completed"})
    with pytest.raises(TrainlabError, match="no MLflow tracking given"):
        log_run(tmp_path)
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(TrainlabError, match=r"^tracking.mlflow.uri: cannot make the database's folder"):
        log_run(tmp_path, f"sqlite:///{blocker}/sub/m.db")
