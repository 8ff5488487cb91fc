"""one_cycle's momentum cycle against closed forms: PyTorch's ``OneCycleLR(cycle_momentum=True)`` and fastai's
``combined_cos`` halves; the inverse of the rate; through ``Scaled`` and ``unit: epoch``; its errors."""

from __future__ import annotations

import math

import keras
import numpy as np
import pytest

from trainlab import schedules
from trainlab.errors import TrainlabError

ONE_CYCLE = {"name": "one_cycle", "max_learning_rate": 0.1, "total_steps": 1000}
STEPS = np.arange(0, 1200)


def _torch_momentum(s, total=1000, pct=0.3, base=0.85, top=0.95):
    """PyTorch OneCycleLR's momentum (cos, two phases, cycle_momentum=True), from its source: max_momentum down
    to base_momentum at step pct * total - 1, back up at step total - 1; held past the end."""
    low, last = pct * total - 1, total - 1

    def anneal(a, b, frac):
        return b + (a - b) / 2.0 * (math.cos(math.pi * frac) + 1)

    if s <= low:
        return anneal(top, base, s / low)
    return anneal(base, top, min((s - low) / (last - low), 1.0))


def _fastai_sched_cos(start, end, pos):
    """fastai's ``sched_cos`` (fastai/callback/schedule.py), as written there."""
    return start + (1 + math.cos(math.pi * (1 - pos))) * (end - start) / 2


def _momentum(schedule, steps):
    return np.array([float(schedule.momentum(s)) for s in steps])


def test_momentum_matches_pytorch_one_cycle_lr():
    schedule = schedules.build(ONE_CYCLE)
    expected = np.vectorize(_torch_momentum)(STEPS)
    np.testing.assert_allclose(_momentum(schedule, STEPS), expected, rtol=1e-6, atol=1e-7)


def test_momentum_is_fastais_two_cosine_halves_with_its_own_three_values():
    moms, pct, total = (0.9, 0.8, 0.99), 0.25, 400
    schedule = schedules.OneCycle(0.1, total, pct_start=pct, moms=moms)
    low, last = pct * total - 1, total - 1
    for s in range(0, total, 7):
        if s <= low:  # fastai: combined_cos(pct, *moms) = SchedCos(moms[0], moms[1]), then SchedCos(moms[1], moms[2])
            expected = _fastai_sched_cos(moms[0], moms[1], s / low)
        else:
            expected = _fastai_sched_cos(moms[1], moms[2], (s - low) / (last - low))
        assert float(schedule.momentum(s)) == pytest.approx(expected, rel=1e-6), s


def test_momentum_is_the_inverse_of_the_rate():
    schedule = schedules.build(ONE_CYCLE)
    rates = schedules.evaluate(schedule, 1000)
    moms = _momentum(schedule, range(1000))
    start, peak, end = 0.1 / 25, 0.1, 0.1 / 25 / 1e4
    rise, fall = slice(0, 300), slice(299, 1000)
    np.testing.assert_allclose((0.95 - moms[rise]) / 0.1, (rates[rise] - start) / (peak - start), atol=1e-5)
    np.testing.assert_allclose((moms[fall] - 0.85) / 0.1, (peak - rates[fall]) / (peak - end), atol=1e-5)
    assert moms.argmin() == rates.argmax() == 299


def test_the_cycle_reaches_through_scaled_and_per_epoch():
    one_cycle = schedules.OneCycle(0.1, total_steps=20)
    assert schedules.momentum_schedule(schedules.Scaled(one_cycle, 0.5)) == one_cycle.momentum
    per_epoch = schedules.build({**ONE_CYCLE, "total_steps": 20, "unit": "epoch"}, steps_per_epoch=10)
    found = schedules.momentum_schedule(per_epoch)
    assert [float(found(s)) for s in (0, 9, 10, 55)] == pytest.approx(
        [float(one_cycle.momentum(e)) for e in (0, 0, 1, 5)])
    assert schedules.momentum_schedule(schedules.build({**ONE_CYCLE, "cycle_momentum": False})) is None
    assert schedules.momentum_schedule(keras.optimizers.schedules.CosineDecay(0.1, 100)) is None


def test_config_round_trip_keeps_the_momentum_settings():
    schedule = schedules.OneCycle(0.1, 100, cycle_momentum=False, moms=(0.9, 0.8, 0.9))
    again = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(schedule))
    assert again.cycle_momentum is False and again.moms == (0.9, 0.8, 0.9)


@pytest.mark.parametrize("key, value, message", [
    ("moms", [0.95, 0.85], "must list 3 momentums (start, at the peak rate, end), got [0.95, 0.85]"),
    ("moms", [0.95, 1.0, 0.95], "must hold numbers in [0, 1), got [0.95, 1.0, 0.95]"),
    ("moms", 0.9, "must list 3 momentums (start, at the peak rate, end), got 0.9"),
    ("cycle_momentum", "yes", "must be true or false, got 'yes'"),
])
def test_bad_momentum_settings(key, value, message):
    with pytest.raises(TrainlabError) as info:
        schedules.build({**ONE_CYCLE, key: value})
    assert str(info.value) == f"optimizer.learning_rate.{key}: {message}"
