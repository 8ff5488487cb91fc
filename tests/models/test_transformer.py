"""The transformer builder: its layers, the position embedding and the poolings against NumPy, save and load."""

import keras
import numpy as np
import pytest
from shaped import sequences, tokens, train_in_engine

from trainlab import models
from trainlab.errors import TrainlabError

SMALL = {"name": "transformer", "dim": 8, "heads": 2, "ff_dim": 16}


def _names(model):
    return [layer.name for layer in model.layers]


def test_layers_for_token_ids():
    model = models.build({**SMALL, "layers": 1, "dense": [4]}, input_shape=(6,), n_outputs=3, input_dtype="int32",
                         vocab_size=12, output="softmax")
    assert _names(model) == [
        "features", "embedding", "position", "embedding_dropout", "attention_1", "attention_dropout_1",
        "attention_residual_1", "attention_norm_1", "ff_in_1", "ff_out_1", "ff_dropout_1", "ff_residual_1", "ff_norm_1",
        "pool", "dense_1", "dropout_1", "output",
    ]
    assert model.output_shape == (None, 3)
    attention = model.get_layer("attention_1")
    assert (attention.num_heads, attention.key_dim) == (2, 4)


def test_float_sequences_are_projected():
    model = models.build({**SMALL, "dropout": 0.0}, input_shape=(6, 3), n_outputs=1)
    assert _names(model)[:3] == ["features", "projection", "position"]
    assert "embedding_dropout" not in _names(model)  # a rate of 0 adds no layer
    assert model.get_layer("projection").output.shape == (None, 6, 8)


def test_position_embedding_adds_one_vector_per_position():
    layer = models.PositionEmbedding(5, name="position")
    x = np.random.default_rng(0).normal(size=(3, 4, 2)).astype("float32")  # shorter than the layer's length
    out = layer(x)
    np.testing.assert_allclose(out, x + layer.embeddings.numpy()[None, :4], rtol=1e-6)
    again = models.PositionEmbedding.from_config(layer.get_config())
    assert (again.length, again.name) == (5, "position")


@pytest.mark.parametrize("pooling, reduce", [
    ("mean", lambda h: h.mean(axis=1)), ("max", lambda h: h.max(axis=1)), ("first", lambda h: h[:, 0]),
])
def test_pooling_reduces_the_encoder_output(pooling, reduce):
    model = models.build({**SMALL, "pooling": pooling}, input_shape=(6,), n_outputs=1, input_dtype="int32",
                         vocab_size=12)
    encoded = keras.Model(model.input, [model.get_layer("ff_norm_2").output, model.get_layer("pool").output])
    h, pooled = encoded.predict(tokens(4)[0], verbose=0)
    np.testing.assert_allclose(pooled, reduce(h), rtol=1e-5, atol=1e-6)


def test_saves_and_loads_with_its_position_embedding(tmp_path):
    x, _ = tokens(4)
    model = models.build({**SMALL, "pooling": "first"}, input_shape=(6,), n_outputs=1, input_dtype="int32",
                         vocab_size=12)
    model.save(tmp_path / "model.keras")
    loaded = keras.saving.load_model(tmp_path / "model.keras")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)


def test_trains_with_one_record_row_per_layer_with_weights():
    # MultiHeadAttention's projections ("attention_1/query/kernel", ...) are one layer's weights: one row per block.
    x, y = sequences()
    model = models.build({**SMALL, "dense": [4]}, input_shape=x.shape[1:], n_outputs=1)
    assert list(train_in_engine(model, x, y)) == [
        "projection", "position", "attention_1", "attention_norm_1", "ff_in_1", "ff_out_1", "ff_norm_1",
        "attention_2", "attention_norm_2", "ff_in_2", "ff_out_2", "ff_norm_2", "dense_1", "output",
    ]


@pytest.mark.parametrize("kw, message", [
    ({"dim": 10, "heads": 4}, "model.heads: must divide model.dim (10), got 4"),
    ({"pooling": "last"}, "model.pooling: must be one of mean, max, first, got 'last'"),
    ({"dropout": [0.1]}, "model.dropout: the transformer takes one rate, for its blocks and dense layers, got [0.1]"),
    ({"layers": 0}, "model.layers: must be > 0, got 0"),
])
def test_bad_arguments_are_one_line(kw, message):
    with pytest.raises(TrainlabError) as info:
        models.build({**SMALL, **kw}, input_shape=(6, 3), n_outputs=1)
    assert str(info.value) == message


def test_data_that_are_not_sequences_are_refused():
    with pytest.raises(TrainlabError) as info:
        models.build("transformer", input_shape=(20,), n_outputs=1)
    assert str(info.value) == ("model: transformer needs token ids (N, T) of integers or float sequences (N, T, F),"
                               " got float32 data of shape (N, 20)")
