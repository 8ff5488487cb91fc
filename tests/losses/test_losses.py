"""Losses against the tutorial's numbers (section 1) and Keras, traits, round trips and errors."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from trainlab import losses
from trainlab.errors import TrainlabError

# Tutorial section 1.
Y_BINARY = np.array([0, 1, 1, 0, 1], dtype=np.float32)
P_BINARY = np.array([0.1, 0.9, 0.8, 0.2, 0.7], dtype=np.float32)
LOGITS_BINARY = np.array([-2.2, 2.2, 1.4, -1.4, 0.8], dtype=np.float32)
LABELS = np.array([0, 1, 2, 1, 0])
LOGITS = np.array(
    [[2.0, 0.5, 0.1], [0.1, 2.5, 0.2], [0.2, 0.3, 2.1], [0.8, 1.9, 0.4], [1.8, 0.6, 0.3]], dtype=np.float32
)
ONE_HOT = np.eye(3, dtype=np.float32)[LABELS]
Y_REAL = np.array([1, 2, 3, 4, 5], dtype=np.float32)
P_REAL = np.array([1.1, 1.9, 3.2, 3.8, 5.1], dtype=np.float32)
PER_SAMPLE_CE = [0.31678, 0.17477, 0.27374, 0.44212, 0.42155]


def test_binary_crossentropy_on_probabilities_and_logits():
    assert float(losses.build("bce")(Y_BINARY, P_BINARY)) == pytest.approx(0.20274, abs=1e-5)
    from_logits = losses.build({"name": "binary_crossentropy", "from_logits": True})
    assert float(from_logits(Y_BINARY, LOGITS_BINARY)) == pytest.approx(0.20442, abs=1e-5)


def test_sparse_and_one_hot_crossentropy_per_sample():
    sparse = losses.build({"name": "scce", "from_logits": True})
    dense = losses.build({"name": "cce", "from_logits": True})
    np.testing.assert_allclose(sparse.call(LABELS, LOGITS), PER_SAMPLE_CE, atol=1e-5)
    np.testing.assert_allclose(dense.call(ONE_HOT, LOGITS), PER_SAMPLE_CE, atol=1e-5)
    assert float(sparse(LABELS, LOGITS)) == pytest.approx(np.mean(PER_SAMPLE_CE), abs=1e-5)


@pytest.mark.parametrize(
    "name, expected",
    [("mse", 0.022), ("mean_squared_error", 0.022), ("mae", 0.14), ("huber", 0.011), ("msle", 0.0015700)],
)
def test_regression_losses(name, expected):
    assert float(losses.build(name)(Y_REAL, P_REAL)) == pytest.approx(expected, abs=1e-6)


def test_msle_to_tutorial_precision():
    assert float(losses.build("mean_squared_logarithmic_error")(Y_REAL, P_REAL)) == pytest.approx(0.0015700, abs=5e-8)


def test_focal_matches_keras_and_the_tutorial_value():
    keras_focal = keras.losses.BinaryFocalCrossentropy(apply_class_balancing=True, alpha=0.25, gamma=2.0)
    ours = float(losses.build("focal")(Y_BINARY, P_BINARY))
    assert ours == pytest.approx(0.0036009, abs=1e-7)
    assert ours == pytest.approx(float(keras_focal(Y_BINARY, P_BINARY)), rel=1e-6)
    assert float(losses.focal_loss(Y_BINARY, P_BINARY)) == pytest.approx(0.0036009, abs=1e-7)


def _tutorial_focal(y_true, y_pred, alpha=0.25, gamma=2.0):
    """The tutorial's formulation: the cross-entropy is averaged over the batch first."""
    cross_entropy = keras.losses.binary_crossentropy(y_true, y_pred)  # already a batch mean
    p_true = y_true * y_pred + (1 - y_true) * (1 - y_pred)
    alpha_true = y_true * alpha + (1 - y_true) * (1 - alpha)
    return np.mean(alpha_true * (1 - p_true) ** gamma * float(cross_entropy))


def test_tutorial_focal_bug_is_reproduced_and_not_ours():
    buggy = _tutorial_focal(Y_BINARY, P_BINARY)
    assert buggy == pytest.approx(0.0029397, abs=1e-7)
    assert float(losses.focal_loss(Y_BINARY, P_BINARY)) != pytest.approx(buggy, abs=1e-5)
    assert float(losses.build("focal")(Y_BINARY, P_BINARY)) != pytest.approx(buggy, abs=1e-5)


@pytest.mark.parametrize("alpha, gamma", [(0.25, 2.0), (0.5, 0.0), (0.9, 3.5)])
def test_focal_pure_function_equals_keras(alpha, gamma):
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, size=(8, 4)).astype(np.float32)
    logits = rng.normal(size=(8, 4)).astype(np.float32) * 3
    expected = keras.losses.binary_focal_crossentropy(
        y, logits, apply_class_balancing=True, alpha=alpha, gamma=gamma, from_logits=True
    )
    got = losses.focal_loss(y, logits, alpha=alpha, gamma=gamma, from_logits=True)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-7)


def test_focal_from_logits_equals_focal_on_sigmoid():
    probabilities = 1 / (1 + np.exp(-LOGITS_BINARY))
    on_logits = losses.build({"name": "binary_focal", "from_logits": True})(Y_BINARY, LOGITS_BINARY)
    on_probabilities = losses.build("focal")(Y_BINARY, probabilities)
    assert float(on_logits) == pytest.approx(float(on_probabilities), rel=1e-5)
    pure = losses.focal_loss(Y_BINARY, LOGITS_BINARY, from_logits=True)
    assert float(pure) == pytest.approx(float(on_probabilities), rel=1e-5)


@pytest.mark.parametrize("from_logits", [True, False])
@pytest.mark.parametrize("alpha", [0.25, [0.2, 0.3, 0.5]])
@pytest.mark.parametrize("label_shape", [(5,), (5, 1)])
def test_sparse_focal_equals_categorical_focal_on_one_hot(from_logits, alpha, label_shape):
    y_pred = LOGITS if from_logits else tf.nn.softmax(LOGITS).numpy()
    sparse = losses.build({"name": "sparse_categorical_focal", "alpha": alpha, "from_logits": from_logits})
    dense = losses.build({"name": "categorical_focal", "alpha": alpha, "from_logits": from_logits})
    np.testing.assert_allclose(
        sparse.call(LABELS.reshape(label_shape), y_pred), dense.call(ONE_HOT, y_pred), rtol=1e-6
    )
    assert float(sparse(LABELS.reshape(label_shape), y_pred)) == pytest.approx(float(dense(ONE_HOT, y_pred)), rel=1e-6)


def test_sparse_focal_works_in_a_compiled_function():
    loss = losses.build({"name": "sparse_focal", "from_logits": True})
    compiled = tf.function(loss)
    assert float(compiled(tf.constant(LABELS), tf.constant(LOGITS))) == pytest.approx(float(loss(LABELS, LOGITS)))


def test_focal_with_gamma_zero_is_weighted_crossentropy():
    loss = losses.sparse_categorical_focal_loss(LABELS, LOGITS, alpha=1.0, gamma=0.0, from_logits=True)
    np.testing.assert_allclose(loss, PER_SAMPLE_CE, atol=1e-5)


# Data each loss can be evaluated on, for the round trips.
DATA = {
    "binary": (Y_BINARY, P_BINARY),
    "onehot": (ONE_HOT, tf.nn.softmax(LOGITS).numpy()),
    "sparse": (LABELS, tf.nn.softmax(LOGITS).numpy()),
    "real": (Y_REAL, P_REAL),
}


@pytest.mark.parametrize("name", losses.registry.names())
def test_get_config_round_trip(name):
    loss = losses.build(name)
    y_true, y_pred = DATA[losses.traits(name).labels]
    expected = float(loss(y_true, y_pred))
    again = type(loss).from_config(loss.get_config())
    assert again.get_config() == loss.get_config()
    assert float(again(y_true, y_pred)) == pytest.approx(expected, rel=1e-6)
    revived = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(loss))
    assert type(revived) is type(loss)
    assert float(revived(y_true, y_pred)) == pytest.approx(expected, rel=1e-6)


def test_sparse_focal_round_trip_keeps_arguments():
    loss = losses.build({"name": "sparse_categorical_focal", "alpha": [0.1, 0.2, 0.7], "gamma": 3.0,
                         "from_logits": True})
    revived = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(loss))
    assert (revived.alpha, revived.gamma, revived.from_logits) == ([0.1, 0.2, 0.7], 3.0, True)
    assert keras.saving.serialize_keras_object(loss)["registered_name"] == "trainlab>SparseCategoricalFocalCrossentropy"


EXPECTED_TRAITS = {
    "binary_crossentropy": ("binary", "binary"),
    "bce": ("binary", "binary"),
    "categorical_crossentropy": ("multiclass", "onehot"),
    "cce": ("multiclass", "onehot"),
    "sparse_categorical_crossentropy": ("multiclass", "sparse"),
    "scce": ("multiclass", "sparse"),
    "sparse_cce": ("multiclass", "sparse"),
    "mse": ("regression", "real"),
    "mean_squared_error": ("regression", "real"),
    "mae": ("regression", "real"),
    "mean_absolute_error": ("regression", "real"),
    "huber": ("regression", "real"),
    "msle": ("regression", "real"),
    "mean_squared_logarithmic_error": ("regression", "real"),
    "focal": ("binary", "binary"),
    "binary_focal": ("binary", "binary"),
    "categorical_focal": ("multiclass", "onehot"),
    "sparse_categorical_focal": ("multiclass", "sparse"),
}


def test_every_registered_name_has_expected_traits():
    assert set(losses.registry.names()) <= set(EXPECTED_TRAITS)


@pytest.mark.parametrize("name", sorted(EXPECTED_TRAITS))
def test_traits_by_name_and_by_instance(name):
    task, labels = EXPECTED_TRAITS[name]
    assert losses.traits(name) == losses.LossTraits(task, labels, from_logits=False)
    assert losses.traits(losses.build(name)) == losses.LossTraits(task, labels, from_logits=False)


@pytest.mark.parametrize(
    "spec, activation",
    [("bce", "sigmoid"), ("cce", "softmax"), ("sparse_categorical_focal", "softmax"), ("huber", "linear"),
     ({"name": "bce", "from_logits": True}, "linear"), ({"name": "scce", "from_logits": True}, "linear")],
)
def test_traits_choose_the_output_activation(spec, activation):
    assert losses.traits(spec).output_activation == activation
    assert losses.traits(losses.build(spec)).output_activation == activation


def test_traits_report_from_logits():
    assert losses.traits({"name": "focal", "from_logits": True}).from_logits is True
    assert losses.traits(keras.losses.CategoricalCrossentropy(from_logits=True)).from_logits is True
    assert losses.traits(keras.losses.LogCosh()) == losses.LossTraits("regression", "real", False)


def test_traits_name_the_loss_for_messages():
    assert losses.traits("bce").name == "binary_crossentropy"
    assert losses.traits(keras.losses.Huber()).name == "Huber"


def test_traits_are_frozen():
    with pytest.raises(AttributeError):
        losses.traits("bce").task = "regression"


def test_build_defaults_apply_only_where_accepted():
    assert losses.build("bce", from_logits=True).get_config()["from_logits"] is True
    assert losses.build({"name": "bce", "from_logits": False}, from_logits=True).get_config()["from_logits"] is False
    assert isinstance(losses.build("mse", from_logits=True), keras.losses.MeanSquaredError)


def test_instances_pass_through_build():
    loss = keras.losses.Huber(delta=2.0)
    assert losses.build(loss) is loss


ERRORS = [
    ("focall", "loss: unknown loss (did you mean 'focal'?); valid names: binary_crossentropy, "),
    ({"name": "focal", "gama": 2.0}, "loss.gama: unknown argument for loss 'focal' (did you mean 'gamma'?)"),
    ({"name": "focal", "gamma": -1.0}, "loss.gamma: must be >= 0, got -1.0"),
    ({"name": "focal", "alpha": 1.5}, "loss.alpha: must be in [0, 1], got 1.5"),
    ({"name": "categorical_focal", "alpha": [0.5, -0.1]}, "loss.alpha: must be in [0, 1], got [0.5, -0.1]"),
    ({"name": "huber", "delta": 0}, "loss.delta: must be > 0, got 0"),
    ({"name": "bce", "label_smoothing": 2}, "loss.label_smoothing: must be in [0.0, 1.0], got 2"),
    ({"name": "bce", "from_logits": "yes"}, "loss.from_logits: must be true or false, got 'yes'"),
    ({"name": "mse", "delta": 1.0}, "loss.delta: unknown argument for loss 'mse'; valid arguments: (none)"),
    ({"gamma": 2.0}, "loss: a loss mapping needs a 'name' key"),
]


@pytest.mark.parametrize("spec, message", ERRORS)
def test_error_messages(spec, message):
    with pytest.raises(TrainlabError) as info:
        losses.build(spec)
    assert str(info.value).startswith(message)


def test_unknown_name_lists_every_valid_name():
    with pytest.raises(TrainlabError) as info:
        losses.build("focall")
    assert all(name in str(info.value) for name in losses.registry.names())


def test_traits_errors():
    with pytest.raises(TrainlabError, match=r"^model\.loss\.gama: unknown argument"):
        losses.traits({"name": "focal", "gama": 2}, where="model.loss")
    with pytest.raises(TrainlabError, match=r"^loss: cannot tell what this loss expects.*got 'KLDivergence'"):
        losses.traits(keras.losses.KLDivergence())
