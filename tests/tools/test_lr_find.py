"""``trainlab lr-find``: the range test's smoothing, its rule, its suggestion on tiny data (and that
training there works), that it leaves the model as it found it, its records and its errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml

from trainlab import cli
from trainlab.config import load_recipe
from trainlab.errors import TrainlabError
from trainlab.tools.lr_find import DIVERGE, ExponentialRamp, lr_find, range_test, smooth, summarize
from trainlab.training.trainer import Trainer


# ---------------------------------------------------------------------------- pure parts
def test_smoothing_is_a_bias_corrected_moving_average_that_skips_nan():
    got = smooth(np.array([1.0, 3.0, np.nan, 3.0]), beta=0.98)
    avg1 = 0.02 * 1.0
    avg2 = 0.98 * avg1 + 0.02 * 3.0
    avg3 = 0.98 * avg2 + 0.02 * 3.0
    np.testing.assert_allclose(got[[0, 1, 3]], [avg1 / 0.02, avg2 / (1 - 0.98**2), avg3 / (1 - 0.98**3)])
    assert np.isnan(got[2])
    np.testing.assert_allclose(smooth(np.full(50, 0.7)), 0.7)  # no pull towards 0 at the start


def test_the_ramp_goes_exponentially_from_start_to_end_and_holds():
    ramp = ExponentialRamp(1e-6, 1.0, 7)
    got = [float(ramp(step)) for step in (0, 1, 3, 6, 10)]
    np.testing.assert_allclose(got, [1e-6, 1e-5, 1e-3, 1.0, 1.0], rtol=1e-5)
    assert ExponentialRamp.from_config(ramp.get_config()).get_config() == ramp.get_config()


def _clean_curve():
    """A clean range-test curve: flat, falling from 1e-4, lowest near 1e-1, then blowing up."""
    lrs = np.logspace(-7, 1, 100)
    x = np.log10(lrs)
    losses = 1.0 - 0.8 / (1 + np.exp(-3 * (x + 3))) + np.where(x > -1, 20 * (x + 1) ** 2, 0.0)
    return summarize("curve", lrs, losses, 100, 1e-7, 10.0)


def test_summary_suggests_a_tenth_of_the_rate_at_the_smoothed_minimum_and_stops_at_divergence():
    result = _clean_curve()
    lrs = result.lrs
    best = int(np.nanargmin(result.smoothed))
    assert result.min_loss_lr == pytest.approx(lrs[best])
    assert result.suggestion == pytest.approx(float(f"{lrs[best] / 10:.2g}"))
    assert result.rule == "minimum / 10"
    assert 1e-5 < result.steepest_lr < result.min_loss_lr  # on the falling slope, before the minimum
    assert result.diverged and max(result.smoothed) > DIVERGE * np.nanmin(result.smoothed)
    assert not result.notes


def test_the_suggested_setting_is_the_rate_or_a_schedules_starting_rate():
    result = _clean_curve()
    value = f"{result.suggestion:g}"
    result.learning_rate = 0.001
    assert result.setting() == f"optimizer.learning_rate={value}"
    result.learning_rate = {"name": "exponential_decay", "initial_learning_rate": 1e-3, "decay_steps": 1,
                            "decay_rate": 0.9, "unit": "epoch"}
    assert result.setting() == f"optimizer.learning_rate.initial_learning_rate={value}"
    result.learning_rate = {"name": "one_cycle", "max_learning_rate": 0.1, "total_steps": 100}
    assert result.setting() == f"optimizer.learning_rate.max_learning_rate={value}"
    result.learning_rate = {"name": "piecewise", "boundaries": [10], "values": [0.1, 0.01]}
    assert result.setting() is None


def test_summary_notes_a_curve_that_was_still_falling():
    lrs = np.logspace(-7, -3, 50)
    result = summarize("falling", lrs, np.linspace(1.0, 0.2, 50), 50, 1e-7, 1e-3)
    assert not result.diverged
    assert result.min_loss_lr == pytest.approx(1e-3)
    assert any("still falling" in note for note in result.notes)


# ---------------------------------------------------------------------------- on tiny data
@pytest.fixture
def trainer(tiny_recipe):
    recipe, base_dir, name = load_recipe(tiny_recipe)
    return Trainer(recipe, name=name, base_dir=base_dir)


def test_range_test_suggests_a_sane_rate_and_leaves_model_and_optimizer_as_they_were(trainer, tiny_recipe):
    before = [v.numpy().copy() for v in trainer.model.variables]
    optimizer_before = [v.numpy().copy() for v in trainer.member.optimizer.variables]
    result = range_test(trainer, steps=60, start=1e-7, end=10.0)

    after = [v.numpy() for v in trainer.model.variables]
    assert all(np.array_equal(a, b) for a, b in zip(before, after))  # weights, dropout seed state
    assert all(np.array_equal(a, b) for a, b in zip(optimizer_before, trainer.member.optimizer.variables))
    np.testing.assert_allclose(result.lrs, 1e-7 * (1e8) ** (np.arange(len(result.lrs)) / 59), rtol=1e-4)
    assert 1e-4 <= result.suggestion <= 1.0, result.suggestion  # Adam on tiny synthetic data

    # Training at the suggestion works: the loss falls well below where it started.
    recipe, _, _ = load_recipe(tiny_recipe, {"optimizer.learning_rate": result.suggestion, "training.epochs": 6})
    history = _train(recipe)
    assert history[-1] < 0.75 * history[0], history


def _train(recipe) -> list[float]:
    """Per-epoch training loss of a short run, without writing a run directory."""
    trainer = Trainer(recipe, name="tiny")
    x, y = trainer.splits["train"]
    return [
        trainer.engine.train_logs(trainer.engine.train_epoch(x, y, seed=(recipe.seed, epoch)))[0]["loss"]
        for epoch in range(recipe.training.epochs)
    ]


def test_lr_find_refuses_a_folder_that_holds_files_before_training(tiny_recipe, tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(TrainlabError, match="already exists and is not empty"):
        lr_find(tiny_recipe, out=tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


# ---------------------------------------------------------------------------- the command
@pytest.fixture
def recipe_file(tmp_path, tiny_recipe, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(tiny_recipe, sort_keys=False))
    return path


def test_cli_lr_find_prints_the_suggestion_and_writes_the_default_folder(recipe_file, tmp_path, capsys):
    assert cli.main(["lr-find", str(recipe_file), "--steps", "20", "--start", "1e-4", "--end", "1"]) == 0
    printed = capsys.readouterr().out
    (folder,) = (tmp_path / "runs").iterdir()
    assert folder.name.startswith("lr-find-tiny-")
    assert {p.name for p in folder.iterdir()} == {"lr_find.png", "lr_find.json"}
    records = json.loads((folder / "lr_find.json").read_text())
    suggestion = records["suggestion"]
    assert records["rule"] == "minimum / 10" and records["steps"] == 20
    assert len(records["lrs"]) == len(records["losses"]) == len(records["smoothed"]) == records["steps_run"] <= 20
    assert records["lrs"][0] == pytest.approx(1e-4, rel=1e-5)
    assert f"suggested learning rate: {suggestion:g} (minimum / 10)" in printed
    assert f"  try: trainlab run {recipe_file} --set optimizer.learning_rate={suggestion:g}\n" in printed
    assert printed.rstrip().endswith(f"records: {folder.resolve()}")


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--start", "10", "--end", "1"], "--start: must be < the end of the range (1), got 10.0"),
        (["--start", "0"], "--start: must be a finite number > 0, got 0.0"),
        (["--end", "inf"], "--end: must be a finite number > 0, got inf"),
        (["--steps", "-5"], "--steps: must be an integer >= 10, got -5"),
        (["--steps", "1e2"], "--steps: must be an integer, got '1e2'"),
        (["--set", "optimizer.learning_rate=-1"], "optimizer.learning_rate: must be > 0, got -1"),
        (["--set", "training.batch_size=1000"], "training.batch_size: must be <= the training set size"),
    ],
)
def test_cli_mistakes_are_one_line_and_exit_2(args, expected, recipe_file, tmp_path, capsys):
    assert cli.main(["lr-find", str(recipe_file), *args]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert err.startswith(f"trainlab: error: {expected}")
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_a_recipe_mistake_is_reported_before_any_folder_is_made(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["lr-find", "missing.yaml"]) == 2
    assert capsys.readouterr().err.strip() == "trainlab: error: missing.yaml: file not found"
    assert not (tmp_path / "runs").exists()
