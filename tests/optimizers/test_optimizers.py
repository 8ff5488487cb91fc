"""Optimizers on the tutorial's parabola (section 2), clipping, schedules and errors."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from trainlab import optimizers, schedules
from trainlab.errors import TrainlabError

EXPONENTIAL = {"name": "exponential", "initial_learning_rate": 0.1, "decay_steps": 10, "decay_rate": 0.5}


def _minimize(optimizer, steps=50):
    """Minimize f(x) = sum((x - 2)^2) from x = [0, 0]; return the loss before each step, and x."""
    x = keras.Variable([0.0, 0.0])
    history = []
    for _ in range(steps):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum((x.value - 2.0) ** 2)
        history.append(float(loss))
        optimizer.apply_gradients([(tape.gradient(loss, x.value), x)])
    history.append(float(tf.reduce_sum((x.value - 2.0) ** 2)))
    return np.array(history), x.numpy()


@pytest.mark.parametrize(
    "spec",
    [{"name": "sgd"}, {"name": "sgd", "momentum": 0.9}, {"name": "momentum"}, {"name": "adam"}, {"name": "rmsprop"},
     {"name": "adagrad"}],
    ids=["sgd", "sgd_momentum", "momentum", "adam", "rmsprop", "adagrad"],
)
def test_tutorial_optimizers_decrease_the_loss(spec):
    history, _ = _minimize(optimizers.build({**spec, "learning_rate": 0.1}))
    assert history[0] == 8.0
    assert history[-1] < history[0] / 4


def test_sgd_follows_the_closed_form():
    x = keras.Variable([0.0, 0.0])
    optimizer = optimizers.build({"name": "sgd", "learning_rate": 0.1})
    for n in range(1, 51):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum((x.value - 2.0) ** 2)
        optimizer.apply_gradients([(tape.gradient(loss, x.value), x)])
        np.testing.assert_allclose(x.numpy(), 2 - 2 * (1 - 2 * 0.1) ** n, rtol=1e-5)


@pytest.mark.parametrize("name", optimizers.registry.names())
def test_every_optimizer_makes_progress_on_the_parabola(name):
    history, _ = _minimize(optimizers.build({"name": name, "learning_rate": 0.1}))
    assert np.all(np.isfinite(history))
    assert history[-1] < 0.995 * history[0]


def test_names_cover_keras_optimizers_but_not_wrappers():
    names = set(optimizers.registry.names())
    expected = {"sgd", "momentum", "adam", "adamw", "rmsprop", "adagrad", "nadam", "adadelta", "adamax", "ftrl",
                "lamb", "lion", "adafactor"}
    assert expected <= names
    assert not names & {"optimizer", "loss_scale_optimizer", "multi_optimizer"}


def test_momentum_defaults_to_0_9_and_can_be_overridden():
    assert optimizers.build("momentum").momentum == 0.9
    assert optimizers.build({"name": "momentum", "momentum": 0.5}).momentum == 0.5
    assert optimizers.build("sgd").momentum == 0.0
    assert optimizers.build({"name": "sgd", "nesterov": True}).nesterov is True


def test_optimizer_kwargs_reach_keras():
    adam = optimizers.build({"name": "adamw", "learning_rate": 1e-3, "beta_1": 0.8, "weight_decay": 0.01})
    assert isinstance(adam, keras.optimizers.AdamW)
    assert (adam.beta_1, adam.weight_decay) == (0.8, 0.01)
    assert float(adam.learning_rate) == pytest.approx(1e-3)


@pytest.mark.parametrize(
    "ours, keras_name",
    [("clip_norm", "clipnorm"), ("global_clip_norm", "global_clipnorm"), ("clip_value", "clipvalue")],
)
def test_clip_settings_map_to_keras(ours, keras_name):
    optimizer = optimizers.build({"name": "adam", ours: 0.5})
    assert getattr(optimizer, keras_name) == 0.5
    others = {"clipnorm", "global_clipnorm", "clipvalue"} - {keras_name}
    assert all(getattr(optimizer, other) is None for other in others)


def test_clip_value_limits_the_step():
    # The gradient at x = 0 is -4; clipped to -0.5 and scaled by lr 1, x moves to 0.5.
    _, x = _minimize(optimizers.build({"name": "sgd", "learning_rate": 1.0, "clip_value": 0.5}), steps=1)
    np.testing.assert_allclose(x, [0.5, 0.5])


def test_a_number_stays_a_number():
    optimizer = optimizers.build({"name": "adam", "learning_rate": 1})
    assert optimizers.learning_rate_scale(optimizer) is None
    optimizer.learning_rate = 0.5  # what ReduceLROnPlateau does
    assert float(optimizer.learning_rate) == 0.5


def test_schedule_is_wrapped_and_followed_over_steps():
    optimizer = optimizers.build({"name": "sgd", "learning_rate": EXPONENTIAL})
    scale = optimizers.learning_rate_scale(optimizer)
    assert scale is not None
    x = keras.Variable([0.0])
    for step in range(25):
        assert float(optimizer.learning_rate) == pytest.approx(0.1 * 0.5 ** (step / 10), rel=1e-5)
        optimizer.apply_gradients([(tf.constant([1.0]), x)])
    scale.assign(0.5)  # what a plateau rule does
    assert float(optimizer.learning_rate) == pytest.approx(0.5 * 0.1 * 0.5 ** 2.5, rel=1e-5)


def test_schedule_instances_are_wrapped_and_scaled_ones_reused():
    decay = keras.optimizers.schedules.CosineDecay(0.1, 100)
    wrapped = optimizers.build({"name": "adam", "learning_rate": decay})
    assert isinstance(wrapped._learning_rate, schedules.Scaled) and wrapped._learning_rate.schedule is decay
    scaled = schedules.Scaled(decay)
    assert optimizers.build({"name": "adam", "learning_rate": scaled})._learning_rate is scaled


def test_optimizer_with_scaled_schedule_round_trips():
    optimizer = optimizers.build({"name": "adam", "learning_rate": EXPONENTIAL})
    optimizers.learning_rate_scale(optimizer).assign(0.25)
    revived = keras.optimizers.deserialize(keras.optimizers.serialize(optimizer))
    assert isinstance(revived._learning_rate, schedules.Scaled)
    assert float(revived._learning_rate.scale.numpy()) == 0.25
    assert float(revived.learning_rate) == pytest.approx(0.25 * 0.1)


def test_instances_pass_through_build():
    optimizer = keras.optimizers.SGD()
    assert optimizers.build(optimizer) is optimizer


ERRORS = [
    ({"name": "sgd", "momentun": 0.9},
     "optimizer.momentun: unknown argument for optimizer 'sgd' (did you mean 'momentum'?)"),
    ({"name": "adam", "clipnorm": 1.0},
     "optimizer.clipnorm: unknown argument for optimizer 'adam' (did you mean 'clip_norm'?)"),
    ("adamm", "optimizer: unknown optimizer (did you mean 'adam'?); valid names: adadelta, "),
    ({"name": "sgd", "learning_rate": -0.1}, "optimizer.learning_rate: must be > 0, got -0.1"),
    ({"name": "sgd", "learning_rate": 0}, "optimizer.learning_rate: must be > 0, got 0"),
    ({"name": "sgd", "learning_rate": "1e-3"},
     "optimizer.learning_rate: must be a number > 0 or a schedule mapping with 'name', got '1e-3'"),
    ({"name": "sgd", "learning_rate": dict(EXPONENTIAL, decay_steps=0)},
     "optimizer.learning_rate.decay_steps: must be > 0, got 0"),
    ({"name": "sgd", "learning_rate": {"name": "cosin"}},
     "optimizer.learning_rate.name: unknown schedule (did you mean 'cosine'?)"),
    ({"name": "adam", "clip_norm": 1.0, "global_clip_norm": 1.0},
     "optimizer.global_clip_norm: cannot be combined with clip_norm"),
    ({"name": "adam", "clip_norm": 1.0, "clip_value": 1.0}, "optimizer.clip_value: cannot be combined with clip_norm"),
    ({"name": "adam", "global_clip_norm": 0}, "optimizer.global_clip_norm: must be > 0, got 0"),
    ({"name": "adam", "clip_value": -1}, "optimizer.clip_value: must be > 0, got -1"),
    ({"name": "sgd", "momentum": 2.0}, "optimizer.momentum: must be in [0.0, 1.0], got 2.0"),
    ({"name": "adam", "beta_1": "0.9"}, "optimizer.beta_1: must be a number, got '0.9'"),
    ({"name": "adam", "amsgrad": "no"}, "optimizer.amsgrad: must be true or false, got 'no'"),
]


@pytest.mark.parametrize("spec, message", ERRORS)
def test_error_messages(spec, message):
    with pytest.raises(TrainlabError) as info:
        optimizers.build(spec)
    assert str(info.value).startswith(message)


def test_error_names_the_callers_key_path():
    with pytest.raises(TrainlabError, match=r"^study\.optimizer\.learning_rate: must be > 0, got -1$"):
        optimizers.build({"name": "adam", "learning_rate": -1}, where="study.optimizer")
