"""Schedules counted in epochs (``unit: epoch``)."""

import keras
import numpy as np
import pytest

import trainlab
from trainlab import schedules
from trainlab.errors import TrainlabError
from trainlab import rundir


def test_per_epoch_is_constant_within_an_epoch_and_round_trips():
    lr = schedules.build(
        {"name": "exponential", "initial_learning_rate": 1e-3, "decay_steps": 1, "decay_rate": 0.9, "unit": "epoch"},
        steps_per_epoch=10,
    )
    values = schedules.evaluate(lr, 35)
    np.testing.assert_allclose(values, [1e-3 * 0.9 ** (s // 10) for s in range(35)], rtol=1e-6)
    again = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(lr))
    np.testing.assert_allclose(schedules.evaluate(again, 35), values, rtol=1e-6)


def test_unknown_unit_is_an_error():
    with pytest.raises(TrainlabError, match=r"optimizer.learning_rate.unit: must be one of step, epoch, got 'day'"):
        schedules.build({"name": "cosine", "initial_learning_rate": 0.1, "decay_steps": 5, "unit": "day"})


def test_a_run_applies_the_epoch_schedule_at_epoch_boundaries(tmp_path, tiny_recipe):
    recipe = dict(tiny_recipe, optimizer={"name": "adam", "learning_rate": {
        "name": "exponential", "initial_learning_rate": 0.01, "decay_steps": 1, "decay_rate": 0.5, "unit": "epoch"}})
    run = trainlab.train(recipe, out=tmp_path / "run")
    steps = rundir.read_csv(run.dir / "steps.csv")
    assert all(s["lr"] == pytest.approx(0.01 * 0.5 ** (s["epoch"] - 1), rel=1e-6) for s in steps)
