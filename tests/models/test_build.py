"""Models from recipes: the model section to the builder, the data's shape to the model, training end to end."""

from types import SimpleNamespace

import keras
import numpy as np
import pytest
from shaped import tokens

import trainlab
from trainlab import models, rundir
from trainlab.config import Recipe, validate
from trainlab.errors import TrainlabError
from trainlab.training import prepare


def _recipe(model, loss="binary_crossentropy"):
    return validate(Recipe, {"model": {**model, "output": "sigmoid"}, "loss": loss, "metrics": ["accuracy"]})


def _data(input_shape=None, input_dtype=None, vocab_size=None, n_features=None):
    """A stand-in for the data: main's Splits has n_features only; the reshaped data has input_shape and dtype."""
    fields = {"task": "binary", "n_classes": 2, "n_outputs": 1, "n_features": n_features}
    if input_shape is not None:
        fields.update(input_shape=input_shape, input_dtype=input_dtype or "float32", vocab_size=vocab_size)
    return SimpleNamespace(**fields)


@pytest.mark.parametrize("model, data, first_layers", [
    ({"name": "mlp", "hidden": [4]}, _data(n_features=8), ["features", "dense_1"]),
    ({"name": "mlp", "hidden": [4]}, _data((4, 4, 1)), ["features", "flatten", "dense_1"]),
    ({"name": "cnn", "filters": [2], "dense": []}, _data((6, 6, 1)), ["features", "conv_1", "pool_1"]),
    ({"name": "rnn", "units": [3]}, _data((5,), "int32", 9), ["features", "embedding", "lstm_1"]),
    ({"name": "rnn", "units": [3], "cell": "gru"}, _data((5, 2)), ["features", "gru_1"]),
    ({"name": "transformer", "dim": 4, "heads": 2, "layers": 1}, _data((5,), "int32", 9),
     ["features", "embedding", "position"]),
    ({"name": "transformer", "dim": 4, "heads": 2, "layers": 1}, _data((5, 2)), ["features", "projection", "position"]),
])
def test_build_model_reads_the_datas_shape(model, data, first_layers):
    built = prepare.build_model(_recipe(model), data)
    assert [layer.name for layer in built.layers[: len(first_layers)]] == first_layers
    expected = (data.n_features,) if data.n_features else data.input_shape
    assert tuple(built.input_shape[1:]) == tuple(expected)
    assert built.output_shape == (None, 1)


def test_build_model_passes_the_recipe_keys_and_the_defaults():
    built = prepare.build_model(_recipe({"name": "cnn", "filters": [3], "kernel_size": 1}), _data((4, 4, 2)))
    conv = built.get_layer("conv_1")
    assert (conv.filters, conv.kernel_size) == (3, (1, 1))
    assert built.get_layer("dense_1").units == 128  # the cnn's default dense layer


@pytest.mark.parametrize("model, data, message", [
    ({"name": "cnn"}, _data(n_features=20), "model: cnn needs images (N, H, W, C), got float32 data of shape (N, 20)"),
    ({"name": "rnn"}, _data((5,)), "model: rnn needs token ids (N, T) of integers or float sequences (N, T, F),"
                                   " got float32 data of shape (N, 5)"),
    ({"name": "transformer"}, _data((5,), "int32"), "model: transformer embeds token ids and needs the data's"
                                                    " vocab_size (the largest token id + 1), got None"),
])
def test_a_model_that_cannot_read_the_data_is_one_line(model, data, message):
    with pytest.raises(TrainlabError) as info:
        prepare.build_model(_recipe(model), data)
    assert str(info.value) == message


def test_a_builder_registered_from_python_takes_its_keys_from_the_recipe(monkeypatch):
    monkeypatch.setattr(models.registry, "_entries", dict(models.registry._entries))  # registered for this test only

    @models.registry.register("tiny_net")
    def tiny_net(input_shape, n_outputs, width, output="sigmoid"):
        inputs = keras.Input(input_shape)
        hidden = keras.layers.Dense(width, name="hidden")(inputs)
        return keras.Model(inputs, keras.layers.Dense(n_outputs, activation=output, name="output")(hidden))

    built = prepare.build_model(_recipe({"name": "tiny_net", "width": 3}), _data(n_features=4))
    assert built.get_layer("hidden").units == 3


@pytest.mark.parametrize("model, rows", [
    ({"name": "rnn", "units": [4], "embedding_dim": 4, "bidirectional": True}, {"embedding", "bidirectional_1",
                                                                                "output"}),
    ({"name": "transformer", "dim": 4, "heads": 2, "layers": 1, "ff_dim": 8},
     {"embedding", "position", "attention_1", "attention_norm_1", "ff_in_1", "ff_out_1", "ff_norm_1", "output"}),
])
def test_token_models_train_end_to_end_with_a_record_row_per_layer(tmp_path, tiny_recipe, model, rows):
    # main's data hand token ids over as float32 columns (unstandardized here); the int32 Input reads them as ids.
    x, y = tokens(64)
    data = trainlab.data.from_arrays(x, y, {"standardize": False})
    keras.utils.set_random_seed(0)
    built = models.build(model, input_shape=(6,), n_outputs=1, input_dtype="int32", vocab_size=12)
    tiny_recipe["training"].update(epochs=2, batch_size=16)
    run = trainlab.train(tiny_recipe, out=tmp_path / "run", model=built, data=data)
    assert len(run.history) == 2 and np.isfinite(run.history[-1]["loss"])
    assert {r["layer"] for r in rundir.read_csv(run.dir / "layers.csv")} == rows
    kernels = {key.rsplit("/", 1)[0] for key in np.load(run.dir / "weights.npz").files}
    assert kernels <= rows and "output" in kernels  # named as layers.csv names the layers
    loaded = keras.saving.load_model(run.dir / "model.keras")
    np.testing.assert_allclose(loaded.predict(x[:4], verbose=0), run.model.predict(x[:4], verbose=0), rtol=1e-6)
