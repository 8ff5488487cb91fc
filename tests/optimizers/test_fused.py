"""Fused kernels compute what Keras' own update computes, step for step."""

import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

from trainlab.optimizers import _fused


def _problem(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(64, 5)).astype("float32")
    y = (x @ rng.normal(size=(5, 1))).astype("float32")
    return tf.constant(x), tf.constant(y)


def _train(make_optimizer, fused, steps=60):
    keras.utils.set_random_seed(3)
    model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(8, activation="tanh"), keras.layers.Dense(1)])
    opt = make_optimizer()
    opt.build(model.trainable_variables)
    x, y = _problem()

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(model(x) - y))
        grads = tape.gradient(loss, model.trainable_variables)
        if fused:
            _fused.apply(opt, grads, model.trainable_variables)
        else:
            opt.apply(grads, model.trainable_variables)
        return loss

    losses = [float(step()) for _ in range(steps)]
    return losses, model.get_weights(), int(opt.iterations.numpy())


@pytest.mark.parametrize(
    "make",
    [
        lambda: keras.optimizers.Adam(1e-2),
        lambda: keras.optimizers.Adam(keras.optimizers.schedules.ExponentialDecay(1e-2, 10, 0.5), clipnorm=0.1),
        lambda: keras.optimizers.Adam(3e-2, beta_1=0.5, beta_2=0.9, epsilon=1e-4, global_clipnorm=0.5),
        lambda: keras.optimizers.SGD(0.05),
        lambda: keras.optimizers.SGD(0.05, momentum=0.9),
        lambda: keras.optimizers.SGD(0.05, momentum=0.9, nesterov=True, clipvalue=0.01),
    ],
)
def test_fused_update_equals_keras_apply(make):
    assert _fused.fusable(make())
    # One step agrees to float32 rounding; over 60 steps the rounding differences of the
    # fused kernel (FMA, evaluation order) grow, as any two float32 implementations' do.
    for steps, rtol, atol in ((2, 1e-6, 1e-6), (60, 5e-4, 5e-5)):
        ref_losses, ref_weights, ref_iter = _train(make, fused=False, steps=steps)
        losses, weights, iterations = _train(make, fused=True, steps=steps)
        np.testing.assert_allclose(losses, ref_losses, rtol=rtol)
        for a, b in zip(weights, ref_weights):
            np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)
        assert iterations == ref_iter == steps


@pytest.mark.parametrize("inner", [lambda: keras.optimizers.Adam(1e-2), lambda: keras.optimizers.SGD(1e-8, momentum=0.9)])
def test_a_loss_scale_optimizer_around_a_fused_update_scales_as_keras_does(inner):
    """Overflows (skip, halve) and growth (double after dynamic_growth_steps) as Keras' LossScaleOptimizer.apply."""
    def make():
        # A loss in the millions, scaled by 2^115: its gradients overflow float32; the first steps are skipped, the
        # scale halves until they fit, and grows (after 3 good steps) back into an overflow, again and again.
        return keras.optimizers.LossScaleOptimizer(inner(), initial_scale=2.0**115, dynamic_growth_steps=3)

    assert _fused.fusable(make())

    def scaled_train(fused):
        keras.utils.set_random_seed(3)
        model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(8, activation="tanh"), keras.layers.Dense(1)])
        opt = make()
        opt.build(model.trainable_variables)
        x, y = _problem()

        @tf.function
        def step():
            with tf.GradientTape() as tape:
                loss = opt.scale_loss(1e6 * tf.reduce_mean(tf.square(model(x) - y)))
            grads = tape.gradient(loss, model.trainable_variables)
            (_fused.apply if fused else type(opt).apply)(opt, grads, model.trainable_variables)
            return opt.dynamic_scale.value

        scales = [float(step()) for _ in range(40)]
        return scales, model.get_weights(), int(opt.iterations), int(opt.step_counter)

    ref_scales, ref_weights, ref_iterations, ref_counter = scaled_train(fused=False)
    scales, weights, iterations, counter = scaled_train(fused=True)
    assert scales == ref_scales and (iterations, counter) == (ref_iterations, ref_counter)
    assert set(np.sign(np.diff(scales)).tolist()) == {-1.0, 0.0, 1.0}  # it halved, it doubled, it held
    assert iterations < 40  # skipped steps are no updates
    for a, b in zip(weights, ref_weights):
        np.testing.assert_allclose(a, b, rtol=5e-4, atol=5e-5)


@pytest.mark.parametrize(
    "opt",
    [
        keras.optimizers.AdamW(1e-3),
        keras.optimizers.Adam(1e-3, amsgrad=True),
        keras.optimizers.Adam(1e-3, use_ema=True),
        keras.optimizers.RMSprop(1e-3),
        keras.optimizers.SGD(1e-3, gradient_accumulation_steps=2),
        keras.optimizers.SGD(1e-3, loss_scale_factor=128.0),
        keras.optimizers.LossScaleOptimizer(keras.optimizers.RMSprop(1e-3)),
    ],
)
def test_other_optimizers_take_keras_own_path(opt):
    assert not _fused.fusable(opt)


@pytest.mark.parametrize(("version", "tested"), [("3.10.0", True), ("3.15.1", True), ("3.9.2", False),
                                                 ("3.16.0", False), ("4.0.0", False), ("3.16.0.dev2027", False)])
def test_keras_versions_inside_the_tested_range(version, tested):
    assert _fused.keras_tested(version) is tested


def test_an_untested_keras_takes_keras_own_apply_with_one_warning(monkeypatch):
    """A Keras newer than the tested ones: no fused kernel touches its private state; the updates are Keras' own."""
    _fused._fused_kernels_allowed.cache_clear()
    monkeypatch.setattr(keras, "__version__", "3.99.0")
    make = lambda: keras.optimizers.Adam(1e-2)  # noqa: E731
    with pytest.warns(RuntimeWarning, match=r"keras 3\.99\.0 is outside the versions .* \(3\.10 to 3\.15\)"):
        assert not _fused.fusable(make())
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # once per version, not once per update
        assert not _fused.fusable(make())
        ref_losses, ref_weights, _ = _train(make, fused=False, steps=5)
        losses, weights, _ = _train(make, fused=True, steps=5)
    assert losses == ref_losses  # the same path: bit for bit
    for a, b in zip(weights, ref_weights):
        np.testing.assert_array_equal(a, b)
    _fused._fused_kernels_allowed.cache_clear()
