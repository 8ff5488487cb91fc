"""The tune directory's report.html and figures: drawn when a search ends, again by ``trainlab report``.

A tiny real search (8 trials fused, 4 epochs, one rung at epoch 2 that stops half of them, a
confirmation over 2 seeds) checks what the page and the figures must show; copies of its directory,
edited, stand for a search stopped with no completed trial and one stopped before any trial
finished. A synthetic tune directory (no training) checks the importances against a value that
depends on one key only.
"""

from __future__ import annotations

import csv
import json
import math
import re
import shutil
import warnings

import numpy as np
import pytest
import yaml
from PIL import Image

import trainlab
from trainlab import cli, rundir
from trainlab.tune.figures import curves_figure, parallel_figure, parameters_figure, progress_figure, tune_figures
from trainlab.tune.importance import param_importances
from trainlab.tune.records import read_tune
from trainlab.tune.report import refresh_tune_report, write_tune_report

BASE = {
    "data": {"source": "synthetic_classification", "n_samples": 160, "n_features": 8},
    "model": {"hidden": [16, 8]},
    "training": {"epochs": 4, "batch_size": 32, "tensorboard": False},
}
SPACE = {"optimizer.learning_rate": {"log_uniform": [1.0e-3, 1.0e-1]}, "model.dropout": {"uniform": [0.0, 0.4]},
         "optimizer.name": {"choice": ["sgd", "adam"]}}
# One rung at epoch 2 (2 * 2**1 is the last epoch): 4 of the 8 trials stop there, 4 complete.
SEARCH = {"name": "tiny", "base": BASE, "space": SPACE, "trials": 8, "population": 8, "metric": "val_loss",
          "sampler": "random", "pruner": {"name": "asha", "min_epochs": 2, "reduction_factor": 2},
          "confirm": {"top": 2, "seeds": 2}}
FIGURES = ["progress.png", "parameters.png", "parallel.png", "curves.png", "importance.png"]


@pytest.fixture(scope="module")
def search(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tune-report")
    (folder / "search.yaml").write_text(yaml.safe_dump(SEARCH, sort_keys=False), encoding="utf-8")
    assert cli.main(["tune", str(folder / "search.yaml"), "--out", str(folder / "out")]) == 0
    return folder / "out"


def _copy(search, tmp_path):
    """A copy of the search's directory without its page and figures, to edit."""
    copy = tmp_path / "copy"
    shutil.copytree(search, copy, ignore=shutil.ignore_patterns("report.html", "figures"))
    return copy


def test_the_search_writes_its_page_and_figures(search):
    tune = json.loads((search / "tune.json").read_text())
    rows = rundir.read_csv(search / "trials.csv")
    assert sorted(p.name for p in (search / "figures").iterdir()) == sorted(FIGURES)
    page = (search / "report.html").read_text(encoding="utf-8")
    assert f"Trial <b>{tune['best_trial']}</b> is the best" in page
    assert f"<pre>trainlab run {(search / 'best.yaml').resolve()}</pre>" in page
    for key in SPACE:
        assert f"<code>{key}</code>" in page  # the best trial's values and the importances name every key
        assert f"<th class=\"text\">{key}</th>" in page or f"<th>{key}</th>" in page  # a column of the trials table
    pruned = [r for r in rows if r["status"] == "pruned"]
    assert len(pruned) == 4 and page.count("pruned at epoch 2") == len(pruned)
    assert "completed" in page and '<span class="status ok">completed</span>' in page
    assert len(re.findall(r'<img src="data:image/png;base64,', page)) == len(FIGURES)
    assert "FanovaImportanceEvaluator" in page and "4 completed trials" in page
    # The confirmation: its ranking in words, its table, the link to its own page.
    assert '<a href="confirm/report.html">' in page and "is best on val_loss" in page
    for variant in tune["confirm"]["variants"]:
        assert f'<a href="runs/{variant}/">{variant}</a>' in page
    for name in FIGURES:
        assert Image.open(search / "figures" / name).size[0] >= 800


def test_pruned_trials_are_marked_where_they_stopped(search):
    tune = read_tune(search)
    pruned = tune.with_status("pruned")
    marks = next(line for line in curves_figure(tune).axes[0].get_lines() if line.get_label() == "pruned here")
    expected = sorted((r["pruned_at_epoch"], rundir.read_csv(tune.run_dir(r["trial"]) / "history.csv")[-1]["val_loss"])
                      for r in pruned)
    np.testing.assert_allclose(sorted(zip(marks.get_xdata(), marks.get_ydata())), expected)
    progress = progress_figure(tune).axes[0]
    triangles = next(c for c in progress.collections if c.get_label().startswith("pruned"))
    np.testing.assert_allclose(sorted(triangles.get_offsets()[:, 1]), sorted(r["value"] for r in pruned))


def test_a_log_dimension_has_a_log_axis_and_a_choice_its_values(search):
    tune = read_tune(search)
    panels = parameters_figure(tune).axes[: len(SPACE)]
    assert [ax.get_title().replace("\n", "") for ax in panels] == list(SPACE)
    assert [ax.get_xscale() for ax in panels] == ["log", "linear", "linear"]
    assert [t.get_text() for t in panels[2].get_xticklabels()] == ["sgd", "adam"]
    assert panels[0].get_xlim()[0] < 1e-3 and panels[0].get_xlim()[1] > 1e-1  # the space's whole range
    axes = parallel_figure(tune).axes[0].child_axes  # the space's keys, then the metric
    assert [ax.get_yscale() for ax in axes] == ["log", "linear", "linear", "linear"]
    assert axes[0].get_ylim() == pytest.approx((1e-3, 1e-1))
    low, high = axes[-1].get_ylim()
    assert low > high  # val_loss: lower is better, so it runs downwards (better on top)


def test_importances_share_the_variance_among_the_keys(search):
    importances = param_importances(read_tune(search))
    assert importances.n_trials == 4 and set(importances.values) == set(SPACE)
    assert sum(importances.values.values()) == pytest.approx(1.0)
    assert all(v >= 0 for v in importances.values.values())
    assert list(importances.values.values()) == sorted(importances.values.values(), reverse=True)


def test_the_page_opens_in_chromium_offline_without_errors(chromium, search):
    page = chromium(search / "report.html", height=3000)
    assert page.console == [] and page.requests == []
    assert "<h1>tiny: tune report" in page.dom and '<section id="importances">' in page.dom
    pixels = np.asarray(Image.open(page.screenshot).convert("RGB"), dtype=np.int32)
    colours = (pixels[..., 0] << 16) | (pixels[..., 1] << 8) | pixels[..., 2]
    assert len(np.unique(colours)) > 1000  # text, tables and figures, not a blank page
    green = (np.abs(pixels - np.array([44, 160, 44], dtype=np.int32)) < 30).all(axis=-1)  # best so far, the star
    assert green.sum() > 200  # the inline figures were decoded and drawn


def test_trainlab_report_draws_a_tune_directory_again(search, tmp_path, capsys):
    copy = _copy(search, tmp_path)
    assert cli.main(["report", str(copy)]) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1] == str(copy / "report.html")
    assert sorted(p.name for p in (copy / "figures").iterdir()) == sorted(FIGURES)
    page = (copy / "report.html").read_text(encoding="utf-8")
    assert f"<pre>trainlab run {(copy / 'best.yaml').resolve()}</pre>" in page


def test_a_search_with_no_completed_trial(search, tmp_path):
    copy = _copy(search, tmp_path)
    shutil.rmtree(copy / "confirm")
    (copy / "best.yaml").unlink()
    tune = json.loads((copy / "tune.json").read_text())
    tune.update(status="interrupted", best_trial=None, best_value=None)
    tune.pop("confirm")
    (copy / "tune.json").write_text(json.dumps(tune))
    rows = rundir.read_csv(copy / "trials.csv")
    for row in rows:  # as if the search stopped before any trial's last epoch: pruned or failed
        row["status"] = "failed" if row["trial"] == 0 else "pruned"
        row["value"] = "" if row["trial"] == 0 else row["value"]
    _write_rows(copy / "trials.csv", rows)
    paths = tune_figures(copy)
    assert [p.name for p in paths] == FIGURES[:4]  # no importances
    page = write_tune_report(copy).read_text(encoding="utf-8")
    assert "No trial completed (7 pruned, 1 failed), so there is no best.yaml" in page
    assert "trainlab run" not in page and "Trial <b>" not in page
    assert "Not computed: importances need at least 3 completed trials; this search has 0." in page
    assert '<span class="status bad">interrupted</span>' in page and 'id="confirmation"' not in page
    notes = [t.get_text() for t in progress_figure(read_tune(copy)).axes[0].texts]
    assert "no trial completed yet: no best value" in notes


def test_a_search_stopped_before_any_trial_finished(search, tmp_path):
    copy = _copy(search, tmp_path)
    shutil.rmtree(copy / "confirm")
    (copy / "best.yaml").unlink()
    (copy / "tune.json").write_text(json.dumps({**json.loads((copy / "tune.json").read_text()),
                                                "status": "interrupted", "best_trial": None}))
    _write_rows(copy / "trials.csv", [])
    assert [p.name for p in tune_figures(copy)] == ["curves.png"]  # the trials' curves so far
    page = write_tune_report(copy).read_text(encoding="utf-8")
    assert "No trial has finished yet: trials.csv has no row." in page
    assert "8 trials (trial-000, trial-001" in page and "no row in trials.csv" in page


def test_the_page_is_drawn_when_a_search_is_interrupted(tmp_path, monkeypatch):
    import trainlab.tune.run as run_module

    real, calls = run_module.train_population, []

    def interrupted(*args, **kwargs):  # Ctrl-C while the second population trains
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(run_module, "train_population", interrupted)
    search = {**SEARCH, "trials": 4, "population": 2, "pruner": "none", "confirm": None,
              "base": {**BASE, "training": {**BASE["training"], "epochs": 1}}}
    with pytest.raises(KeyboardInterrupt):
        trainlab.tune(search, out=tmp_path / "t")
    page = (tmp_path / "t" / "report.html").read_text(encoding="utf-8")
    assert '<span class="status bad">interrupted</span>' in page and "<b>trials run</b> 2 of 4" in page


def test_a_page_that_cannot_be_drawn_is_a_warning(search, tmp_path, monkeypatch):
    copy = _copy(search, tmp_path)

    def broken(tune, importances):
        raise RuntimeError("no fonts")

    monkeypatch.setattr("trainlab.tune.report.draw_figures", broken)
    with pytest.warns(UserWarning, match=r"report.html not written \(RuntimeError: no fonts\); draw it again with: "
                                         r"trainlab report"):
        assert refresh_tune_report(copy) is None
    assert not (copy / "report.html").exists() and (copy / "trials.csv").is_file()


def test_importances_find_the_one_key_the_value_depends_on(tmp_path):
    """fANOVA on a synthetic search whose value is a function of the learning rate alone."""
    rng = np.random.default_rng(0)
    space = {"optimizer.learning_rate": {"log_uniform": [1e-5, 1.0]}, "model.dropout": {"uniform": [0.0, 0.5]},
             "model.hidden": {"choice": [[32], [64, 32]]},
             "training.early_stopping.patience": {"int": [1, 64], "log": True}}
    (tmp_path / "tune.json").write_text(json.dumps({"name": "synthetic", "space": space, "metric": "val_loss",
                                                    "mode": "min", "status": "completed"}))
    rows = []
    for t in range(24):
        lr = float(10 ** rng.uniform(-5, 0))
        rows.append({"trial": t, "status": "completed", "value": (math.log10(lr) + 2.5) ** 2, "best_epoch": 4,
                     "epochs_run": 4, "optimizer.learning_rate": lr, "model.dropout": float(rng.uniform(0, 0.5)),
                     "model.hidden": [[32], [64, 32]][t % 2],
                     "training.early_stopping.patience": int(rng.integers(1, 65))})
    _write_rows(tmp_path / "trials.csv", rows, list(space))
    importances = param_importances(read_tune(tmp_path))
    assert importances.n_trials == 24 and sum(importances.values.values()) == pytest.approx(1.0)
    assert next(iter(importances.values)) == "optimizer.learning_rate"
    # fANOVA's forest over 24 points gives the other keys a little of the variance (0.76 to lr with this seed).
    assert importances.values["optimizer.learning_rate"] > 0.6
    tune = read_tune(tmp_path)
    panels = parameters_figure(tune).axes
    assert panels[3].get_xscale() == "log"  # an int range with log: true
    assert [t.get_text() for t in panels[2].get_xticklabels()] == ["[32]", "[64, 32]"]
    assert [ax.get_yscale() for ax in parallel_figure(tune).axes[0].child_axes] == ["log", "linear", "linear", "log",
                                                                                   "linear"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no run directories: the curves say so, nothing warns
        figure = curves_figure(tune)
    assert "no trial has written history.csv" in [t.get_text() for t in figure.axes[0].texts]


def _write_rows(path, rows, keys=None):
    keys = list(SPACE) if keys is None else keys
    columns = ["trial", "status", "value", "best_epoch", "epochs_run", "pruned_at_epoch", "wall_time_s", "error", *keys]
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
