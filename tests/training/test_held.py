"""Hyper-parameters held in variables: a held dropout layer draws as Keras' own, bit for bit, and takes new rates
without a new trace; an engine restarted with another learning rate and dropout trains as a fresh run of them."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from trainlab.training.engine import held


def _model(rate, dtype="float32", seed=3):
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((6,))
    x = keras.layers.Dense(8, dtype=dtype)(inputs)
    x = keras.layers.Dropout(rate, dtype=dtype)(x)
    return keras.Model(inputs, keras.layers.Dense(1)(x))


X = np.random.default_rng(0).normal(size=(64, 6)).astype("float32")


@pytest.mark.parametrize("rate", [0.1, 0.3, 0.5, 0.77])
@pytest.mark.parametrize("dtype", ["float32", "mixed_float16"])
def test_a_held_dropout_layer_draws_as_keras_bit_for_bit(rate, dtype):
    plain, kept = _model(rate, dtype), _model(rate, dtype)
    held.Held(kept, keras.optimizers.Adam(0.01))
    a = tf.function(lambda: [plain(X, training=True) for _ in range(3)])()
    b = tf.function(lambda: [kept(X, training=True) for _ in range(3)])()
    for p, q in zip(a, b):
        assert np.array_equal(p.numpy(), q.numpy())
    np.testing.assert_array_equal(kept(X, training=False).numpy(), plain(X, training=False).numpy())


def test_another_rate_and_learning_rate_take_no_new_trace():
    model = _model(0.3)
    optimizer = keras.optimizers.SGD(0.1)
    state = held.Held(model, optimizer)
    traces = []

    @tf.function
    def step():
        traces.append(1)
        return model(X, training=True)

    step()
    other = _model(0.6, seed=4)
    state.assign(other, 0.5)
    assert model.layers[2].rate == 0.6 and model.layers[2].get_config()["rate"] == 0.6  # as a saved model shows it
    assert float(optimizer.learning_rate) == pytest.approx(0.5)
    for mine, theirs in zip(model.variables, other.variables):
        mine.assign(theirs)
    np.testing.assert_array_equal(step().numpy(), tf.function(lambda: other(X, training=True))().numpy())
    assert len(traces) == 1
    assert len(model.variables) == len(other.variables)  # the held variables are not the model's


def test_program_leaves_out_held_rates_only():
    assert held.program(_model(0.2)) == held.program(_model(0.45))
    assert held.program(_model(0.2)) != held.program(_model(0.0))  # a rate of 0 is another program
    assert held.program(_model(0.2, "mixed_float16")) != held.program(_model(0.2))
