"""Tiny data shaped for each model, a check that a model trains in trainlab's engine, reference comparisons."""

import keras
import numpy as np
import tensorflow as tf

from trainlab.training.engine import Engine, Member


def images(n=32, shape=(6, 6, 2), seed=0):
    """``(x, y)``: random images and a binary label that depends on them."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, *shape)).astype("float32")
    return x, (x.mean(axis=(1, 2, 3)) > 0).astype("float32")


def tokens(n=32, steps=6, vocab=12, seed=0):
    """``(x, y)``: token ids ``(n, steps)`` in ``[0, vocab)`` and whether token 1 occurs."""
    rng = np.random.default_rng(seed)
    x = rng.integers(0, vocab, size=(n, steps)).astype("int32")
    return x, (x == 1).any(axis=1).astype("float32")


def sequences(n=32, steps=6, features=3, seed=0):
    """``(x, y)``: float sequences ``(n, steps, features)`` and the sign of their sum."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, steps, features)).astype("float32")
    return x, (x.sum(axis=(1, 2)) > 0).astype("float32")


def train_in_engine(model, x, y, batch_size=8):
    """One epoch in trainlab's engine; returns the per-layer records of it (``{layer: stats}``)."""
    member = Member(model, keras.optimizers.Adam(1e-2), keras.losses.BinaryCrossentropy())
    engine = Engine([member], batch_size)
    before = [w.copy() for w in model.get_weights()]
    steps = engine.train_epoch(tf.constant(x), tf.constant(y.reshape(-1, 1)))
    assert np.isfinite(steps.loss).all()
    assert any(not np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
    return engine.layer_stats(steps)[0]


def randomize(model, seed=0):
    """Random weights (batch-norm variances positive), so that a comparison with a reference means something."""
    rng = np.random.default_rng(seed)
    model.set_weights([np.abs(w) + 0.5 if "variance" in v.path else rng.normal(scale=0.5, size=w.shape)
                       for v, w in zip(model.weights, model.get_weights())])


def same_outputs(model, reference, x):
    """``reference`` given ``model``'s weights gives ``model``'s outputs (inference mode)."""
    reference.set_weights(model.get_weights())
    np.testing.assert_allclose(model.predict(x, verbose=0), reference.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
