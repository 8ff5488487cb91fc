"""``Member.augment``: training batches go through it, evaluation and probes never; its random state is checkpointed.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

import trainlab
from trainlab.config import load_recipe
from trainlab.training import checkpoint
from trainlab.training.engine import Engine, Member
from trainlab.training.sessions import fit_together
from trainlab.training.trainer import Trainer


def _augment():
    return keras.Sequential([keras.layers.RandomFlip(seed=1), keras.layers.GaussianNoise(0.1, seed=2)])


def _cnn(seed=4):
    keras.utils.set_random_seed(seed)
    return keras.Sequential([keras.Input((6, 6, 1)), keras.layers.Conv2D(3, 3, activation="relu"),
                             keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(1, activation="sigmoid")])


def _images(n=48, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 6, 6, 1)).astype("float32")
    y = (x[:, :, :3].mean(axis=(1, 2, 3)) > x[:, :, 3:].mean(axis=(1, 2, 3))).astype("float32").reshape(-1, 1)
    return x, y


def _member(model, augment=None):
    return Member(model, keras.optimizers.SGD(0.1), keras.losses.BinaryCrossentropy(), augment=augment)


def _seed_states(layer):
    return [v.numpy().copy() for v in layer.variables]


def test_training_batches_are_augmented_and_evaluation_and_probes_are_not():
    x, y = (tf.constant(a) for a in _images())
    augment = _augment()
    augment(x[:1], training=False)  # built; in inference mode, no random number is drawn
    start = _seed_states(augment)
    model, twin = _cnn(), _cnn()
    engine = Engine([_member(model, augment)], batch_size=len(x))  # one step: its batch is all of x
    engine.train_epoch(x, y)
    assert any((a != b).any() for a, b in zip(start, _seed_states(augment)))  # it drew

    # The step trained on exactly augment(x): the same layers, from the same seed states, applied by hand.
    again = _augment()
    again(x[:1], training=False)
    for v, s in zip(again.variables, start):
        v.assign(s)
    with tf.GradientTape() as tape:
        loss = keras.losses.BinaryCrossentropy()(y, twin(again(x, training=True), training=True))
    grads = tape.gradient(loss, twin.trainable_variables)
    keras.optimizers.SGD(0.1).apply(grads, twin.trainable_variables)
    for a, b in zip(model.get_weights(), twin.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
    unaugmented = _cnn()
    Engine([_member(unaugmented)], batch_size=len(x)).train_epoch(x, y)
    assert not np.allclose(unaugmented.get_weights()[0], model.get_weights()[0], rtol=1e-3)  # it made a difference

    # Evaluation, the activation probe and the gradient probe see the inputs as they are, and draw nothing.
    drawn = _seed_states(augment)
    twin.set_weights(model.get_weights())
    plain = Engine([_member(twin)], batch_size=len(x))
    assert engine.evaluate(x, y) == plain.evaluate(x, y)
    assert list(engine.activation_stats(x)[0].values()) == list(plain.activation_stats(x)[0].values())
    for a, b in zip(engine.gradients(x, y)[0].values(), plain.gradients(x, y)[0].values()):
        np.testing.assert_array_equal(a, b)
    assert all((a == b).all() for a, b in zip(drawn, _seed_states(augment)))


def test_the_augmentation_state_is_part_of_the_engine_state():
    x, y = (tf.constant(a) for a in _images(16))
    augment = _augment()
    augment(x[:1], training=False)
    engine = Engine([_member(_cnn(), augment)], batch_size=8)
    paths = [path for path, _, _ in engine.state_layout(0)]
    assert sum("seed_generator_state" in p for p in paths) == 2
    engine.snapshot()
    before = _seed_states(augment)
    engine.train_epoch(x, y)
    engine.restore(0)  # a rollback puts the random state back too: the stretch runs again identically
    assert all((a == b).all() for a, b in zip(before, _seed_states(augment)))


@pytest.fixture
def _deterministic():
    yield
    from tensorflow.python.framework import config  # TensorFlow exports no switch back

    config.disable_op_determinism()


def test_a_run_resumed_mid_epoch_augments_as_the_run_that_never_stopped(tmp_path, _deterministic):
    x, y = _images(60, seed=1)
    data = trainlab.data.from_arrays(x, y.ravel().astype("int64"), {"validation_split": 0.2}, seed=0)
    recipe = {
        "seed": 2, "deterministic": True, "metrics": ["accuracy"], "optimizer": {"name": "adam", "learning_rate": 0.01},
        "training": {"epochs": 3, "batch_size": 8, "verbose": 0, "tensorboard": False,
                     "checkpoint": {"every_steps": 4, "keep": 100}},
    }

    def trainer():
        validated, _, _ = load_recipe(recipe)
        return Trainer(validated, model=_cnn(), data=data, augment=_augment())

    finished = trainer().fit(tmp_path / "run")
    names = [p.name for p in checkpoint.files(finished.dir)]
    middle = next(n for n in names if n.startswith("checkpoint-00001-") and not n.endswith("-000000.ckpt"))
    for path in checkpoint.files(finished.dir):
        if path.name > middle:
            path.unlink()
    again = trainer()
    found, _ = checkpoint.newest_valid(finished.dir, check=again.usable)
    assert found.path.name == middle
    resumed = fit_together([again], [finished.dir], [None], resume=[checkpoint.Resume(finished.dir, found)])[0]
    for a, b in zip(finished.model.get_weights(), resumed.model.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert [r["loss"] for r in resumed.history] == [r["loss"] for r in finished.history]
