"""A recurrent network (LSTM or GRU) for token ids ``(T,)`` or float sequences ``(T, F)``."""

from __future__ import annotations

from collections.abc import Sequence

import keras

from trainlab.errors import TrainlabError
from trainlab.models._common import (
    check_activation,
    check_output,
    check_units,
    dense_head,
    output_layer,
    registry,
    sample_shape,
    sequence_input,
)

CELLS = {"lstm": keras.layers.LSTM, "gru": keras.layers.GRU}


@registry.register("rnn", aliases=["recurrent"])
def build_rnn(
    input_shape: Sequence[int],
    n_outputs: int,
    input_dtype: str = "float32",
    vocab_size: int | None = None,
    cell: str = "lstm",
    units: Sequence[int] = (64,),
    bidirectional: bool = False,
    embedding_dim: int = 32,
    dense: Sequence[int] = (),
    activation: str = "relu",
    dropout: float | Sequence[float] = 0.0,
    output: str = "sigmoid",
    name: str = "rnn",
) -> keras.Model:
    """Build an embedding (for token ids), stacked recurrent layers, dense layers and an output layer.

    Token ids ``(T,)`` (integer data) go through ``Embedding(vocab_size, embedding_dim)``
    (no masking: id 0 is a token like any other); float sequences ``(T, F)`` go to the first
    recurrent layer as they are. Every recurrent layer but the last returns its whole
    sequence; the last one's final state goes through the dense layers to the output
    layer. Layers are named ``embedding``, ``lstm_1`` (``gru_1``; ``bidirectional_1``
    around it when ``bidirectional``), ..., ``dense_1``, ``dropout_1``, ..., ``output``.

    Args:
        input_shape: one sample's shape: ``(T,)`` token ids or ``(T, F)`` features per step.
        n_outputs: units of the output layer.
        input_dtype: the data's dtype: an integer dtype (``int32``) for token ids.
        vocab_size: the number of token ids (the largest id + 1); needed for token ids.
        cell: ``lstm`` or ``gru`` (Keras' layers, which use cuDNN on a GPU).
        units: units of each recurrent layer, first to last.
        bidirectional: read each sequence both ways (``Bidirectional``, outputs concatenated).
        embedding_dim: the size of each token's embedding (token ids only).
        dense: units of each dense layer after the recurrent layers.
        activation: any Keras activation name, for the dense layers.
        dropout: one rate for every dense layer, or one per dense layer; with no dense layer,
            one rate drops features of the last recurrent state before the output layer.
        output: ``sigmoid``, ``softmax``, ``linear`` or ``logits``.
        name: the model's name.

    Returns:
        A built (functional) ``keras.Model``.

    Raises:
        TrainlabError: data that are not sequences, token ids without ``vocab_size``, an unknown
            cell, output or activation, no recurrent layer, or a dropout list of the wrong length.

    Example:
        >>> model = build_rnn((100,), 1, input_dtype="int32", vocab_size=5000, units=[32], bidirectional=True)
    """
    inputs, tokens = sequence_input("rnn", sample_shape(input_shape), input_dtype, vocab_size)
    check_output(output)
    check_activation(activation)
    if cell not in CELLS:
        raise TrainlabError("model.cell", f"must be one of {', '.join(CELLS)}", cell)
    units = check_units("units", units, at_least=1)
    x = inputs
    if tokens:
        if int(embedding_dim) <= 0:
            raise TrainlabError("model.embedding_dim", "must be > 0", embedding_dim)
        x = keras.layers.Embedding(int(vocab_size), int(embedding_dim), name="embedding")(x)
    for i, width in enumerate(units, start=1):
        layer = CELLS[cell](width, return_sequences=i < len(units), name=f"{cell}_{i}")
        if bidirectional:
            layer = keras.layers.Bidirectional(layer, name=f"bidirectional_{i}")
        x = layer(x)
    x = dense_head(
        x, check_units("dense", dense), dropout, activation=activation, layers="dense layer",
    )
    return keras.Model(inputs, output_layer(x, n_outputs, output), name=name)
