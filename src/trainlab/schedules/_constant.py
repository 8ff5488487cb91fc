"""A constant learning rate as a schedule, so a plateau rule can still scale it."""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

from trainlab import checks


@keras.saving.register_keras_serializable(package="trainlab")
class Constant(keras.optimizers.schedules.LearningRateSchedule):
    """The same learning rate at every step.

    Args:
        learning_rate: the rate (> 0).

    Raises:
        ArgumentError: (a ``ValueError``) ``learning_rate`` is not a positive number.

    Example:
        >>> round(float(Constant(0.01)(123)), 6)
        0.01
    """

    def __init__(self, learning_rate: float) -> None:
        super().__init__()
        checks.positive(learning_rate, "learning_rate")
        self.learning_rate = learning_rate

    def __call__(self, step: Any) -> Any:
        # Broadcast to the step's shape so a vector of steps gives a vector of rates.
        return ops.full_like(ops.cast(step, "float32"), self.learning_rate)

    def get_config(self) -> dict[str, Any]:
        return {"learning_rate": self.learning_rate}
