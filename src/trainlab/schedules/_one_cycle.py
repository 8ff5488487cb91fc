"""The one-cycle policy (Smith 2018; fastai, PyTorch ``OneCycleLR``): a pure function and its Keras adapter."""

from __future__ import annotations

import math
from typing import Any

import keras
from keras import ops

from trainlab import checks


def one_cycle(
    step: Any,
    max_learning_rate: Any,
    total_steps: Any,
    pct_start: Any = 0.3,
    div_factor: Any = 25.0,
    final_div_factor: Any = 1e4,
) -> Any:
    """Learning rate at ``step`` of a cosine one-cycle, as PyTorch's ``OneCycleLR``.

    The rate starts at ``max_learning_rate / div_factor``, rises along a cosine to
    ``max_learning_rate`` at step ``pct_start * total_steps - 1``, then falls along
    a cosine to ``start / final_div_factor`` at step ``total_steps - 1`` and stays
    there (PyTorch raises past the end; holding the floor is friendlier).

    Args:
        step: the optimizer step (0-based); a number or a tensor.
        max_learning_rate: the peak rate.
        total_steps: the length of the cycle in steps.
        pct_start: the fraction of the cycle spent rising.
        div_factor: start rate = max_learning_rate / div_factor.
        final_div_factor: final rate = start rate / final_div_factor.

    Returns:
        A float32 scalar tensor (or a tensor shaped like ``step``).

    Example:
        >>> round(float(one_cycle(0, 0.1, total_steps=1000)), 6)
        0.004
    """
    step, peak, total, pct, div, final_div = (
        ops.cast(v, "float32") for v in (step, max_learning_rate, total_steps, pct_start, div_factor, final_div_factor)
    )
    start = peak / div
    end = start / final_div
    peak_step = pct * total - 1.0
    last_step = total - 1.0
    # 1) rise: cosine from the start rate up to the peak over the first pct_start of the cycle.
    rising = _cosine_anneal(start, peak, ops.clip(step / peak_step, 0.0, 1.0))
    # 2) fall: cosine from the peak down to the final rate; the clip holds it after the last step.
    falling = _cosine_anneal(peak, end, ops.clip((step - peak_step) / (last_step - peak_step), 0.0, 1.0))
    return ops.where(step <= peak_step, rising, falling)


def _cosine_anneal(begin: Any, end: Any, fraction: Any) -> Any:
    return end + 0.5 * (begin - end) * (1.0 + ops.cos(math.pi * fraction))


@keras.saving.register_keras_serializable(package="trainlab")
class OneCycle(keras.optimizers.schedules.LearningRateSchedule):
    """Keras schedule for :func:`one_cycle`.

    Args:
        max_learning_rate: the peak rate (> 0).
        total_steps: the length of the cycle (> 0).
        pct_start: fraction of the cycle spent rising, in (0, 1), with
            ``pct_start * total_steps > 1`` so the rise lasts at least one step.
        div_factor: start rate = max_learning_rate / div_factor (> 0).
        final_div_factor: final rate = start rate / final_div_factor (> 0).

    Raises:
        ArgumentError: (a ``ValueError``) an argument breaks the rules above.

    Example:
        >>> optimizer = keras.optimizers.SGD(learning_rate=OneCycle(0.1, total_steps=1000))
    """

    def __init__(
        self,
        max_learning_rate: float,
        total_steps: int,
        pct_start: float = 0.3,
        div_factor: float = 25.0,
        final_div_factor: float = 1e4,
    ) -> None:
        super().__init__()
        checks.positive(max_learning_rate, "max_learning_rate")
        checks.positive(total_steps, "total_steps")
        checks.number(pct_start, "pct_start")
        checks.require(0 < pct_start < 1, "pct_start", "must be in (0, 1)", pct_start)
        # The rise ends at step pct_start * total_steps - 1; it must come after step 0.
        checks.require(
            pct_start * total_steps > 1,
            "pct_start",
            f"must leave the rise at least one step (pct_start * total_steps > 1, total_steps={total_steps})",
            pct_start,
        )
        checks.positive(div_factor, "div_factor")
        checks.positive(final_div_factor, "final_div_factor")
        self.max_learning_rate = max_learning_rate
        self.total_steps = total_steps
        self.pct_start = pct_start
        self.div_factor = div_factor
        self.final_div_factor = final_div_factor

    def __call__(self, step: Any) -> Any:
        return one_cycle(
            step, self.max_learning_rate, self.total_steps, self.pct_start, self.div_factor, self.final_div_factor
        )

    def get_config(self) -> dict[str, Any]:
        return {
            "max_learning_rate": self.max_learning_rate,
            "total_steps": self.total_steps,
            "pct_start": self.pct_start,
            "div_factor": self.div_factor,
            "final_div_factor": self.final_div_factor,
        }
