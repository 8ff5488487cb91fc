"""Linear warm-up followed by cosine decay: a pure function and its Keras adapter."""

from __future__ import annotations

import math
from typing import Any

import keras
from keras import ops

from trainlab import checks


def warmup_cosine(
    step: Any,
    initial_learning_rate: Any,
    warmup_steps: Any,
    total_steps: Any,
    min_learning_rate: Any = 0.0,
) -> Any:
    """Learning rate at ``step``: linear warm-up, cosine decay, then a constant floor.

    Works on Python or NumPy numbers and on tensors (step and parameters alike),
    inside or outside a ``tf.function``; it has no Python branches on the step.

    Args:
        step: the optimizer step (0-based).
        initial_learning_rate: the peak rate, reached at ``warmup_steps``.
        warmup_steps: length of the warm-up; 0 starts the decay at once.
        total_steps: the step at which the decay reaches ``min_learning_rate``.
        min_learning_rate: the floor, held after ``total_steps``.

    Returns:
        A float32 scalar tensor (or a tensor shaped like ``step``).

    Example:
        >>> round(float(warmup_cosine(50, 1e-3, warmup_steps=100, total_steps=1000)), 6)
        0.0005
    """
    step, peak, warmup, total, floor = (
        ops.cast(v, "float32") for v in (step, initial_learning_rate, warmup_steps, total_steps, min_learning_rate)
    )
    # 1) warm-up: rise linearly from 0 to the peak; max(., 1) keeps an empty warm-up finite.
    rising = peak * step / ops.maximum(warmup, 1.0)
    # 2) decay: half a cosine from the peak to the floor; the clip holds the floor after total_steps.
    progress = ops.clip((step - warmup) / (total - warmup), 0.0, 1.0)
    decaying = floor + 0.5 * (peak - floor) * (1.0 + ops.cos(math.pi * progress))
    return ops.where(step < warmup, rising, decaying)


@keras.saving.register_keras_serializable(package="trainlab")
class WarmupCosineDecay(keras.optimizers.schedules.LearningRateSchedule):
    """Keras schedule for :func:`warmup_cosine`.

    Args:
        initial_learning_rate: the peak rate (> 0), reached at ``warmup_steps``.
        warmup_steps: steps of linear warm-up from 0 (>= 0).
        total_steps: step at which the cosine reaches ``min_learning_rate`` (> warmup_steps).
        min_learning_rate: the floor (0 <= floor <= initial_learning_rate).

    Raises:
        ArgumentError: (a ``ValueError``) an argument breaks the rules above.

    Example:
        >>> schedule = WarmupCosineDecay(1e-3, warmup_steps=100, total_steps=1000, min_learning_rate=1e-4)
        >>> optimizer = keras.optimizers.Adam(learning_rate=schedule)
    """

    def __init__(
        self,
        initial_learning_rate: float,
        warmup_steps: int,
        total_steps: int,
        min_learning_rate: float = 0.0,
    ) -> None:
        super().__init__()
        checks.positive(initial_learning_rate, "initial_learning_rate")
        checks.non_negative(warmup_steps, "warmup_steps")
        checks.number(total_steps, "total_steps")
        checks.require(
            total_steps > warmup_steps, "total_steps", f"must be > warmup_steps ({warmup_steps})", total_steps
        )
        checks.non_negative(min_learning_rate, "min_learning_rate")
        checks.require(
            min_learning_rate <= initial_learning_rate,
            "min_learning_rate",
            f"must be <= initial_learning_rate ({initial_learning_rate})",
            min_learning_rate,
        )
        self.initial_learning_rate = initial_learning_rate
        self.warmup_steps = warmup_steps
        self.total_steps = total_steps
        self.min_learning_rate = min_learning_rate

    def __call__(self, step: Any) -> Any:
        return warmup_cosine(
            step, self.initial_learning_rate, self.warmup_steps, self.total_steps, self.min_learning_rate
        )

    def get_config(self) -> dict[str, Any]:
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "warmup_steps": self.warmup_steps,
            "total_steps": self.total_steps,
            "min_learning_rate": self.min_learning_rate,
        }
