"""The multi-layer perceptron of the tutorial, built from a recipe's ``model:`` section."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras

from trainlab import regularizers
from trainlab.errors import TrainlabError
from trainlab.registry import Registry

registry: Registry[keras.Model] = Registry("model", base=keras.Model, key="model.name")

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


@registry.register("mlp", aliases=["dense"])
def build_mlp(
    n_inputs: int,
    n_outputs: int,
    hidden: Sequence[int] = (64, 32),
    activation: str = "relu",
    dropout: float | Sequence[float] = 0.0,
    batch_norm: bool = False,
    kernel_regularizer: Any = None,
    output: str = "sigmoid",
    kernel_initializer: str = "glorot_uniform",
    name: str = "mlp",
) -> keras.Model:
    """Build ``Dense -> [BatchNorm] -> [Dropout]`` blocks and an output layer.

    The block order follows the tutorial (Dense with its activation, then batch
    normalization, then dropout). Layers are named ``dense_1``, ``batch_norm_1``,
    ``dropout_1``, ..., ``output`` so per-layer records read naturally.

    Args:
        n_inputs: number of input features.
        n_outputs: units of the output layer (1 for binary and single-target regression).
        hidden: units of each hidden layer.
        activation: any Keras activation name for the hidden layers.
        dropout: one rate for every hidden layer, or one per hidden layer; 0 adds no layer.
        batch_norm: add batch normalization after each hidden Dense layer.
        kernel_regularizer: a spec for :func:`trainlab.regularizers.build` (hidden layers only).
        output: ``sigmoid``, ``softmax``, ``linear`` or ``logits``.
        kernel_initializer: any Keras initializer name.
        name: the model's name.

    Returns:
        A built (functional) ``keras.Model``.

    Raises:
        TrainlabError: a dropout list of the wrong length or an unknown output.

    Example:
        >>> model = build_mlp(20, 1, hidden=[64, 32], dropout=[0.2, 0.0])
    """
    rates = _dropout_rates(dropout, len(hidden))
    if output not in OUTPUTS:
        raise TrainlabError("model.output", f"must be one of {', '.join(OUTPUTS)} or auto", output)
    try:
        keras.activations.get(activation)
    except ValueError:
        raise TrainlabError("model.activation", "unknown Keras activation", activation) from None
    inputs = keras.Input(shape=(n_inputs,), name="features")
    x = inputs
    for i, (units, rate) in enumerate(zip(hidden, rates), start=1):
        x = keras.layers.Dense(
            units,
            activation=activation,
            kernel_initializer=kernel_initializer,
            kernel_regularizer=regularizers.build(kernel_regularizer),
            name=f"dense_{i}",
        )(x)
        if batch_norm:
            x = keras.layers.BatchNormalization(name=f"batch_norm_{i}")(x)
        if rate > 0:
            x = keras.layers.Dropout(rate, name=f"dropout_{i}")(x)
    outputs = keras.layers.Dense(
        n_outputs, activation=OUTPUTS[output], kernel_initializer=kernel_initializer, name="output"
    )(x)
    return keras.Model(inputs, outputs, name=name)


def _dropout_rates(dropout: float | Sequence[float], n_hidden: int) -> list[float]:
    rates = [float(dropout)] * n_hidden if isinstance(dropout, (int, float)) else [float(r) for r in dropout]
    if len(rates) != n_hidden:
        raise TrainlabError(
            "model.dropout", f"needs one rate per hidden layer ({n_hidden}) or a single number", list(dropout)
        )
    for rate in rates:
        if not 0.0 <= rate < 1.0:
            raise TrainlabError("model.dropout", "each rate must be in [0, 1)", rate)
    return rates
