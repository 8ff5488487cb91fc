"""Loss scaling and mixed precision: the engine against Keras ``fit`` (which scales the loss and wraps the optimizer)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import trainlab
from trainlab.training.engine import Engine, Member


def _data(n=96, d=6, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)).astype("float32")
    y = (x[:, :1] + 0.3 * rng.normal(size=(n, 1)) > 0).astype("float32")
    return x, y


def _model(seed, policy=None, output_scale=None):
    """A small MLP built under ``policy`` (the global policy put back afterwards), its output layer in float32;
    with ``output_scale``, the output kernel starts at that constant (tiny: the hidden layers' float16 gradients
    underflow to zero unless the loss is scaled)."""
    previous = keras.config.dtype_policy()
    if policy is not None:
        keras.config.set_dtype_policy(policy)
    try:
        keras.utils.set_random_seed(seed)
        return keras.Sequential([
            keras.Input((6,)), keras.layers.Dense(16, activation="relu"), keras.layers.Dense(8, activation="relu"),
            keras.layers.Dense(1, activation="sigmoid", dtype="float32", kernel_initializer=(
                "glorot_uniform" if output_scale is None else keras.initializers.Constant(output_scale))),
        ])
    finally:
        keras.config.set_dtype_policy(previous)


def _keras_fit(model, optimizer, x, y, batch):
    model.compile(optimizer=optimizer, loss="binary_crossentropy")
    model.fit(x, y, batch_size=batch, epochs=1, shuffle=False, verbose=0)
    return model.get_weights()


# ------------------------------------------------------------------------------------ regressions
def test_a_static_loss_scale_factor_leaves_the_updates_as_they_were():
    """``optimizer.loss_scale_factor``: Keras' ``apply`` divides the gradients by it, so the step must scale the
    loss by it first (``optimizer.scale_loss``), as ``fit`` does; the records are of the unscaled loss and
    gradient. (Before the fix the engine never scaled the loss: SGD's updates shrank 1024-fold.)"""
    x, y = _data()
    plain = Member(_model(3), keras.optimizers.SGD(0.1), keras.losses.BinaryCrossentropy())
    scaled = Member(_model(3), keras.optimizers.SGD(0.1, loss_scale_factor=1024.0), keras.losses.BinaryCrossentropy())
    order = np.arange(96, dtype="int32")
    ours = Engine([scaled], batch_size=16).train_epoch(tf.constant(x), tf.constant(y), order)
    reference = Engine([plain], batch_size=16).train_epoch(tf.constant(x), tf.constant(y), order)
    np.testing.assert_allclose(ours.loss, reference.loss, rtol=1e-6)
    np.testing.assert_allclose(ours.grad_norm, reference.grad_norm, rtol=1e-6)
    for a, b in zip(scaled.model.get_weights(), plain.model.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    fitted = _keras_fit(_model(3), keras.optimizers.SGD(0.1, loss_scale_factor=1024.0), x, y, 16)
    for a, b in zip(scaled.model.get_weights(), fitted):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_a_users_mixed_float16_model_gets_the_loss_scale_optimizer_compile_would_give_it(tmp_path):
    """A model built under ``mixed_float16`` trains with dynamic loss scaling (``keras.optimizers.LossScaleOptimizer``
    around the recipe's optimizer), as ``model.compile`` wraps it, and to the weights Keras ``fit`` gives."""
    model = _model(5, "mixed_float16", output_scale=1e-6)
    initial = model.get_weights()
    recipe = {"seed": 1, "data": {"source": "synthetic_classification", "n_samples": 192, "n_features": 6},
              "optimizer": {"name": "adam", "learning_rate": 0.01, "epsilon": 1e-12},
              "training": {"epochs": 1, "batch_size": 32, "shuffle": False, "verbose": 0, "tensorboard": False,
                           "train_eval_samples": 0}}
    run = trainlab.train(recipe, out=tmp_path / "run", model=model)
    assert isinstance(run.model.optimizer, keras.optimizers.LossScaleOptimizer)
    reference = _model(5, "mixed_float16", output_scale=1e-6)
    reference.set_weights(initial)
    # Adam with a tiny epsilon moves a weight by about the learning rate whatever its gradient's size, unless it is 0.
    fitted = _keras_fit(reference, keras.optimizers.Adam(0.01, epsilon=1e-12), run.data.x_train, run.data.y_train, 32)
    assert isinstance(reference.optimizer, keras.optimizers.LossScaleOptimizer)
    assert np.abs(fitted[0] - initial[0]).max() > 1e-3  # scaled, the first layer's gradients did not underflow
    for a, b in zip(run.model.get_weights(), fitted):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
