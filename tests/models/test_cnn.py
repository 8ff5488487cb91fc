"""The cnn builder: its layers and names, against a hand-built Keras model, in trainlab's engine."""

import keras
import numpy as np
import pytest
from shaped import images, randomize, same_outputs, train_in_engine

from trainlab import models
from trainlab.errors import TrainlabError


def _names(model):
    return [layer.name for layer in model.layers]


def test_default_layers_and_names():
    model = models.build("cnn", input_shape=(8, 8, 1), n_outputs=10, output="softmax")
    assert _names(model) == ["features", "conv_1", "pool_1", "conv_2", "pool_2", "global_pool", "dense_1", "output"]
    assert model.output_shape == (None, 10)
    assert [model.get_layer(f"conv_{i}").filters for i in (1, 2)] == [32, 64]
    assert model.get_layer("pool_2").output.shape == (None, 2, 2, 64)
    assert model.get_layer("dense_1").units == 128


def test_batch_norm_blocks_match_keras_layer_by_layer():
    # Conv2D -> BatchNormalization -> activation -> 2x2 pooling (padding same), as the builder documents.
    model = models.build(
        {"name": "cnn", "filters": [3, 4], "batch_norm": True, "pool": "avg", "dense": [5], "activation": "tanh"},
        input_shape=(5, 5, 2), n_outputs=3, output="softmax",
    )
    assert _names(model) == ["features", "conv_1", "batch_norm_1", "activation_1", "pool_1", "conv_2", "batch_norm_2",
                             "activation_2", "pool_2", "global_pool", "dense_1", "output"]
    assert model.get_layer("pool_2").output.shape == (None, 2, 2, 4)  # 5 -> 3 -> 2: padding same
    randomize(model)
    layers = keras.layers
    reference = keras.Sequential([
        keras.Input((5, 5, 2)),
        layers.Conv2D(3, 3, padding="same"), layers.BatchNormalization(), layers.Activation("tanh"),
        layers.AveragePooling2D(2, padding="same"),
        layers.Conv2D(4, 3, padding="same"), layers.BatchNormalization(), layers.Activation("tanh"),
        layers.AveragePooling2D(2, padding="same"),
        layers.GlobalAveragePooling2D(), layers.Dense(5, activation="tanh"), layers.Dense(3, activation="softmax"),
    ])
    same_outputs(model, reference, images(7, (5, 5, 2))[0])


def test_flatten_no_pool_and_dropout_per_dense_layer():
    model = models.build(
        {"name": "cnn", "filters": [2], "kernel_size": 1, "pool": "none", "global_pool": False, "dense": [4, 3],
         "dropout": [0.5, 0.0]},
        input_shape=(3, 3, 1), n_outputs=1,
    )
    assert _names(model) == ["features", "conv_1", "flatten", "dense_1", "dropout_1", "dense_2", "output"]
    assert model.get_layer("flatten").output.shape == (None, 18)
    assert model.get_layer("dropout_1").rate == 0.5


def test_no_dense_layer_with_dropout_drops_pooled_features():
    model = models.build({"name": "cnn", "filters": [2], "dense": [], "dropout": 0.25}, input_shape=(4, 4, 1),
                         n_outputs=1)
    assert _names(model)[-3:] == ["global_pool", "dropout", "output"]


def test_regularizer_penalizes_conv_and_dense_kernels():
    model = models.build({"name": "cnn", "filters": [2, 3], "dense": [4], "kernel_regularizer": {"l2": 0.1}},
                         input_shape=(4, 4, 1), n_outputs=1)
    model(np.zeros((1, 4, 4, 1), "float32"))
    kernels = [model.get_layer(n).kernel for n in ("conv_1", "conv_2", "dense_1")]
    expected = sum(0.1 * float(np.sum(np.square(k.numpy()))) for k in kernels)
    assert float(sum(model.losses)) == pytest.approx(expected, rel=1e-5)


def test_trains_with_one_record_row_per_layer_with_weights():
    x, y = images()
    model = models.build({"name": "cnn", "filters": [4, 4], "dense": [8], "batch_norm": True}, input_shape=x.shape[1:],
                         n_outputs=1)
    stats = train_in_engine(model, x, y)
    assert list(stats) == ["conv_1", "batch_norm_1", "conv_2", "batch_norm_2", "dense_1", "output"]


def test_saves_and_loads(tmp_path):
    x, _ = images(4)
    model = models.build({"name": "cnn", "filters": [2], "dense": [3], "batch_norm": True}, input_shape=x.shape[1:],
                         n_outputs=1)
    model.save(tmp_path / "model.keras")
    loaded = keras.saving.load_model(tmp_path / "model.keras")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)


@pytest.mark.parametrize("shape, dtype, got", [
    ((64,), "float32", "float32 data of shape (N, 64)"),
    ((8, 8), "float32", "float32 data of shape (N, 8, 8)"),
    ((2, 8, 8, 1), "float32", "float32 data of shape (N, 2, 8, 8, 1)"),
])
def test_data_that_are_not_images_are_refused(shape, dtype, got):
    with pytest.raises(TrainlabError) as info:
        models.build("cnn", input_shape=shape, n_outputs=1, input_dtype=dtype)
    assert str(info.value) == f"model: cnn needs images (N, H, W, C), got {got}"


@pytest.mark.parametrize("kw, message", [
    ({"pool": "min"}, "model.pool: must be one of max, avg, none, got 'min'"),
    ({"filters": []}, "model.filters: needs at least 1 layer, got []"),
    ({"dense": [4], "dropout": [0.1, 0.1]}, "model.dropout: needs one rate per dense layer (1) or a single number"),
])
def test_bad_arguments_are_one_line(kw, message):
    with pytest.raises(TrainlabError) as info:
        models.build({"name": "cnn", **kw}, input_shape=(4, 4, 1), n_outputs=1)
    assert str(info.value).startswith(message)
