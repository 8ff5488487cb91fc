"""Schedules against their closed forms (tutorial section 3), round trips and errors."""

from __future__ import annotations

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from trainlab import schedules
from trainlab.errors import TrainlabError

STEPS = np.arange(0, 2001)

EXPONENTIAL = {"name": "exponential", "initial_learning_rate": 0.1, "decay_steps": 100, "decay_rate": 0.96,
               "staircase": True}
POLYNOMIAL = {"name": "polynomial", "initial_learning_rate": 0.1, "decay_steps": 1000, "end_learning_rate": 0.01,
              "power": 0.5}
PIECEWISE = {"name": "piecewise", "boundaries": [100, 200, 300], "values": [0.1, 0.05, 0.01, 0.005]}
COSINE = {"name": "cosine", "initial_learning_rate": 0.1, "decay_steps": 1000}
WARMUP_COSINE = {"name": "warmup_cosine", "initial_learning_rate": 1e-3, "warmup_steps": 100, "total_steps": 1000,
                 "min_learning_rate": 1e-4}
ONE_CYCLE = {"name": "one_cycle", "max_learning_rate": 0.1, "total_steps": 1000}
CONSTANT = {"name": "constant", "learning_rate": 0.05}


def _torch_one_cycle(s, peak=0.1, total=1000, pct=0.3, div=25.0, final_div=1e4):
    """PyTorch OneCycleLR (cos, two phases), written from its source, holding the end past the last step."""
    start, end = peak / div, peak / div / final_div
    peak_step, last = pct * total - 1, total - 1

    def anneal(a, b, frac):
        return b + (a - b) / 2.0 * (math.cos(math.pi * frac) + 1)

    if s <= peak_step:
        return anneal(start, peak, s / peak_step)
    return anneal(peak, end, min((s - peak_step) / (last - peak_step), 1.0))


CLOSED_FORMS = {
    "exponential": (EXPONENTIAL, lambda s: 0.1 * 0.96 ** np.floor(s / 100)),
    "polynomial": (POLYNOMIAL, lambda s: (0.1 - 0.01) * (1 - np.minimum(s, 1000) / 1000) ** 0.5 + 0.01),
    "piecewise": (PIECEWISE, lambda s: np.select([s <= 100, s <= 200, s <= 300], [0.1, 0.05, 0.01], 0.005)),
    "cosine": (COSINE, lambda s: 0.1 * 0.5 * (1 + np.cos(np.pi * np.minimum(s, 1000) / 1000))),
    "warmup_cosine": (
        WARMUP_COSINE,
        lambda s: np.where(
            s < 100,
            1e-3 * s / 100,
            1e-4 + 0.5 * (1e-3 - 1e-4) * (1 + np.cos(np.pi * np.clip((s - 100) / 900, 0, 1))),
        ),
    ),
    "one_cycle": (ONE_CYCLE, np.vectorize(_torch_one_cycle)),
    "constant": (CONSTANT, lambda s: np.full(s.shape, 0.05)),
}


@pytest.mark.parametrize("name", sorted(CLOSED_FORMS))
def test_schedule_matches_closed_form(name):
    spec, closed_form = CLOSED_FORMS[name]
    got = schedules.evaluate(schedules.build(spec), STEPS)
    np.testing.assert_allclose(got, closed_form(STEPS.astype(np.float64)), rtol=2e-5, atol=1e-8)  # float32 near zero


STEP_TYPES = {
    "python_int": int,
    "numpy_int64": np.int64,
    "numpy_int32": np.int32,
    "tensor_int64": lambda s: tf.constant(s, tf.int64),
    "tensor_int32": lambda s: tf.constant(s, tf.int32),
    "keras_variable": lambda s: keras.Variable(s, dtype="int64", trainable=False),
}


@pytest.mark.parametrize("step_type", sorted(STEP_TYPES))
@pytest.mark.parametrize("name", sorted(CLOSED_FORMS))
def test_schedule_accepts_int_numpy_and_tensor_steps(name, step_type):
    spec, closed_form = CLOSED_FORMS[name]
    schedule = schedules.build(spec)
    for step in (0, 1, 99, 100, 101, 650, 1000, 1500):
        got = float(schedule(STEP_TYPES[step_type](step)))
        assert got == pytest.approx(float(closed_form(np.float64(step))), rel=2e-5, abs=1e-8)


def test_warmup_cosine_graph_mode_matches_eager():
    schedule = schedules.build(WARMUP_COSINE)
    compiled = tf.function(schedule)
    for step in (0, 50, 100, 1000):
        assert float(compiled(tf.constant(step, tf.int64))) == pytest.approx(float(schedule(step)), rel=1e-6)


def test_warmup_cosine_without_warmup_starts_at_peak_and_stays_finite():
    spec = dict(WARMUP_COSINE, warmup_steps=0)
    got = schedules.evaluate(spec, STEPS)
    assert np.all(np.isfinite(got))
    assert got[0] == pytest.approx(1e-3)
    expected = 1e-4 + 0.5 * 9e-4 * (1 + np.cos(np.pi * np.clip(STEPS / 1000, 0, 1)))
    np.testing.assert_allclose(got, expected, rtol=2e-5)


def test_warmup_cosine_pure_function_takes_tensor_parameters():
    # Hyper-parameters in variables let a compiled step serve several runs.
    peak = keras.Variable(1e-3, trainable=False)
    fn = tf.function(lambda step: schedules.warmup_cosine(step, peak, 100, 1000, 1e-4))
    assert float(fn(tf.constant(100))) == pytest.approx(1e-3)
    peak.assign(2e-3)
    assert float(fn(tf.constant(100))) == pytest.approx(2e-3)
    assert fn.experimental_get_tracing_count() == 1


def test_one_cycle_start_peak_and_end():
    schedule = schedules.build(ONE_CYCLE)
    assert float(schedule(0)) == pytest.approx(0.1 / 25, rel=1e-6)
    assert float(schedule(299)) == pytest.approx(0.1, rel=1e-6)  # pct_start * total_steps - 1
    assert float(schedule(999)) == pytest.approx(0.1 / 25 / 1e4, rel=1e-4)
    assert float(schedule(5000)) == pytest.approx(0.1 / 25 / 1e4, rel=1e-4)
    rates = schedules.evaluate(schedule, 1000)
    assert np.all(np.diff(rates[:300]) > 0) and np.all(np.diff(rates[299:]) < 0)


@pytest.mark.parametrize("name", sorted(CLOSED_FORMS))
def test_get_config_round_trip(name):
    spec, _ = CLOSED_FORMS[name]
    schedule = schedules.build(spec)
    expected = schedules.evaluate(schedule, STEPS[::50])
    again = type(schedule).from_config(schedule.get_config())
    np.testing.assert_allclose(schedules.evaluate(again, STEPS[::50]), expected, rtol=1e-6)
    revived = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(schedule))
    assert type(revived) is type(schedule)
    np.testing.assert_allclose(schedules.evaluate(revived, STEPS[::50]), expected, rtol=1e-6)


def test_instances_pass_through_build():
    schedule = keras.optimizers.schedules.ExponentialDecay(0.1, 100, 0.9)
    assert schedules.build(schedule) is schedule


def test_evaluate_takes_a_spec_a_count_or_steps():
    assert schedules.evaluate(COSINE, 500).shape == (500,)
    np.testing.assert_allclose(schedules.evaluate(COSINE, [0, 1000]), [0.1, 0.0], atol=1e-9)
    assert schedules.evaluate(COSINE, []).shape == (0,)


# --- Scaled -----------------------------------------------------------------


def test_scaled_multiplies_the_schedule():
    inner = schedules.build(COSINE)
    scaled = schedules.Scaled(inner, scale=0.5)
    np.testing.assert_allclose(schedules.evaluate(scaled, STEPS), 0.5 * schedules.evaluate(inner, STEPS), rtol=1e-6)


def test_scaled_scale_changes_without_retracing():
    scaled = schedules.Scaled(schedules.build(EXPONENTIAL))
    fn = tf.function(lambda step: scaled(step))
    before = float(fn(tf.constant(250)))
    scaled.scale.assign(scaled.scale * 0.1)
    assert float(fn(tf.constant(250))) == pytest.approx(0.1 * before, rel=1e-6)
    assert fn.experimental_get_tracing_count() == 1
    assert not scaled.scale.trainable


def test_scaled_round_trip_keeps_inner_schedule_and_current_scale():
    scaled = schedules.Scaled(schedules.build(WARMUP_COSINE), scale=0.5)
    scaled.scale.assign(0.25)
    for revived in (
        schedules.Scaled.from_config(scaled.get_config()),
        keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(scaled)),
    ):
        assert isinstance(revived, schedules.Scaled)
        assert isinstance(revived.schedule, schedules.WarmupCosineDecay)
        assert float(revived.scale.numpy()) == 0.25
        assert revived.scale is not scaled.scale
        np.testing.assert_allclose(schedules.evaluate(revived, STEPS[::100]), schedules.evaluate(scaled, STEPS[::100]))


def test_scaled_of_scaled_does_not_nest():
    inner = schedules.build(COSINE)
    once = schedules.Scaled(inner, scale=0.5)
    twice = schedules.Scaled(once, scale=0.5)
    assert twice.schedule is inner
    assert float(twice.scale.numpy()) == 0.25
    assert schedules.as_scaled(once) is once
    assert schedules.as_scaled(inner).schedule is inner


def test_scaled_rejects_bad_arguments():
    with pytest.raises(TypeError, match="LearningRateSchedule"):
        schedules.Scaled(0.1)
    with pytest.raises(ValueError, match=r"scale: must be > 0, got 0"):
        schedules.Scaled(schedules.build(COSINE), scale=0)


# --- errors -----------------------------------------------------------------

ERRORS = [
    (dict(EXPONENTIAL, decay_steps=0), "optimizer.learning_rate.decay_steps: must be > 0, got 0"),
    (dict(EXPONENTIAL, initial_learning_rate=-0.1),
     "optimizer.learning_rate.initial_learning_rate: must be > 0, got -0.1"),
    (dict(EXPONENTIAL, staircase="yes"), "optimizer.learning_rate.staircase: must be true or false, got 'yes'"),
    ({k: v for k, v in EXPONENTIAL.items() if k != "decay_rate"},
     "optimizer.learning_rate.decay_rate: is required by schedule 'exponential'"),
    (dict(POLYNOMIAL, power=0), "optimizer.learning_rate.power: must be > 0, got 0"),
    (dict(PIECEWISE, values=[0.1, 0.05]),
     "optimizer.learning_rate.values: must hold len(boundaries) + 1 = 4 rates, got [0.1, 0.05]"),
    (dict(PIECEWISE, boundaries=[100, 300, 200]),
     "optimizer.learning_rate.boundaries: must be increasing, got [100, 300, 200]"),
    (dict(PIECEWISE, values=[0.1, 0.05, 0, 0.005]), "optimizer.learning_rate.values: must all be > 0"),
    (dict(COSINE, decay_steps=0), "optimizer.learning_rate.decay_steps: must be > 0, got 0"),
    (dict(COSINE, alpha=1.5), "optimizer.learning_rate.alpha: must be in [0.0, 1.0], got 1.5"),
    (dict(WARMUP_COSINE, total_steps=100),
     "optimizer.learning_rate.total_steps: must be > warmup_steps (100), got 100"),
    (dict(WARMUP_COSINE, warmup_steps=-1), "optimizer.learning_rate.warmup_steps: must be >= 0, got -1"),
    (dict(WARMUP_COSINE, min_learning_rate=1e-2),
     "optimizer.learning_rate.min_learning_rate: must be <= initial_learning_rate (0.001), got 0.01"),
    (dict(ONE_CYCLE, pct_start=1.0), "optimizer.learning_rate.pct_start: must be in (0, 1), got 1.0"),
    (dict(ONE_CYCLE, total_steps=2), "optimizer.learning_rate.pct_start: must leave the rise at least one step"),
    (dict(CONSTANT, learning_rate="1e-3"), "optimizer.learning_rate.learning_rate: must be a number, got '1e-3'"),
    ({"name": "cosin"},
     "optimizer.learning_rate.name: unknown schedule (did you mean 'cosine'?); valid names: constant,"),
    (dict(COSINE, decay_step=10), "optimizer.learning_rate.decay_step: unknown argument for schedule 'cosine' "
                                  "(did you mean 'decay_steps'?)"),
    (42, "optimizer.learning_rate: must be a schedule name or a mapping with 'name', got 42"),
]


@pytest.mark.parametrize("spec, message", ERRORS, ids=[m.split(":")[0] + f"-{i}" for i, (_, m) in enumerate(ERRORS)])
def test_error_messages(spec, message):
    with pytest.raises(TrainlabError) as info:
        schedules.build(spec)
    assert str(info.value).startswith(message)


def test_error_names_the_callers_key_path():
    with pytest.raises(TrainlabError, match=r"^training\.schedule\.decay_steps: must be > 0, got 0$"):
        schedules.build(dict(COSINE, decay_steps=0), where="training.schedule")


def test_direct_construction_raises_value_error():
    with pytest.raises(ValueError, match=r"^total_steps: must be > warmup_steps \(10\), got 5$"):
        schedules.WarmupCosineDecay(1e-3, warmup_steps=10, total_steps=5)
