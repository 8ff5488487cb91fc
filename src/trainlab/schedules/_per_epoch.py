"""A schedule counted in epochs: ``schedule(step // steps_per_epoch)``.

Users think of "0.001 * 0.9^epoch"; optimizers count steps. Writing the decay in
steps ties the recipe to the data size and batch size (change either and the
schedule silently changes meaning). ``unit: epoch`` in a schedule mapping keeps the
recipe in epochs; the trainer supplies the steps per epoch.
"""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

from trainlab import checks

LearningRateSchedule = keras.optimizers.schedules.LearningRateSchedule


@keras.saving.register_keras_serializable(package="trainlab")
class PerEpoch(LearningRateSchedule):
    """Evaluate ``schedule`` at the epoch index: constant within an epoch.

    Args:
        schedule: a schedule whose step argument counts epochs.
        steps_per_epoch: optimizer steps in one epoch (> 0).

    Example:
        >>> lr = PerEpoch(keras.optimizers.schedules.ExponentialDecay(1e-3, 1, 0.9), steps_per_epoch=10)
        >>> float(lr(25))  # epoch 2: 1e-3 * 0.9**2
        0.00081
    """

    def __init__(self, schedule: LearningRateSchedule, steps_per_epoch: int) -> None:
        super().__init__()
        checks.positive(steps_per_epoch, "steps_per_epoch")
        self.schedule = schedule
        self.steps_per_epoch = int(steps_per_epoch)

    def __call__(self, step: Any) -> Any:
        return self.schedule(ops.floor_divide(ops.cast(step, "int64"), self.steps_per_epoch))

    def get_config(self) -> dict[str, Any]:
        return {"schedule": keras.saving.serialize_keras_object(self.schedule), "steps_per_epoch": self.steps_per_epoch}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> PerEpoch:
        return cls(keras.saving.deserialize_keras_object(config["schedule"]), config["steps_per_epoch"])
