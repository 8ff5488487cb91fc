"""What every model builder shares: the registry, the builder interface, the data checks, the head.

A builder is registered in :data:`registry` and called as
``builder(input_shape, n_outputs, input_dtype="float32", vocab_size=None, **its_own_keys)``:
the first four (:data:`DATA_ARGUMENTS`) come from the data, the rest from the recipe's ``model:``
section. The head (``Dense -> [BatchNorm] -> [Dropout]`` blocks, then the output layer) is built
here once, for the MLP's hidden layers and for the dense layers on top of the other models.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
import numpy as np

from trainlab import regularizers
from trainlab.errors import TrainlabError
from trainlab.registry import Registry

registry: Registry[keras.Model] = Registry("model", base=keras.Model, key="model.name")

#: The builder arguments the data gives (one sample's shape, the output width, the input's dtype and,
#: for token ids, the vocabulary size); a recipe sets every other argument.
DATA_ARGUMENTS = ("input_shape", "n_outputs", "input_dtype", "vocab_size")

# Output activation by name; "logits" is a linear output read by a from_logits loss.
OUTPUTS = {"sigmoid": "sigmoid", "softmax": "softmax", "linear": None, "logits": None}


def output_for(labels: str, from_logits: bool) -> str:
    """The output layer a loss reads: ``sigmoid``, ``softmax``, ``linear`` or ``logits``.

    Args:
        labels: the loss's label format (:func:`trainlab.losses.traits`): binary, sparse, onehot or real.
        from_logits: whether the loss reads logits.
    """
    if labels == "real":
        return "linear"
    if from_logits:
        return "logits"
    return "sigmoid" if labels == "binary" else "softmax"


# ----------------------------------------------------------------------------- the data


class DataShape(tuple):
    """One sample's shape, shown as the data's (``float32 data of shape (N, 28, 28, 1)``) in messages."""

    dtype: str = "float32"

    def __new__(cls, shape: Sequence[int], dtype: str = "float32") -> DataShape:
        made = super().__new__(cls, shape)
        made.dtype = dtype
        return made

    def __str__(self) -> str:
        return f"{self.dtype} data of shape ({', '.join(['N', *map(str, self)])})"


def sample_shape(input_shape: int | Sequence[int]) -> tuple[int, ...]:
    """``input_shape`` as a tuple of ints; a single int is a number of features (the former ``n_inputs``)."""
    if isinstance(input_shape, (int, np.integer)):
        return (int(input_shape),)
    return tuple(int(d) for d in input_shape)


def is_integer(dtype: str) -> bool:
    """Whether ``dtype`` holds integers (token ids), e.g. ``int32``."""
    return bool(np.issubdtype(np.dtype(dtype), np.integer))


def mismatch(model: str, needs: str, input_shape: Sequence[int], input_dtype: str) -> TrainlabError:
    """The one-line error for data a model cannot read: ``model: cnn needs ..., got float32 data of shape (N, 64)``."""
    return TrainlabError("model", f"{model} needs {needs}", DataShape(input_shape, input_dtype))


def sequence_input(
    model: str, input_shape: Sequence[int], input_dtype: str, vocab_size: int | None
) -> tuple[keras.KerasTensor, bool]:
    """The input of a sequence model: ``(T,)`` token ids or ``(T, F)`` float features.

    Returns:
        ``(inputs, tokens)``: the ``keras.Input`` and whether it holds token ids.

    Raises:
        TrainlabError: data of another rank, floats of shape ``(T,)``, or token ids without ``vocab_size``.
    """
    tokens = len(input_shape) == 1 and is_integer(input_dtype)
    if not (tokens or len(input_shape) == 2):
        raise mismatch(model, "token ids (N, T) of integers or float sequences (N, T, F)", input_shape, input_dtype)
    if tokens and not vocab_size:
        raise TrainlabError(
            "model", f"{model} embeds token ids and needs the data's vocab_size (the largest token id + 1)", vocab_size
        )
    # Float sequences of any dtype are read as float32 (a functional model casts its inputs to the Input's dtype).
    return keras.Input(shape=tuple(input_shape), dtype=input_dtype if tokens else "float32", name="features"), tokens


# ----------------------------------------------------------------------------- checks


def check_output(output: str) -> None:
    """Raise unless ``output`` is an output layer's name (see :data:`OUTPUTS`)."""
    if output not in OUTPUTS:
        raise TrainlabError("model.output", f"must be one of {', '.join(OUTPUTS)} or auto", output)


def check_activation(activation: str) -> None:
    """Raise unless Keras knows ``activation``."""
    try:
        keras.activations.get(activation)
    except ValueError:
        raise TrainlabError("model.activation", "unknown Keras activation", activation) from None


def check_units(key: str, units: Sequence[int], at_least: int = 0) -> list[int]:
    """``units`` as a list of ints, each > 0, at least ``at_least`` of them.

    Raises:
        TrainlabError: ``model.<key>: every layer needs > 0 units`` or too few layers.
    """
    units = [int(u) for u in units]
    if len(units) < at_least:
        raise TrainlabError(f"model.{key}", f"needs at least {at_least} layer{'s' if at_least > 1 else ''}", units)
    for u in units:
        if u <= 0:
            raise TrainlabError(f"model.{key}", "every layer needs > 0 units", u)
    return units


def dropout_rates(dropout: float | Sequence[float], n_layers: int, layers: str = "hidden layer") -> list[float]:
    """One dropout rate per layer, from one number or a list of ``n_layers`` numbers.

    Raises:
        TrainlabError: a list of the wrong length, or a rate outside [0, 1).
    """
    single = isinstance(dropout, (int, float))
    rates = [float(dropout)] * n_layers if single else [float(r) for r in dropout]
    if len(rates) != n_layers:
        raise TrainlabError(
            "model.dropout", f"needs one rate per {layers} ({n_layers}) or a single number", list(dropout)
        )
    for rate in [float(dropout)] if single else rates:  # a single rate is checked even with no layers
        if not 0.0 <= rate < 1.0:
            raise TrainlabError("model.dropout", "each rate must be in [0, 1)", rate)
    return rates


# ----------------------------------------------------------------------------- the head


def dense_head(
    x: keras.KerasTensor,
    units: Sequence[int],
    dropout: float | Sequence[float],
    *,
    activation: str = "relu",
    batch_norm: bool = False,
    kernel_initializer: str = "glorot_uniform",
    kernel_regularizer: Any = None,
    layers: str = "hidden layer",
) -> keras.KerasTensor:
    """``Dense -> [BatchNorm] -> [Dropout]`` per entry of ``units``, named ``dense_i``, ``batch_norm_i``, ``dropout_i``.

    ``dropout`` is one rate or one per layer; a rate of 0 adds no layer. With no dense
    layers, one rate above 0 adds a single ``Dropout`` (named ``dropout``) on the features
    the output layer reads.

    Args:
        x: the features.
        units: units of each ``Dense`` layer.
        dropout: one rate for every layer, or one per layer.
        activation: the ``Dense`` layers' activation.
        batch_norm: add batch normalization after each ``Dense`` layer.
        kernel_initializer: any Keras initializer name.
        kernel_regularizer: a spec for :func:`trainlab.regularizers.build`.
        layers: what the layers are called in messages (``hidden layer``, ``dense layer``).

    Returns:
        The last layer's output.

    Raises:
        TrainlabError: a dropout list of the wrong length, or a rate outside [0, 1).
    """
    rates = dropout_rates(dropout, len(units), layers)
    if not units and isinstance(dropout, (int, float)) and dropout > 0:
        return keras.layers.Dropout(float(dropout), name="dropout")(x)
    for i, (width, rate) in enumerate(zip(units, rates), start=1):
        x = keras.layers.Dense(
            width,
            activation=activation,
            kernel_initializer=kernel_initializer,
            kernel_regularizer=regularizers.build(kernel_regularizer),
            name=f"dense_{i}",
        )(x)
        if batch_norm:
            x = keras.layers.BatchNormalization(name=f"batch_norm_{i}")(x)
        if rate > 0:
            x = keras.layers.Dropout(rate, name=f"dropout_{i}")(x)
    return x


def output_layer(
    x: keras.KerasTensor, n_outputs: int, output: str, kernel_initializer: str = "glorot_uniform"
) -> keras.KerasTensor:
    """The output ``Dense`` layer, named ``output``, with the activation ``output`` names (see :data:`OUTPUTS`).

    It computes in float32 whatever the global dtype policy (``training.precision``): a softmax or sigmoid in
    float16 loses the small probabilities the loss takes the log of, as Keras' mixed-precision guide warns.
    """
    return keras.layers.Dense(
        n_outputs, activation=OUTPUTS[output], kernel_initializer=kernel_initializer, name="output", dtype="float32"
    )(x)
