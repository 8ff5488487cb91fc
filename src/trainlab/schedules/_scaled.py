"""A schedule times a scale held in a variable, for plateau rules that lower the rate."""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

from trainlab import checks

LearningRateSchedule = keras.optimizers.schedules.LearningRateSchedule


@keras.saving.register_keras_serializable(package="trainlab")
class Scaled(LearningRateSchedule):
    """``schedule(step) * scale``, where ``scale`` is a non-trainable variable.

    Keras' ``ReduceLROnPlateau`` can only assign a float learning rate; with a
    schedule it fails. Wrapping the schedule lets a plateau rule multiply
    ``scale`` instead; as a variable, changing it does not retrace a compiled
    training step. Wrapping a ``Scaled`` does not nest: the inner schedule is
    reused and the two scales are multiplied.

    Args:
        schedule: the schedule to scale.
        scale: the initial factor (> 0).

    Raises:
        ArgumentError: (a ``ValueError``) ``scale`` is not a positive number.
        TypeError: ``schedule`` is not a ``LearningRateSchedule``.

    Example:
        >>> lr = Scaled(keras.optimizers.schedules.CosineDecay(0.1, 1000))
        >>> lr.scale.assign(lr.scale * 0.5)  # what a plateau rule does
    """

    def __init__(self, schedule: LearningRateSchedule, scale: float = 1.0) -> None:
        super().__init__()
        if not isinstance(schedule, LearningRateSchedule):
            raise TypeError(f"schedule: must be a keras LearningRateSchedule, got {type(schedule).__name__}")
        checks.positive(scale, "scale")
        if isinstance(schedule, Scaled):
            scale = float(scale) * float(schedule.scale.numpy())
            schedule = schedule.schedule
        self.schedule = schedule
        self.scale = keras.Variable(float(scale), dtype="float32", trainable=False, name="learning_rate_scale")

    def __call__(self, step: Any) -> Any:
        return ops.cast(self.schedule(step), "float32") * self.scale

    def get_config(self) -> dict[str, Any]:
        return {
            "schedule": keras.saving.serialize_keras_object(self.schedule),
            "scale": float(self.scale.numpy()),
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Scaled:
        config = dict(config)
        config["schedule"] = keras.saving.deserialize_keras_object(config["schedule"])
        return cls(**config)


def as_scaled(schedule: LearningRateSchedule) -> Scaled:
    """Return ``schedule`` itself if it is a :class:`Scaled`, else ``Scaled(schedule)``.

    Reusing an existing ``Scaled`` keeps one scale variable per optimizer, the
    one a plateau rule adjusts.

    Args:
        schedule: any Keras learning-rate schedule.

    Returns:
        A :class:`Scaled` wrapping ``schedule`` (or ``schedule`` itself).

    Raises:
        TypeError: ``schedule`` is not a ``LearningRateSchedule``.

    Example:
        >>> s = as_scaled(keras.optimizers.schedules.CosineDecay(0.1, 1000))
        >>> as_scaled(s) is s
        True
    """
    return schedule if isinstance(schedule, Scaled) else Scaled(schedule)
