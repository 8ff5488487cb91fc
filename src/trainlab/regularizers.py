"""Weight regularizers by name: ``l1``, ``l2``, ``l1_l2`` (Keras' own classes).

A recipe writes ``kernel_regularizer: {l1: 0.01, l2: 0.0}``; :func:`build` also
takes a name, ``{"name": "l2", "l2": 0.01}``, or a Keras ``Regularizer``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import keras

from trainlab.errors import TrainlabError
from trainlab.registry import Registry

registry: Registry[keras.regularizers.Regularizer] = Registry(
    "regularizer", base=keras.regularizers.Regularizer, key="model.kernel_regularizer"
)


@registry.register("l1")
def l1(l1: float = 0.01) -> keras.regularizers.Regularizer:
    """L1 penalty ``l1 * sum(|w|)``."""
    return keras.regularizers.L1(l1)


@registry.register("l2")
def l2(l2: float = 0.01) -> keras.regularizers.Regularizer:
    """L2 penalty ``l2 * sum(w**2)`` (note: no factor 1/2, as in Keras)."""
    return keras.regularizers.L2(l2)


@registry.register("l1_l2", aliases=["elastic_net"])
def l1_l2(l1: float = 0.0, l2: float = 0.0) -> keras.regularizers.Regularizer:
    """Both penalties: ``l1 * sum(|w|) + l2 * sum(w**2)``."""
    return keras.regularizers.L1L2(l1=l1, l2=l2)


def build(spec: Any, where: str = "model.kernel_regularizer") -> keras.regularizers.Regularizer | None:
    """Build a regularizer; ``None`` or all-zero factors mean no regularizer.

    Args:
        spec: ``None``, a name, ``{"name": ..., ...}``, ``{"l1": a, "l2": b}`` or an instance.
        where: the recipe key path used in error messages.

    Returns:
        A Keras regularizer, or ``None`` when there is nothing to penalize.

    Raises:
        TrainlabError: unknown name, unknown key or a negative factor.

    Example:
        >>> build({"l1": 0.0, "l2": 0.01})  # keras.regularizers.L1L2(l1=0, l2=0.01)
    """
    if spec is None:
        return None
    if isinstance(spec, Mapping) and "name" not in spec:
        spec = {"name": "l1_l2", **spec}
    if isinstance(spec, Mapping):
        for key in ("l1", "l2"):
            value = spec.get(key, 0.0)
            if not isinstance(value, (int, float)) or value < 0:
                raise TrainlabError(f"{where}.{key}", "must be a number >= 0", value)
        if spec["name"] == "l1_l2" and not spec.get("l1") and not spec.get("l2"):
            return None
    return registry.build(spec, where)
