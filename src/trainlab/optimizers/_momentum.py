"""Momentum that follows a schedule inside the compiled step: one-cycle's cycled momentum.

Keras 3 optimizers read ``momentum`` and ``beta_1`` as plain Python numbers: a traced training step
takes the value it found while tracing as a constant, so assigning a new number between steps changes
nothing (a callback cannot cycle it, as fastai's does). :func:`cycle_momentum` puts a
:class:`ScheduledValue` there instead: a number to Python (its nominal value: comparisons, the
optimizer's config, ``model.keras``), and, wherever the step turns it into a tensor, the schedule at
the optimizer's current step, computed in the graph from ``optimizer.iterations``. It is a pure
function of the step: a checkpoint that restores ``iterations`` restores the momentum.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import keras
import tensorflow as tf

from trainlab import schedules

# The optimizers whose momentum is known to be read only as a number or a tensor (tests compare their steps
# with Keras' own, the value set before each step), and the attribute that holds it.
_MOMENTUM = {keras.optimizers.SGD: "momentum", keras.optimizers.RMSprop: "momentum"}
_BETA_1 = (keras.optimizers.Adam, keras.optimizers.Adamax, keras.optimizers.Nadam)  # AdamW is an Adam


class ScheduledValue(float):
    """A float whose tensor is a schedule's value at the optimizer's step.

    Python sees ``nominal`` (``value != 0`` in Keras' checks, the config); TensorFlow, converting it
    (``tf.cast``, ``ops.cast``, an op taking it), sees ``value()``; arithmetic with it gives tensors.

    Args:
        nominal: the number Python sees.
        value: builds the tensor (called while the step is traced, or eagerly).
    """

    _value: Callable[[], Any]
    # Keras' ops infer an argument's dtype from its ``dtype`` (else from its type, which this subclass is not).
    dtype = "float32"

    def __new__(cls, nominal: float, value: Callable[[], Any]) -> ScheduledValue:
        self = super().__new__(cls, nominal)
        self._value = value
        return self

    def __tf_tensor__(self, dtype: tf.DType | None = None, name: str | None = None) -> tf.Tensor:
        value = tf.convert_to_tensor(self._value())
        return value if dtype is None else tf.cast(value, dtype)

    def __reduce__(self) -> tuple:  # copies and pickles are the plain number
        return float, (float(self),)

    def _pair(self, other: Any) -> tuple[tf.Tensor, tf.Tensor]:
        other = tf.convert_to_tensor(other) if not isinstance(other, (int, float)) else other
        dtype = other.dtype if isinstance(other, tf.Tensor) and other.dtype.is_floating else tf.float32
        return self.__tf_tensor__(dtype), tf.cast(other, dtype)

    def __add__(self, other: Any) -> tf.Tensor:
        a, b = self._pair(other)
        return a + b

    def __radd__(self, other: Any) -> tf.Tensor:
        a, b = self._pair(other)
        return b + a

    def __sub__(self, other: Any) -> tf.Tensor:
        a, b = self._pair(other)
        return a - b

    def __rsub__(self, other: Any) -> tf.Tensor:
        a, b = self._pair(other)
        return b - a

    def __mul__(self, other: Any) -> tf.Tensor:
        a, b = self._pair(other)
        return a * b

    def __rmul__(self, other: Any) -> tf.Tensor:
        a, b = self._pair(other)
        return b * a

    def __truediv__(self, other: Any) -> tf.Tensor:
        a, b = self._pair(other)
        return a / b

    def __rtruediv__(self, other: Any) -> tf.Tensor:
        a, b = self._pair(other)
        return b / a

    def __pow__(self, other: Any) -> tf.Tensor:  # type: ignore[override]
        a, b = self._pair(other)
        return tf.pow(a, b)

    def __rpow__(self, other: Any) -> tf.Tensor:
        a, b = self._pair(other)
        return tf.pow(b, a)

    def __neg__(self) -> tf.Tensor:
        return -self.__tf_tensor__(tf.float32)


def momentum_attribute(optimizer: keras.optimizers.Optimizer) -> str | None:
    """The attribute holding ``optimizer``'s momentum (``momentum`` or ``beta_1``), or None: an optimizer
    without one (SGD or RMSprop at momentum 0 keep no momentum slots), or not known to read it as a number."""
    for cls, name in _MOMENTUM.items():
        if isinstance(optimizer, cls):
            return name if float(getattr(optimizer, name)) > 0 else None
    return "beta_1" if isinstance(optimizer, _BETA_1) else None


def cycle_momentum(optimizer: keras.optimizers.Optimizer) -> bool:
    """Make ``optimizer``'s momentum follow the momentum cycle of its learning-rate schedule
    (:func:`trainlab.schedules.momentum_schedule`: a one-cycle's), step by step, in any compiled step.

    :func:`trainlab.optimizers.build` calls it; call it on an optimizer built in Python with a
    :class:`~trainlab.schedules.OneCycle` rate to get the same.

    Args:
        optimizer: a Keras optimizer (a ``LossScaleOptimizer``: its inner one).

    Returns:
        Whether its momentum now follows the schedule (False: no cycling schedule, or no momentum to cycle).

    Example:
        >>> opt = keras.optimizers.SGD(schedules.OneCycle(0.1, total_steps=1000), momentum=0.9)
        >>> cycle_momentum(opt)
        True
    """
    optimizer = getattr(optimizer, "inner_optimizer", optimizer)
    schedule = schedules.momentum_schedule(getattr(optimizer, "_learning_rate", None))
    name = momentum_attribute(optimizer)
    if schedule is None or name is None:
        return False
    # The step Keras' own learning-rate lookup passes to the schedule (its raw iteration count).
    iterations = optimizer._iterations
    setattr(optimizer, name, ScheduledValue(float(getattr(optimizer, name)), lambda: schedule(iterations)))
    return True
