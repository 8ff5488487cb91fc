"""A small convolutional network for images ``(H, W, C)``, built from a recipe's ``model:`` section."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras

from trainlab import regularizers
from trainlab.errors import TrainlabError
from trainlab.models._common import (
    check_activation,
    check_output,
    check_units,
    dense_head,
    mismatch,
    output_layer,
    registry,
    sample_shape,
)

POOLS = {"max": keras.layers.MaxPooling2D, "avg": keras.layers.AveragePooling2D, "none": None}


@registry.register("cnn", aliases=["conv", "convnet"])
def build_cnn(
    input_shape: Sequence[int],
    n_outputs: int,
    input_dtype: str = "float32",
    vocab_size: int | None = None,
    filters: Sequence[int] = (32, 64),
    kernel_size: int = 3,
    batch_norm: bool = False,
    activation: str = "relu",
    pool: str = "max",
    global_pool: bool = True,
    dense: Sequence[int] = (128,),
    dropout: float | Sequence[float] = 0.0,
    kernel_regularizer: Any = None,
    kernel_initializer: str = "glorot_uniform",
    output: str = "sigmoid",
    name: str = "cnn",
) -> keras.Model:
    """Build conv blocks, a pooling of the feature maps, dense layers and an output layer.

    Each block is ``Conv2D(filters, kernel_size, padding="same")``, then batch
    normalization if ``batch_norm``, then the activation, then a 2x2 pooling (padding
    ``same``, so small images never pool to nothing). Without batch normalization the
    activation is the convolution's own. The blocks' output is averaged over the image
    (``GlobalAveragePooling2D``) or flattened, then goes through the dense layers (each
    followed by its dropout) to the output layer. Layers are named ``conv_1``,
    ``batch_norm_1``, ``activation_1``, ``pool_1``, ..., ``global_pool`` (or ``flatten``),
    ``dense_1``, ``dropout_1``, ..., ``output``.

    Args:
        input_shape: one image's shape ``(H, W, C)``.
        n_outputs: units of the output layer.
        input_dtype: the data's dtype; read as float32.
        vocab_size: not used.
        filters: the filters of each conv block.
        kernel_size: the convolutions' kernel size (square).
        batch_norm: batch normalization between each convolution and its activation.
        activation: any Keras activation name, for the conv blocks and the dense layers.
        pool: ``max``, ``avg`` or ``none``: the 2x2 pooling after each block.
        global_pool: average each feature map (True) or flatten them (False).
        dense: units of each dense layer after the conv blocks.
        dropout: one rate for every dense layer, or one per dense layer; with no dense layer,
            one rate drops pooled features before the output layer.
        kernel_regularizer: a spec for :func:`trainlab.regularizers.build`, on conv and dense kernels.
        kernel_initializer: any Keras initializer name.
        output: ``sigmoid``, ``softmax``, ``linear`` or ``logits``.
        name: the model's name.

    Returns:
        A built (functional) ``keras.Model``.

    Raises:
        TrainlabError: data that are not images, an unknown output, activation or pool,
            no conv block, or a dropout list of the wrong length.

    Example:
        >>> model = build_cnn((28, 28, 1), 10, filters=[16, 32], dense=[64], output="softmax")
    """
    del vocab_size
    shape = sample_shape(input_shape)
    if len(shape) != 3:
        raise mismatch("cnn", "images (N, H, W, C)", shape, input_dtype)
    check_output(output)
    check_activation(activation)
    if pool not in POOLS:
        raise TrainlabError("model.pool", f"must be one of {', '.join(POOLS)}", pool)
    filters = check_units("filters", filters, at_least=1)
    if int(kernel_size) <= 0:
        raise TrainlabError("model.kernel_size", "must be > 0", kernel_size)
    inputs = keras.Input(shape=shape, name="features")
    x = inputs
    for i, width in enumerate(filters, start=1):
        x = keras.layers.Conv2D(
            width,
            int(kernel_size),
            padding="same",
            activation=None if batch_norm else activation,
            kernel_initializer=kernel_initializer,
            kernel_regularizer=regularizers.build(kernel_regularizer),
            name=f"conv_{i}",
        )(x)
        if batch_norm:
            x = keras.layers.BatchNormalization(name=f"batch_norm_{i}")(x)
            x = keras.layers.Activation(activation, name=f"activation_{i}")(x)
        if POOLS[pool] is not None:
            x = POOLS[pool](pool_size=2, padding="same", name=f"pool_{i}")(x)
    if global_pool:
        x = keras.layers.GlobalAveragePooling2D(name="global_pool")(x)
    else:
        x = keras.layers.Flatten(name="flatten")(x)
    x = dense_head(
        x, check_units("dense", dense), dropout, activation=activation, kernel_initializer=kernel_initializer,
        kernel_regularizer=kernel_regularizer, layers="dense layer",
    )
    return keras.Model(inputs, output_layer(x, n_outputs, output, kernel_initializer), name=name)
