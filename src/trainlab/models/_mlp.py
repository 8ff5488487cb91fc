"""The multi-layer perceptron of the tutorial, built from a recipe's ``model:`` section."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras

from trainlab.models._common import (
    check_activation,
    check_output,
    check_units,
    dense_head,
    output_layer,
    registry,
    sample_shape,
)


@registry.register("mlp", aliases=["dense"])
def build_mlp(
    input_shape: int | Sequence[int],
    n_outputs: int,
    input_dtype: str = "float32",
    vocab_size: int | None = None,
    hidden: Sequence[int] = (64, 32),
    activation: str = "relu",
    dropout: float | Sequence[float] = 0.0,
    batch_norm: bool = False,
    kernel_regularizer: Any = None,
    kernel_initializer: str = "glorot_uniform",
    output: str = "sigmoid",
    name: str = "mlp",
) -> keras.Model:
    """Build ``Dense -> [BatchNorm] -> [Dropout]`` blocks and an output layer.

    The block order follows the tutorial (Dense with its activation, then batch
    normalization, then dropout). Layers are named ``dense_1``, ``batch_norm_1``,
    ``dropout_1``, ..., ``output`` so per-layer records read naturally. Samples of
    more than one axis (images) are flattened first, by a layer named ``flatten``.

    Args:
        input_shape: one sample's shape, e.g. ``(20,)``; an int is a number of features.
        n_outputs: units of the output layer (1 for binary and single-target regression).
        input_dtype: the data's dtype; integers (token ids) are read as float32 numbers.
        vocab_size: not used (the MLP reads token ids as numbers, without an embedding).
        hidden: units of each hidden layer.
        activation: any Keras activation name for the hidden layers.
        dropout: one rate for every hidden layer, or one per hidden layer; 0 adds no layer.
            With no hidden layer, a rate above 0 drops input features.
        batch_norm: add batch normalization after each hidden Dense layer.
        kernel_regularizer: a spec for :func:`trainlab.regularizers.build` (hidden layers only).
        kernel_initializer: any Keras initializer name.
        output: ``sigmoid``, ``softmax``, ``linear`` or ``logits``.
        name: the model's name.

    Returns:
        A built (functional) ``keras.Model``.

    Raises:
        TrainlabError: a dropout list of the wrong length, an unknown output or activation.

    Example:
        >>> model = build_mlp((20,), 1, hidden=[64, 32], dropout=[0.2, 0.0])
    """
    del input_dtype, vocab_size  # the float32 Input casts integer data (a functional model casts its inputs)
    check_output(output)
    check_activation(activation)
    shape = sample_shape(input_shape)
    inputs = keras.Input(shape=shape, name="features")
    x = keras.layers.Flatten(name="flatten")(inputs) if len(shape) > 1 else inputs
    x = dense_head(
        x, check_units("hidden", hidden), dropout, activation=activation, batch_norm=batch_norm,
        kernel_initializer=kernel_initializer, kernel_regularizer=kernel_regularizer,
    )
    outputs = output_layer(x, n_outputs, output, kernel_initializer)
    return keras.Model(inputs, outputs, name=name)
