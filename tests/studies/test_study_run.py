"""Running studies end to end on tiny data: fused agrees with sequential, the directory contract, errors."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

import trainlab
from trainlab import cli
from trainlab.errors import TrainlabError
from trainlab.studies import load_study
from trainlab import rundir

BASE = {
    "data": {"source": "synthetic_classification", "n_samples": 160, "n_features": 8},
    "model": {"hidden": [16, 8]},
    "training": {"epochs": 4, "batch_size": 32, "tensorboard": False},
}


def _spec(**changes):
    return {"name": "tiny", "base": BASE, "vary": {"plain": {"model.dropout": 0.0}, "dropout": {"model.dropout": 0.3}},
            "seeds": [0, 1], "metric": "val_accuracy", **changes}


def _histories(study):
    return {
        (r["variant"], r["seed"]): rundir.read_csv(study.dir / "runs" / r["variant"] / f"seed{r['seed']}" / "history.csv")
        for r in study.results
    }


def test_fused_agrees_with_sequential(tmp_path):
    fused = trainlab.study(_spec(executor="fused"), out=tmp_path / "fused", figures=False)
    sequential = trainlab.study(_spec(executor="sequential"), out=tmp_path / "sequential", figures=False)
    # the two seeds train in turn in the program traced for the first (one member per variant)
    assert set(fused.executors.values()) == {"fused (2 runs together, 2 seeds in turn in one traced program)"}
    assert set(sequential.executors.values()) == {"sequential"}
    a, b = _histories(fused), _histories(sequential)
    assert a.keys() == b.keys() and len(a) == 4
    for key in a:
        first_a, first_b = a[key][0], b[key][0]
        assert first_a["loss"] == pytest.approx(first_b["loss"], rel=1e-4)
        assert a[key][-1]["val_loss"] == pytest.approx(b[key][-1]["val_loss"], rel=1e-3)
    # seeds differ in initial weights: the two seeds of a variant do not train identically
    assert a[("plain", 0)][0]["loss"] != a[("plain", 1)][0]["loss"]


def test_fused_member_stopped_early_freezes_and_matches_its_sequential_run(tmp_path):
    spec = _spec(vary={"patient": {}, "impatient": {"training.early_stopping": {
        "monitor": "val_loss", "patience": 1, "min_delta": 0.05, "restore_best_weights": True}}}, seeds=[0, 1])
    spec["base"] = {**BASE, "training": {**BASE["training"], "epochs": 8}}
    fused = trainlab.study({**spec, "executor": "fused"}, out=tmp_path / "fused", figures=False)
    sequential = trainlab.study({**spec, "executor": "sequential"}, out=tmp_path / "seq", figures=False)
    # seed 1 trains after seed 0 in the same engine: the member frozen in seed 0's turn is active again
    for seed in (0, 1):
        rows = {r["variant"]: r for r in fused.results if r["seed"] == seed}
        assert rows["impatient"]["epochs_run"] < 8 == rows["patient"]["epochs_run"]
    a, b = _histories(fused), _histories(sequential)
    for key in a:
        assert len(a[key]) == len(b[key])
        np.testing.assert_allclose([r["val_loss"] for r in a[key]], [r["val_loss"] for r in b[key]], rtol=1e-3)
    summary = json.loads((fused.dir / "runs" / "impatient" / "seed0" / "summary.json").read_text())
    assert summary["stopped_early"] and summary["restored_best_weights"]


def test_study_directory_contract(tmp_path):
    study = trainlab.study(_spec(seeds=[0, 1, 2]), out=tmp_path / "s")
    names = {p.name for p in study.dir.iterdir()}
    assert {"study.json", "results.csv", "summary.csv", "comparisons.csv", "report.html", "curves.png",
            "final.png", "runs"} <= names
    with open(study.dir / "results.csv", newline="") as f:
        header = next(csv.reader(f))
    assert header[:7] == ["variant", "seed", "best_value", "best_epoch", "epochs_run", "wall_time_s", "executor"]
    assert {"final_loss", "final_val_loss", "final_accuracy", "final_val_accuracy"} <= set(header)
    for row in study.results:  # best_value: the study metric at the run's best epoch (by val_loss)
        history = rundir.read_csv(study.dir / "runs" / row["variant"] / f"seed{row['seed']}" / "history.csv")
        assert row["best_value"] == next(r["val_accuracy"] for r in history if r["epoch"] == row["best_epoch"])
    assert [r["variant"] for r in study.summary] == ["plain", "dropout"]
    assert all(r["n"] == 3 for r in study.summary)
    saved = json.loads((study.dir / "study.json").read_text())
    assert saved["status"] == "completed" and saved["mode"] == "max" and saved["seeds"] == [0, 1, 2]
    html = (study.dir / "report.html").read_text()
    assert "plain" in html and "dropout" in html and "http://" not in html


def test_grid_crosses_vary_and_groups_what_cannot_fuse(tmp_path):
    spec = load_study({"base": BASE, "vary": {"a": {}, "b": {"model.dropout": 0.2}},
                       "grid": {"training.batch_size": [16, 32]}, "seeds": [3]})
    assert [p.variant for p in spec.plans] == ["a/16", "b/16", "a/32", "b/32"]
    assert all(p.recipe.data.seed == 42 and p.recipe.seed == 3 for p in spec.plans)
    study = trainlab.study({"base": BASE, "grid": {"training.batch_size": [16, 32], "optimizer.name": ["sgd"]},
                            "seeds": [0]}, out=tmp_path / "g", figures=False)
    assert sorted(study.executors) == ["batch_size=16,name=sgd", "batch_size=32,name=sgd"]
    assert all("sequential" in how for how in study.executors.values())


def test_overrides_reach_the_base_recipe_file(tmp_path):
    recipe = tmp_path / "base.yaml"
    recipe.write_text("data: {source: synthetic_classification, n_samples: 100, n_features: 4}\n"
                      "training: {epochs: 50}\n")
    study_file = tmp_path / "s.yaml"
    study_file.write_text("base: base.yaml\nvary: {x: {}}\nseeds: [0]\n")
    spec = load_study(study_file, ["base.training.epochs=2", "seeds=[5, 6]"])
    assert [p.recipe.training.epochs for p in spec.plans] == [2, 2]
    assert [p.seed for p in spec.plans] == [5, 6]


@pytest.mark.parametrize(("spec", "message"), [
    ({"vary": {"bad": {"model.dropout": 1.5}}}, "vary.bad.model.dropout: dropout rates must be in [0, 1), got 1.5"),
    ({"vary": {"x": {"model.dropuot": 0.1}}}, "vary.x.model.dropuot: unknown key (did you mean 'dropout'?)"),
    ({"seeds": [1, 1]}, "seeds: must be distinct"),
    ({"seeds": []}, "seeds"),
    ({"executor": "threads"}, "executor"),
    ({"metric": "val_acuracy"}, "metric"),
    ({"vray": {}}, "vray: unknown key (did you mean 'vary'?)"),
    ({"vary": {"a b": {}}}, "vary: variant labels may use"),
])
def test_bad_studies_are_one_line_errors(spec, message):
    with pytest.raises(TrainlabError) as info:
        load_study({"base": BASE, **spec})
    assert message in str(info.value)


def test_cli_study_prints_the_ranking_and_bad_input_exits_2(tmp_path, capsys):
    study_file = tmp_path / "s.yaml"
    study_file.write_text(json.dumps({**_spec(), "seeds": [0, 1]}))
    assert cli.main(["study", str(study_file), "--out", str(tmp_path / "out"), "--no-figures",
                     "--set", "base.training.epochs=2"]) == 0
    out = capsys.readouterr().out
    assert "is best on val_accuracy" in out and "rank" in out and "fused (2 runs together, 2 seeds in turn in one traced program)" in out
    assert not (tmp_path / "out" / "report.html").exists()
    assert cli.main(["report", str(tmp_path / "out")]) == 0  # rebuilt from the study's records
    assert (tmp_path / "out" / "report.html").is_file() and (tmp_path / "out" / "final.png").is_file()
    capsys.readouterr()
    assert cli.main(["study", str(study_file), "--set", "seeds=[0,0]"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("trainlab: error: seeds: must be distinct")
    assert cli.main(["study", str(tmp_path / "missing.yaml")]) == 2


def test_processes_executor_matches_sequential(tmp_path):
    spec = _spec(vary={"plain": {}}, seeds=[0, 1], executor="processes", workers=2)
    spec["base"] = {**BASE, "training": {**BASE["training"], "epochs": 2}}
    processes = trainlab.study(spec, out=tmp_path / "p", figures=False)
    sequential = trainlab.study({**spec, "executor": "sequential"}, out=tmp_path / "s", figures=False)
    assert set(processes.executors.values()) == {"processes (2 workers)"}
    a, b = _histories(processes), _histories(sequential)
    for key in a:
        assert a[key][-1]["val_loss"] == pytest.approx(b[key][-1]["val_loss"], rel=1e-4)


def test_a_run_that_raises_in_a_worker_process_is_reported_not_dropped(tmp_path):
    # 'too_big' fails in its worker (a batch larger than the training set is found with the data in hand).
    spec = _spec(vary={"plain": {}, "too_big": {"training.batch_size": 1000}}, seeds=[0], executor="processes",
                 workers=1)
    spec["base"] = {**BASE, "training": {**BASE["training"], "epochs": 1}}
    study = trainlab.study(spec, out=tmp_path / "p", figures=False)
    rows = {r["variant"]: r for r in study.results}
    assert rows["plain"]["status"] == "completed" and rows["too_big"]["status"] == "failed"
    assert rows["too_big"]["error"] == ("TrainlabError: training.batch_size: must be <= the training set size "
                                        "(128 samples), got 1000")
    assert study.executors == {"plain": "processes (1 workers)", "too_big": "failed"}
    assert json.loads((study.dir / "study.json").read_text())["status"] == "completed"


def test_a_run_that_raises_is_reported_not_dropped(tmp_path, monkeypatch):
    from trainlab.studies.executors import local

    real = local.train_group

    def flaky(group, spec, study_dir):
        if group.plans[0].variant == "dropout":
            raise RuntimeError("worker lost")
        return real(group, spec, study_dir)

    monkeypatch.setattr(local, "train_group", flaky)
    study = trainlab.study(_spec(executor="sequential", seeds=[0]), out=tmp_path / "s", figures=False)
    rows = {r["variant"]: r for r in study.results}
    assert rows["plain"]["status"] == "completed"
    assert rows["dropout"]["status"] == "failed" and rows["dropout"]["error"] == "RuntimeError: worker lost"
    with open(study.dir / "results.csv", newline="") as f:
        assert "worker lost" in f.read()
    assert {r["variant"]: r["n_failed"] for r in study.summary} == {"plain": 0, "dropout": 1}
