"""A tiny search end to end: the tune directory, pruning at rungs, survivors as trained alone, best.yaml."""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest
import yaml

import trainlab
from trainlab import cli, rundir
from trainlab.tune.run import TRIAL_COLUMNS

BASE = {
    "data": {"source": "synthetic_classification", "n_samples": 160, "n_features": 8},
    "model": {"hidden": [16, 8]},
    "training": {"epochs": 4, "batch_size": 32, "tensorboard": False},
}
SPACE = {"optimizer.learning_rate": {"log_uniform": [1.0e-3, 1.0e-1]}, "model.dropout": {"uniform": [0.0, 0.4]}}
# 6 trials in one fused population; rungs at epochs 1 and 3: 4 of 6 stop at 1, 1 of the last 2 at 3.
SEARCH = {"name": "tiny", "base": BASE, "space": SPACE, "trials": 6, "population": 6, "metric": "val_loss",
          "sampler": "random", "pruner": {"name": "asha", "min_epochs": 1, "reduction_factor": 3}}


@pytest.fixture(scope="module")
def search(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tune")
    (folder / "search.yaml").write_text(yaml.safe_dump(SEARCH, sort_keys=False), encoding="utf-8")
    assert cli.main(["tune", str(folder / "search.yaml"), "--out", str(folder / "out")]) == 0
    return folder / "out"


def test_the_tune_directory(search):
    tune = json.loads((search / "tune.json").read_text())
    assert tune["status"] == "completed" and tune["trials_run"] == 6 and tune["wall_time_s"] > 0
    rows = rundir.read_csv(search / "trials.csv")
    with open(search / "trials.csv") as f:
        assert f.readline().strip().split(",") == TRIAL_COLUMNS + list(SPACE)
    assert [r["trial"] for r in rows] == list(range(6))
    assert all(np.isfinite(r["value"]) for r in rows)
    for r in rows:
        assert (search / "runs" / f"trial-{r['trial']:03d}" / "history.csv").is_file()
        assert 1.0e-3 <= r["optimizer.learning_rate"] <= 1.0e-1
    assert tune["best_trial"] in [r["trial"] for r in rows if r["status"] == "completed"]


def test_pruned_trials_stop_at_their_rung_and_are_the_worst_there(search):
    rows = rundir.read_csv(search / "trials.csv")
    by_status = {s: [r for r in rows if r["status"] == s] for s in ("completed", "pruned")}
    assert len(by_status["completed"]) == 1 and len(by_status["pruned"]) == 5
    assert sorted(r["pruned_at_epoch"] for r in by_status["pruned"]) == [1, 1, 1, 1, 3]
    for r in by_status["pruned"]:
        assert r["epochs_run"] == r["pruned_at_epoch"]
        assert len(rundir.read_csv(search / "runs" / f"trial-{r['trial']:03d}" / "history.csv")) == r["epochs_run"]
    first = {r["trial"]: rundir.read_csv(search / "runs" / f"trial-{r['trial']:03d}" / "history.csv")[0]["val_loss"]
             for r in rows}
    kept = sorted(first, key=first.get)[:2]  # the best third at rung 1 (val_loss: lower is better)
    assert {r["trial"] for r in rows if r["pruned_at_epoch"] != 1} == set(kept)
    completed = by_status["completed"][0]
    assert completed["epochs_run"] == BASE["training"]["epochs"] and completed["pruned_at_epoch"] is None


def test_survivor_and_pruned_trials_equal_their_runs_alone(search):
    """Fused members match their separate runs to the engine's fused-vs-sequential tolerance (as studies test)."""
    rows = rundir.read_csv(search / "trials.csv")
    survivor = next(r for r in rows if r["status"] == "completed")
    pruned = next(r for r in rows if r["status"] == "pruned")
    for r in (survivor, pruned):
        recipe = yaml.safe_load((search / "runs" / f"trial-{r['trial']:03d}" / "recipe.yaml").read_text())
        recipe.pop("name", None)
        alone = trainlab.train(recipe, out=search.parent / f"alone-{r['trial']}")
        fused = rundir.read_csv(search / "runs" / f"trial-{r['trial']:03d}" / "history.csv")
        np.testing.assert_allclose([h["val_loss"] for h in fused],
                                   [h["val_loss"] for h in alone.history[: len(fused)]], rtol=1e-3)


def test_best_yaml_reproduces_the_best_trial(search):
    tune = json.loads((search / "tune.json").read_text())
    best_row = next(r for r in rundir.read_csv(search / "trials.csv") if r["trial"] == tune["best_trial"])
    best = yaml.safe_load((search / "best.yaml").read_text())
    assert best["optimizer"]["learning_rate"] == pytest.approx(best_row["optimizer.learning_rate"], rel=1e-12)
    run = trainlab.train(search / "best.yaml", out=search.parent / "best-run")
    value = next(h for h in run.history if h["epoch"] == run.summary["best_epoch"])["val_loss"]
    assert value == pytest.approx(best_row["value"], rel=1e-3)


def test_sequential_trials_with_the_median_rule(tmp_path):
    """Trials in turn, each judged against the median of those finished before it, from the first trial on."""
    search = {**SEARCH, "trials": 5, "population": 5, "executor": "sequential", "sampler": "tpe", "seed": 3,
              "pruner": {"name": "median", "min_epochs": 1}, "space": {"optimizer.learning_rate": {"log_uniform": [1.0e-4, 1.0]}}}
    result = trainlab.tune(search, out=tmp_path / "t")
    assert [r["trial"] for r in result.trials] == list(range(5))
    curves = {r["trial"]: [h["val_loss"] for h in rundir.read_csv(result.dir / "runs" / f"trial-{r['trial']:03d}" / "history.csv")]
              for r in result.trials}
    for r in result.trials:
        earlier = [curves[t] for t in range(r["trial"])]
        assert len(curves[r["trial"]]) == r["epochs_run"]
        for epoch, value in enumerate(curves[r["trial"]], start=1):
            seen = [c[epoch - 1] for c in earlier if len(c) >= epoch]
            worse = len(seen) >= 2 and value > float(np.median(seen))
            if worse:  # the rule stops a trial the first time it is worse than the median
                assert r["status"] == "pruned" and r["pruned_at_epoch"] == epoch
                break
        else:
            assert r["status"] == "completed" and r["epochs_run"] == BASE["training"]["epochs"]
    assert result.best is not None and result.best_trial["status"] == "completed"


def test_confirm_reruns_the_best_trials_over_seeds_and_picks_best_yaml(tmp_path, monkeypatch):
    search = {**SEARCH, "trials": 3, "population": 3, "pruner": "none", "confirm": {"top": 2, "seeds": 2},
              "base": {**BASE, "training": {**BASE["training"], "epochs": 3}}}
    import trainlab.tune.confirm as confirm_module

    seen = []  # tune.json's status while the confirmation study trains
    real = confirm_module.confirm

    def watched(spec, rows, tune_dir):
        seen.append(json.loads((tune_dir / "tune.json").read_text())["status"])
        return real(spec, rows, tune_dir)

    monkeypatch.setattr(confirm_module, "confirm", watched)
    result = trainlab.tune(search, out=tmp_path / "t")
    assert seen == ["confirming"]
    top = sorted(result.trials, key=lambda r: r["value"])[:2]  # val_loss: lower is better
    study = result.confirm
    assert set(study.spec.variants) == {f"trial-{r['trial']:03d}" for r in top}
    results = rundir.read_csv(result.dir / "confirm" / "results.csv")
    assert len(results) == 4 and {r["seed"] for r in results} == {0, 1}
    means = {s["variant"]: s["mean"] for s in study.summary}
    winner = min(means, key=means.get)
    assert result.best_trial["trial"] == int(winner.removeprefix("trial-"))
    for r in results:  # the study's values are its runs' values at their best epochs
        assert np.isfinite(r["best_value"])
    best = yaml.safe_load((result.dir / "best.yaml").read_text())
    assert best["optimizer"]["learning_rate"] == pytest.approx(result.best_trial["optimizer.learning_rate"], rel=1e-12)
    tune = json.loads((result.dir / "tune.json").read_text())
    assert tune["best_trial"] == result.best_trial["trial"] and tune["confirm"]["seeds"] == [0, 1]
    assert tune["status"] == "completed"
    assert [s["variant"] for s in tune["confirm"]["summary"]] == list(study.spec.variants)


def test_a_spent_time_budget_stops_asking_after_the_first_population(tmp_path):
    search = {**SEARCH, "trials": 4, "population": 2, "pruner": "none", "time_budget_s": 1e-9,
              "base": {**BASE, "training": {**BASE["training"], "epochs": 1}}}
    result = trainlab.tune(search, out=tmp_path / "t")
    assert [r["trial"] for r in result.trials] == [0, 1]
    tune = json.loads((result.dir / "tune.json").read_text())
    assert tune["status"] == "time budget spent" and tune["trials_run"] == 2
    assert len(rundir.read_csv(result.dir / "trials.csv")) == 2


def test_a_combination_the_recipe_refuses_is_a_failed_trial(tmp_path):
    """Each key passes alone; the sampled pair does not (one dropout rate per hidden layer): that trial fails."""
    search = {**SEARCH, "trials": 4, "population": 4, "pruner": "none", "sampler": "grid",
              "base": {**BASE, "training": {**BASE["training"], "epochs": 1}},
              "space": {"model.hidden": {"choice": [[16, 8], [16]]}, "model.dropout": {"choice": [0.1, [0.1, 0.2]]}}}
    result = trainlab.tune(search, out=tmp_path / "t")
    failed = [r for r in result.trials if r["status"] == "failed"]
    assert len(failed) == 1 and failed[0]["model.hidden"] == [16] and failed[0]["model.dropout"] == [0.1, 0.2]
    assert failed[0]["error"].startswith("model.dropout: needs one rate per hidden layer")
    assert all(r["status"] == "completed" for r in result.trials if r is not failed[0])


def test_later_populations_train_in_the_engine_traced_first(tmp_path):
    """Trials that differ in the learning rate and dropout (held in variables) train in one traced engine, population
    after population, a smaller one with members sitting out; each trial equals its recipe trained alone."""
    search = {**SEARCH, "trials": 6, "population": 4, "pruner": "none", "seed": 1,
              "base": {**BASE, "model": {"hidden": [16, 8], "dropout": 0.2}, "training": {**BASE["training"], "epochs": 3}}}
    search["space"] = {"optimizer.learning_rate": {"log_uniform": [1.0e-3, 1.0e-1]},
                       "model.dropout": {"uniform": [0.05, 0.5]}}
    result = trainlab.tune(search, out=tmp_path / "t")
    tune = json.loads((result.dir / "tune.json").read_text())
    assert tune["engines"] == {"built": 1, "reused": 1}
    for r in (result.trials[0], result.trials[4], result.trials[5]):  # the first population, then the second's two
        run_dir = result.dir / "runs" / f"trial-{r['trial']:03d}"
        recipe = yaml.safe_load((run_dir / "recipe.yaml").read_text())
        assert recipe["model"]["dropout"] == pytest.approx(r["model.dropout"], rel=1e-12)
        recipe.pop("name", None)
        alone = trainlab.train(recipe, out=tmp_path / f"alone-{r['trial']}")
        fused = rundir.read_csv(run_dir / "history.csv")
        np.testing.assert_allclose([h["val_loss"] for h in fused], [h["val_loss"] for h in alone.history], rtol=1e-3)
        saved = trainlab.load(run_dir).model
        rates = [layer.rate for layer in saved.layers if isinstance(layer, keras.layers.Dropout)]
        assert rates and all(rate == pytest.approx(r["model.dropout"], rel=1e-12) for rate in rates)


def test_a_population_of_two_architectures_trains_in_engines_side_by_side_pruned_as_one(tmp_path):
    """Two widths: a population trains in one engine per architecture, epoch by epoch together, and the rung keeps
    the best third of the whole population; the next population trains in the engines traced first."""
    search = {**SEARCH, "space": {**SPACE, "model.hidden": {"choice": [[16, 8], [8]]}}, "trials": 12, "seed": 3}
    result = trainlab.tune(search, out=tmp_path / "t")
    first = result.trials[:6]
    assert len({str(r["model.hidden"]) for r in first}) == 2  # both architectures in the first population
    tune = json.loads((result.dir / "tune.json").read_text())
    assert tune["engines"]["built"] >= 2 and tune["engines"]["reused"] >= 1
    at_rung = {r["trial"]: rundir.read_csv(result.dir / "runs" / f"trial-{r['trial']:03d}" / "history.csv")[0]
               ["val_loss"] for r in first}
    kept = sorted(at_rung, key=at_rung.get)[:2]
    assert {r["trial"] for r in first if r["pruned_at_epoch"] != 1} == set(kept)
    for r in first:
        assert r["status"] in ("completed", "pruned") and r["epochs_run"] == (r["pruned_at_epoch"] or 4)
