"""The rnn builder: token ids and float sequences, against hand-built Keras models, in trainlab's engine."""

import keras
import numpy as np
import pytest
from shaped import randomize, same_outputs, sequences, tokens, train_in_engine

from trainlab import models
from trainlab.errors import TrainlabError


def _names(model):
    return [layer.name for layer in model.layers]


def test_default_layers_for_token_ids():
    model = models.build("rnn", input_shape=(6,), n_outputs=1, input_dtype="int32", vocab_size=12)
    assert _names(model) == ["features", "embedding", "lstm_1", "output"]
    assert model.input.dtype == "int32"
    assert model.get_layer("embedding").output.shape == (None, 6, 32)
    assert model.get_layer("lstm_1").output.shape == (None, 64)
    assert model.output_shape == (None, 1)


def test_stacked_bidirectional_lstm_matches_keras():
    spec = {"name": "rnn", "units": [4, 3], "bidirectional": True, "embedding_dim": 5, "dense": [2]}
    model = models.build(spec, input_shape=(6,), n_outputs=1, input_dtype="int32", vocab_size=12)
    assert _names(model) == ["features", "embedding", "bidirectional_1", "bidirectional_2", "dense_1", "output"]
    assert model.get_layer("bidirectional_1").output.shape == (None, 6, 8)  # all but the last return sequences
    assert model.get_layer("bidirectional_2").output.shape == (None, 6)
    randomize(model)
    layers = keras.layers
    reference = keras.Sequential([
        keras.Input((6,), dtype="int32"), layers.Embedding(12, 5),
        layers.Bidirectional(layers.LSTM(4, return_sequences=True)), layers.Bidirectional(layers.LSTM(3)),
        layers.Dense(2, activation="relu"), layers.Dense(1, activation="sigmoid"),
    ])
    same_outputs(model, reference, tokens(7)[0])


def test_gru_on_float_sequences_matches_keras():
    model = models.build({"name": "rnn", "cell": "gru", "units": [4]}, input_shape=(6, 3), n_outputs=2,
                         output="softmax")
    assert _names(model) == ["features", "gru_1", "output"]
    randomize(model)
    reference = keras.Sequential([keras.Input((6, 3)), keras.layers.GRU(4), keras.layers.Dense(2, activation="softmax")])
    same_outputs(model, reference, sequences(7)[0])


def test_float_token_ids_are_read_as_ids():
    # Until the data keep their dtype, the engine hands token ids over as float32: the int32 Input casts them back.
    model = models.build({"name": "rnn", "units": [3]}, input_shape=(6,), n_outputs=1, input_dtype="int32",
                         vocab_size=12)
    x, _ = tokens(5)
    np.testing.assert_allclose(model.predict(x.astype("float32"), verbose=0), model.predict(x, verbose=0))


@pytest.mark.parametrize("bidirectional, rows", [
    (False, ["embedding", "lstm_1", "lstm_2", "dense_1", "output"]),
    (True, ["embedding", "bidirectional_1", "bidirectional_2", "dense_1", "output"]),
])
def test_trains_with_one_record_row_per_recurrent_layer(bidirectional, rows):
    # Each recurrent layer's weights live in its cell ("lstm_1/lstm_cell/kernel"): still one row per layer.
    x, y = tokens()
    spec = {"name": "rnn", "units": [4, 3], "bidirectional": bidirectional, "embedding_dim": 4, "dense": [3]}
    model = models.build(spec, input_shape=(6,), n_outputs=1, input_dtype="int32", vocab_size=12)
    assert list(train_in_engine(model, x, y)) == rows


@pytest.mark.parametrize("shape, dtype, got", [
    ((64,), "float32", "float32 data of shape (N, 64)"),
    ((8, 8, 1), "float32", "float32 data of shape (N, 8, 8, 1)"),
])
def test_data_that_are_not_sequences_are_refused(shape, dtype, got):
    with pytest.raises(TrainlabError) as info:
        models.build("rnn", input_shape=shape, n_outputs=1, input_dtype=dtype)
    assert str(info.value) == f"model: rnn needs token ids (N, T) of integers or float sequences (N, T, F), got {got}"


def test_token_ids_need_a_vocabulary_size():
    with pytest.raises(TrainlabError) as info:
        models.build("rnn", input_shape=(6,), n_outputs=1, input_dtype="int32")
    assert str(info.value) == (
        "model: rnn embeds token ids and needs the data's vocab_size (the largest token id + 1), got None"
    )


def test_unknown_cell_is_one_line():
    with pytest.raises(TrainlabError, match=r"^model.cell: must be one of lstm, gru, got 'rnn'$"):
        models.build({"name": "rnn", "cell": "rnn"}, input_shape=(6, 2), n_outputs=1)
