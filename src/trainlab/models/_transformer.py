"""A small transformer encoder for token ids ``(T,)`` or float sequences ``(T, F)``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

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

POOLINGS = ("mean", "max", "first")


@keras.saving.register_keras_serializable(package="trainlab")
class PositionEmbedding(keras.layers.Layer):
    """A learned vector per position, added to a sequence of vectors: ``x + P[:T]``.

    Keras has token embeddings but no position embedding layer; this one saves and loads
    with the model (``model.keras``) once :mod:`trainlab.models` is imported.

    Args:
        length: the longest sequence it reads (the number of position vectors).
        initializer: the initializer of the position vectors.

    Example:
        >>> x = PositionEmbedding(100, name="position")(token_vectors)  # (N, 100, dim) -> (N, 100, dim)
    """

    def __init__(self, length: int, initializer: Any = "glorot_uniform", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.length = int(length)
        self.initializer = keras.initializers.get(initializer)

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        self.embeddings = self.add_weight(
            shape=(self.length, int(input_shape[-1])), initializer=self.initializer, name="embeddings"
        )

    def call(self, inputs: Any) -> Any:
        steps = keras.ops.shape(inputs)[-2]
        return inputs + keras.ops.cast(self.embeddings[:steps], inputs.dtype)

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "length": self.length,
            "initializer": keras.initializers.serialize(self.initializer),
        }


@registry.register("transformer", aliases=["encoder"])
def build_transformer(
    input_shape: Sequence[int],
    n_outputs: int,
    input_dtype: str = "float32",
    vocab_size: int | None = None,
    dim: int = 64,
    layers: int = 2,
    heads: int = 4,
    ff_dim: int = 128,
    activation: str = "relu",
    pooling: str = "mean",
    dense: Sequence[int] = (),
    dropout: float = 0.1,
    output: str = "sigmoid",
    name: str = "transformer",
) -> keras.Model:
    """Build embeddings, encoder blocks, a pooling over the sequence, dense layers and an output layer.

    Token ids ``(T,)`` (integer data) are embedded (``Embedding(vocab_size, dim)``); float
    sequences ``(T, F)`` are projected (``Dense(dim)``). A learned position embedding is
    added, then ``layers`` encoder blocks each apply self-attention (``MultiHeadAttention``,
    ``heads`` heads of ``dim // heads``) and a feed-forward network (``Dense(ff_dim)``,
    ``Dense(dim)``), each with dropout, a residual connection and layer normalization
    (post-norm, as in "Attention is all you need"). The sequence is pooled (its mean, its
    maximum, or its first position) and goes through the dense layers to the output layer.
    Layers are named ``embedding`` (or ``projection``), ``position``, ``attention_1``,
    ``attention_norm_1``, ``ff_in_1``, ``ff_out_1``, ``ff_norm_1``, ..., ``pool``,
    ``dense_1``, ..., ``output``.

    Args:
        input_shape: one sample's shape: ``(T,)`` token ids or ``(T, F)`` features per step.
        n_outputs: units of the output layer.
        input_dtype: the data's dtype: an integer dtype (``int32``) for token ids.
        vocab_size: the number of token ids (the largest id + 1); needed for token ids.
        dim: the width of the token vectors through the encoder.
        layers: the number of encoder blocks.
        heads: attention heads per block; must divide ``dim``.
        ff_dim: the hidden width of each block's feed-forward network.
        activation: any Keras activation name, for the feed-forward networks and the dense layers.
        pooling: ``mean``, ``max`` or ``first`` (the first position's vector).
        dense: units of each dense layer after the pooling.
        dropout: one rate, for the embeddings, the attention weights, each block's two
            residual branches and after each dense layer (before the output layer when none).
        output: ``sigmoid``, ``softmax``, ``linear`` or ``logits``.
        name: the model's name.

    Returns:
        A built (functional) ``keras.Model``.

    Raises:
        TrainlabError: data that are not sequences, token ids without ``vocab_size``, heads that
            do not divide ``dim``, an unknown pooling, output or activation, or a bad rate.

    Example:
        >>> model = build_transformer((64,), 4, input_dtype="int32", vocab_size=1000, output="softmax")
    """
    shape = sample_shape(input_shape)
    inputs, tokens = sequence_input("transformer", shape, input_dtype, vocab_size)
    check_output(output)
    check_activation(activation)
    for key, value in (("dim", dim), ("layers", layers), ("heads", heads), ("ff_dim", ff_dim)):
        if int(value) <= 0:
            raise TrainlabError(f"model.{key}", "must be > 0", value)
    if dim % heads:
        raise TrainlabError("model.heads", f"must divide model.dim ({dim})", heads)
    if pooling not in POOLINGS:
        raise TrainlabError("model.pooling", f"must be one of {', '.join(POOLINGS)}", pooling)
    if not isinstance(dropout, (int, float)):
        raise TrainlabError("model.dropout", "the transformer takes one rate, for its blocks and dense layers", dropout)
    if not 0.0 <= dropout < 1.0:
        raise TrainlabError("model.dropout", "each rate must be in [0, 1)", dropout)
    if tokens:
        x = keras.layers.Embedding(int(vocab_size), dim, name="embedding")(inputs)
    else:
        x = keras.layers.Dense(dim, name="projection")(inputs)
    x = PositionEmbedding(shape[0], name="position")(x)
    x = _dropout(x, dropout, "embedding_dropout")
    for i in range(1, layers + 1):
        x = _encoder_block(x, i, dim, heads, ff_dim, activation, dropout)
    x = _pool(x, pooling, shape[0])
    x = dense_head(x, check_units("dense", dense), dropout, activation=activation, layers="dense layer")
    return keras.Model(inputs, output_layer(x, n_outputs, output), name=name)


def _encoder_block(
    x: keras.KerasTensor, i: int, dim: int, heads: int, ff_dim: int, activation: str, dropout: float
) -> keras.KerasTensor:
    """Self-attention and a feed-forward network, each ``x = LayerNorm(x + Dropout(branch(x)))``."""
    attention = keras.layers.MultiHeadAttention(heads, dim // heads, dropout=dropout, name=f"attention_{i}")(x, x)
    attention = _dropout(attention, dropout, f"attention_dropout_{i}")
    x = keras.layers.Add(name=f"attention_residual_{i}")([x, attention])
    x = keras.layers.LayerNormalization(epsilon=1e-6, name=f"attention_norm_{i}")(x)
    ff = keras.layers.Dense(ff_dim, activation=activation, name=f"ff_in_{i}")(x)
    ff = keras.layers.Dense(dim, name=f"ff_out_{i}")(ff)
    ff = _dropout(ff, dropout, f"ff_dropout_{i}")
    x = keras.layers.Add(name=f"ff_residual_{i}")([x, ff])
    return keras.layers.LayerNormalization(epsilon=1e-6, name=f"ff_norm_{i}")(x)


def _pool(x: keras.KerasTensor, pooling: str, steps: int) -> keras.KerasTensor:
    """The sequence ``(N, T, dim)`` as one vector per sample ``(N, dim)``."""
    if pooling == "mean":
        return keras.layers.GlobalAveragePooling1D(name="pool")(x)
    if pooling == "max":
        return keras.layers.GlobalMaxPooling1D(name="pool")(x)
    # The first position: Keras' own layers (no Lambda, which a saved model could only load unsafely).
    first = keras.layers.Cropping1D((0, steps - 1), name="first_position")(x)
    return keras.layers.Flatten(name="pool")(first)


def _dropout(x: keras.KerasTensor, rate: float, name: str) -> keras.KerasTensor:
    return keras.layers.Dropout(rate, name=name)(x) if rate > 0 else x
