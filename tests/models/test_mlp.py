"""The MLP under the builder interface: today's layers and names, flattened samples, integer inputs."""

import keras
import numpy as np
import pytest
from shaped import randomize, same_outputs, train_in_engine

from trainlab import models
from trainlab.errors import TrainlabError


def _names(model):
    return [layer.name for layer in model.layers]


def test_layers_and_names_are_the_tutorials():
    model = models.build_mlp((20,), 1, hidden=[64, 32], dropout=[0.2, 0.0], batch_norm=True)
    assert _names(model) == ["features", "dense_1", "batch_norm_1", "dropout_1", "dense_2", "batch_norm_2", "output"]
    assert model.output_shape == (None, 1)
    assert model.get_layer("output").activation is keras.activations.sigmoid


def test_an_int_input_shape_is_a_number_of_features_as_before():
    # The former interface: build_mlp(n_inputs, n_outputs), models.build(..., n_inputs=k).
    assert models.build_mlp(6, 2).input_shape == (None, 6)
    assert models.build({"name": "mlp", "hidden": [4]}, n_inputs=8, n_outputs=1).input_shape == (None, 8)


def test_samples_of_several_axes_are_flattened_first():
    model = models.build({"name": "mlp", "hidden": [5]}, input_shape=(4, 3, 2), n_outputs=3, output="softmax")
    assert _names(model) == ["features", "flatten", "dense_1", "output"]
    randomize(model)
    reference = keras.Sequential([keras.Input((4, 3, 2)), keras.layers.Reshape((24,)),
                                  keras.layers.Dense(5, activation="relu"), keras.layers.Dense(3, activation="softmax")])
    same_outputs(model, reference, np.random.default_rng(0).normal(size=(7, 4, 3, 2)).astype("float32"))


def test_integer_inputs_are_read_as_numbers():
    model = models.build("mlp", input_shape=(6,), n_outputs=1, input_dtype="int32", vocab_size=12)
    ids = np.random.default_rng(0).integers(0, 12, size=(5, 6)).astype("int32")
    np.testing.assert_allclose(model.predict(ids, verbose=0), model.predict(ids.astype("float32"), verbose=0))


def test_no_hidden_layer_with_dropout_drops_inputs():
    model = models.build_mlp((6,), 1, hidden=[], dropout=0.3)
    assert _names(model) == ["features", "dropout", "output"]
    assert models.build_mlp((6,), 1, hidden=[], dropout=0.0).layers[-1].name == "output"


def test_trains_with_one_record_row_per_dense_layer():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 6)).astype("float32")
    stats = train_in_engine(models.build_mlp((6,), 1, hidden=[8, 4], batch_norm=True), x, (x[:, 0] > 0).astype("float32"))
    assert list(stats) == ["dense_1", "batch_norm_1", "dense_2", "batch_norm_2", "output"]


@pytest.mark.parametrize("kw, message", [
    ({"dropout": [0.1]}, "model.dropout: needs one rate per hidden layer (2) or a single number, got [0.1]"),
    ({"dropout": 1.0}, "model.dropout: each rate must be in [0, 1), got 1.0"),
    ({"output": "tanh"}, "model.output: must be one of sigmoid, softmax, linear, logits or auto, got 'tanh'"),
    ({"activation": "rellu"}, "model.activation: unknown Keras activation, got 'rellu'"),
    ({"hidden": [4, 0]}, "model.hidden: every layer needs > 0 units, got 0"),
])
def test_bad_arguments_are_one_line(kw, message):
    with pytest.raises(TrainlabError) as info:
        models.build_mlp((6,), 1, **kw)
    assert str(info.value) == message
