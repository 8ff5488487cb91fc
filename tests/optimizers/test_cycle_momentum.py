"""One-cycle's momentum inside compiled steps: each optimizer's updates equal Keras' own with the momentum set
to the closed form before every step, fused kernels and Keras' ``apply`` alike; and end to end, trainlab's
run equals Keras ``fit`` with a callback that sets the momentum before each batch."""

from __future__ import annotations

import copy
import json

import keras
import numpy as np
import pytest
import tensorflow as tf

import trainlab
from trainlab import optimizers, schedules
from trainlab.optimizers import ScheduledValue, cycle_momentum, fused_apply

T = 20
ONE_CYCLE = {"name": "one_cycle", "max_learning_rate": 0.1, "total_steps": T}


def _steps(optimizer, grads):
    """``grads`` applied through trainlab's update (fused where it can be) inside a tf.function; the variable."""
    variable = keras.Variable(np.ones(3, np.float32))
    optimizer.build([variable])

    @tf.function(autograph=False)
    def step(g):
        fused_apply(optimizer, [g], [variable])

    for g in grads:
        step(tf.constant(g))
    return variable.numpy()


def _keras_steps(cls, kwargs, attribute, values, grads):
    """Keras' own apply, eagerly, the momentum attribute set to ``values[s]`` before step ``s``."""
    optimizer = cls(learning_rate=schedules.OneCycle(0.1, T), **kwargs)
    variable = keras.Variable(np.ones(3, np.float32))
    optimizer.build([variable])
    for value, g in zip(values, grads):
        setattr(optimizer, attribute, value)
        optimizer.apply([tf.constant(g)], [variable])
    return variable.numpy()


CASES = [
    ("sgd", {"momentum": 0.9}, True),
    ("sgd", {"momentum": 0.9, "nesterov": True}, True),
    ("sgd", {"momentum": 0.9, "weight_decay": 0.01}, False),  # Keras' apply, not the fused kernel
    ("rmsprop", {"momentum": 0.5}, False),
    ("adam", {}, True),
    ("adamw", {}, False),
    ("adamax", {}, False),
    ("nadam", {}, False),
]


@pytest.mark.parametrize("name, kwargs, fused", CASES, ids=[f"{n}-{'-'.join(k) or 'plain'}" for n, k, _ in CASES])
def test_cycled_updates_equal_keras_with_the_momentum_set_each_step(name, kwargs, fused):
    grads = np.random.default_rng(0).normal(size=(T, 3)).astype("float32")
    optimizer = optimizers.build({"name": name, "learning_rate": ONE_CYCLE, **kwargs})
    attribute = "beta_1" if name != "sgd" and name != "rmsprop" else "momentum"
    assert isinstance(getattr(optimizer, attribute), ScheduledValue) and optimizers.fusable(optimizer) is fused
    values = [float(schedules.one_cycle_momentum(s, T)) for s in range(T)]
    mine = _steps(optimizer, grads)
    cls = type(optimizer)
    np.testing.assert_allclose(mine, _keras_steps(cls, kwargs, attribute, values, grads), rtol=1e-5, atol=2e-6)
    # The cycle matters: a fixed momentum ends elsewhere.
    fixed = _keras_steps(cls, kwargs, attribute, [getattr(cls(), attribute) or 0.9] * T, grads)
    assert not np.allclose(mine, fixed, rtol=1e-4)


def test_nothing_to_cycle_leaves_the_optimizer_as_built():
    plain_sgd = optimizers.build({"name": "sgd", "learning_rate": ONE_CYCLE})  # momentum 0: no momentum slots
    assert type(plain_sgd.momentum) is float and not cycle_momentum(plain_sgd)
    off = optimizers.build({"name": "adam", "learning_rate": {**ONE_CYCLE, "cycle_momentum": False}})
    cosine = optimizers.build({"name": "adam", "learning_rate": {"name": "cosine", "initial_learning_rate": 0.1,
                                                                  "decay_steps": 10}})
    lion = optimizers.build({"name": "lion", "learning_rate": ONE_CYCLE})  # not a momentum this knows
    assert all(type(o.beta_1) is float for o in (off, cosine, lion))


def test_a_cycled_optimizer_saves_its_own_number():
    optimizer = optimizers.build({"name": "adam", "learning_rate": ONE_CYCLE, "beta_1": 0.8})
    config = optimizer.get_config()
    assert config["beta_1"] == 0.8
    assert json.loads(json.dumps(keras.saving.serialize_keras_object(optimizer)))["config"]["beta_1"] == 0.8


def test_a_run_cycles_momentum_as_keras_fit_with_a_callback_setting_it(tiny_recipe, tmp_path):
    recipe = copy.deepcopy(tiny_recipe)
    recipe["training"].update(epochs=2, shuffle=False, train_eval_samples=0)
    recipe.update(loss="binary_crossentropy", metrics=["accuracy"],
                  optimizer={"name": "sgd", "momentum": 0.9, "learning_rate": {**ONE_CYCLE, "total_steps": 10}})
    keras.utils.set_random_seed(3)
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(6, activation="tanh"),
                              keras.layers.Dense(1, activation="sigmoid")])
    reference = keras.models.clone_model(model)
    reference.set_weights(model.get_weights())
    run = trainlab.train(recipe, model=model, out=tmp_path / "run")

    class SetMomentum(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            step = int(self.model.optimizer.iterations.numpy())
            self.model.optimizer.momentum = float(schedules.one_cycle_momentum(step, 10))

    reference.compile(optimizer=keras.optimizers.SGD(schedules.OneCycle(0.1, 10), momentum=0.9),
                      loss="binary_crossentropy", run_eagerly=True)  # eagerly: the attribute is read each step
    x, y = run.data.x_train, run.data.y_train.astype("float32")
    reference.fit(x, y, batch_size=32, epochs=2, shuffle=False, verbose=0, callbacks=[SetMomentum()])
    for mine, theirs in zip(run.model.get_weights(), reference.get_weights()):
        np.testing.assert_allclose(mine, theirs, rtol=1e-5, atol=1e-6)
