"""What a batch is to the engine: inputs ``x`` (a tensor, or a structure of them), targets ``y``, optional weights."""

from __future__ import annotations

from typing import Any

import tensorflow as tf


def first(x: Any) -> tf.Tensor:
    """The first tensor of ``x`` (a tensor, or a structure of them: a dict of named inputs), for its sample count."""
    return tf.nest.flatten(x)[0]


def unpack(batch: tuple) -> tuple:
    """``(x, y, sample_weight)`` of ``(x, y)`` (weight None) or ``(x, y, sample_weight)``."""
    return (*batch, None) if len(batch) == 2 else tuple(batch)
