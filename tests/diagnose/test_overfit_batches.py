"""The rule ``cannot_overfit``: a run with ``training.overfit_batches`` whose loss on those batches stays high.

On records (the thresholds, each side of them) and on real runs: a healthy model memorizes 2 batches; a
model whose hidden layers are frozen and 2 units wide cannot (its labels cannot be fitted through a fixed
random 2-d projection), and neither can an MLP at a learning rate of 1e-6.
"""

import copy

import keras
import numpy as np
import pytest

import trainlab
from trainlab.diagnose import RULES, diagnose
from trainlab.diagnose._overfit_batches import cannot_overfit
from trainlab.rundir import Records


def _records(val_loss, accuracy=None, overfit=2, loss0=0.7):
    history = []
    for epoch, value in enumerate(val_loss, start=1):
        row = {"epoch": epoch, "loss": loss0 if epoch == 1 else value, "val_loss": value, "lr": 1e-3}
        if accuracy is not None:
            row.update(accuracy=accuracy, val_accuracy=accuracy)
        history.append(row)
    summary = {"sanity": {"overfit_batches": overfit}} if overfit else {}
    return Records(history, summary=summary)


def test_stuck_far_from_zero_is_an_error():
    finding = cannot_overfit(_records([0.69] * 40, accuracy=0.55))
    assert finding.rule == "cannot_overfit" and finding.severity == "error"
    assert finding.evidence["level"] == pytest.approx(0.69 / 0.7) and finding.evidence["accuracy"] == 0.55
    assert "cannot memorize 2 batches" in finding.message and "frozen" in finding.advice


def test_near_zero_or_memorized_passes():
    assert cannot_overfit(_records(list(np.geomspace(0.6, 0.03, 40)))) is None  # 4% of the first loss
    assert cannot_overfit(_records([0.2] * 40, accuracy=1.0)) is None  # every sample right: memorized


def test_still_falling_is_an_info_to_train_longer():
    finding = cannot_overfit(_records(list(np.geomspace(0.6, 0.2, 30)), accuracy=0.9))
    assert finding.severity == "info" and finding.evidence["falling_per_epoch"] > 0.01
    assert "more epochs" in finding.advice


def test_only_for_overfit_runs_and_with_enough_epochs():
    assert cannot_overfit(_records([0.69] * 40, overfit=None)) is None
    assert cannot_overfit(_records([0.69] * 2)) is None  # a fast dev run's single epoch: nothing to judge


def _frozen(width):
    keras.utils.set_random_seed(0)
    return keras.Sequential([
        keras.Input((8,)),
        keras.layers.Dense(width, activation="relu", trainable=False),
        keras.layers.Dense(width, activation="relu", trainable=False),
        keras.layers.Dense(1, activation="sigmoid"),
    ])


@pytest.fixture
def overfit_recipe(tiny_recipe):
    recipe = copy.deepcopy(tiny_recipe)
    recipe["model"] = {"hidden": [32, 16], "dropout": 0.0}
    recipe["training"].update(epochs=60, overfit_batches=2, checkpoint=False, train_eval_samples=0)
    recipe["optimizer"] = {"name": "adam", "learning_rate": 0.01}
    return recipe


def test_a_healthy_model_memorizes_its_batches(overfit_recipe, tmp_path):
    run = trainlab.train(overfit_recipe, out=tmp_path / "run")
    assert run.history[-1]["val_accuracy"] == 1.0
    assert "cannot_overfit" not in [f["rule"] for f in run.summary["diagnosis"]]


@pytest.mark.parametrize("broken", ["frozen", "lr"])
def test_a_broken_run_cannot_memorize_and_is_named(overfit_recipe, tmp_path, broken):
    model = _frozen(2) if broken == "frozen" else None
    if broken == "lr":
        overfit_recipe["optimizer"]["learning_rate"] = 1e-6
    run = trainlab.train(overfit_recipe, model=model, out=tmp_path / "run")
    found = [f for f in diagnose(run.dir, {"cannot_overfit": RULES["cannot_overfit"]})]
    assert [f.severity for f in found] == ["error"], [f.message for f in found]
    assert found[0].evidence["level"] > 0.5 and found[0].evidence["falling_per_epoch"] < 0.01
