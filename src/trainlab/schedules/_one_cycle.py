"""The one-cycle policy (Smith 2018; fastai, PyTorch ``OneCycleLR``): pure functions and their Keras adapter.

The learning rate rises and falls along two cosine halves; the momentum (SGD's ``momentum``, Adam's
``beta_1``) does the inverse, as fastai's ``fit_one_cycle`` cycles it (``moms=(0.95, 0.85, 0.95)``,
fastai's ``combined_cos``): lowest where the rate peaks, back at its start on the last step.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import keras
from keras import ops

from trainlab import checks
from trainlab.schedules._per_epoch import PerEpoch
from trainlab.schedules._scaled import Scaled


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


def one_cycle_momentum(
    step: Any, total_steps: Any, pct_start: Any = 0.3, moms: Sequence[float] = (0.95, 0.85, 0.95)
) -> Any:
    """Momentum at ``step`` of a one-cycle: the inverse of :func:`one_cycle`'s rate, on the same steps.

    It falls along a cosine from ``moms[0]`` to ``moms[1]`` at the rate's peak (step
    ``pct_start * total_steps - 1``), then rises along a cosine to ``moms[2]`` at step
    ``total_steps - 1`` and stays there. These are fastai's cosine halves (``combined_cos(pct_start,
    *moms)``) placed on the steps where PyTorch's ``OneCycleLR`` (``cycle_momentum=True``) and
    :func:`one_cycle` put the rate's peak and end, so that momentum is lowest exactly where the rate peaks.

    Args:
        step: the optimizer step (0-based); a number or a tensor.
        total_steps: the length of the cycle in steps.
        pct_start: the fraction of the cycle spent with the rate rising (momentum falling).
        moms: the momentum at the start, at the rate's peak and at the end.

    Returns:
        A float32 scalar tensor (or a tensor shaped like ``step``).

    Example:
        >>> round(float(one_cycle_momentum(0, 1000)), 4), round(float(one_cycle_momentum(299, 1000)), 4)
        (0.95, 0.85)
    """
    step, total, pct = (ops.cast(v, "float32") for v in (step, total_steps, pct_start))
    start, middle, end = (ops.cast(m, "float32") for m in moms)
    low_step = pct * total - 1.0
    last_step = total - 1.0
    # 1) while the rate rises, momentum falls along a cosine to its low ...
    falling = _cosine_anneal(start, middle, ops.clip(step / low_step, 0.0, 1.0))
    # 2) ... and rises back while the rate falls; the clip holds it after the last step.
    rising = _cosine_anneal(middle, end, ops.clip((step - low_step) / (last_step - low_step), 0.0, 1.0))
    return ops.where(step <= low_step, falling, rising)


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
        cycle_momentum: also cycle the optimizer's momentum (:func:`one_cycle_momentum`), where it has one:
            SGD's and RMSprop's ``momentum`` when > 0, the ``beta_1`` of Adam, AdamW, Adamax and Nadam
            (:func:`trainlab.optimizers.cycle_momentum`, which :func:`trainlab.optimizers.build` applies).
        moms: the momentum at the start, at the rate's peak and at the end, each in [0, 1).

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
        cycle_momentum: bool = True,
        moms: Sequence[float] = (0.95, 0.85, 0.95),
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
        checks.boolean(cycle_momentum, "cycle_momentum")
        checks.require(isinstance(moms, (list, tuple)) and len(moms) == 3, "moms",
                       "must list 3 momentums (start, at the peak rate, end)", moms)
        for m in moms:
            checks.require(checks.is_number(m) and 0 <= m < 1, "moms", "must hold numbers in [0, 1)", moms)
        self.cycle_momentum = cycle_momentum
        self.moms = tuple(float(m) for m in moms)
        self.max_learning_rate = max_learning_rate
        self.total_steps = total_steps
        self.pct_start = pct_start
        self.div_factor = div_factor
        self.final_div_factor = final_div_factor

    def __call__(self, step: Any) -> Any:
        return one_cycle(
            step, self.max_learning_rate, self.total_steps, self.pct_start, self.div_factor, self.final_div_factor
        )

    def momentum(self, step: Any) -> Any:
        """The momentum at ``step`` (:func:`one_cycle_momentum`), or None when ``cycle_momentum`` is off."""
        if not self.cycle_momentum:
            return None
        return one_cycle_momentum(step, self.total_steps, self.pct_start, self.moms)

    def get_config(self) -> dict[str, Any]:
        return {
            "max_learning_rate": self.max_learning_rate,
            "total_steps": self.total_steps,
            "pct_start": self.pct_start,
            "div_factor": self.div_factor,
            "final_div_factor": self.final_div_factor,
            "cycle_momentum": self.cycle_momentum,
            "moms": list(self.moms),
        }


def momentum_schedule(schedule: Any) -> Callable[[Any], Any] | None:
    """The momentum a learning-rate schedule cycles along with the rate, as a function of the optimizer step;
    None when it cycles none. A :class:`OneCycle` (with ``cycle_momentum``) does, also inside
    :class:`~trainlab.schedules.Scaled` (a plateau rule's scale leaves the momentum alone) and
    :class:`~trainlab.schedules.PerEpoch` (``unit: epoch``: the momentum then moves per epoch, as the rate).

    Example:
        >>> momentum_schedule(OneCycle(0.1, total_steps=100))(0)
    """
    if isinstance(schedule, Scaled):
        return momentum_schedule(schedule.schedule)
    if isinstance(schedule, PerEpoch):
        inner = momentum_schedule(schedule.schedule)
        if inner is None:
            return None
        per = schedule.steps_per_epoch
        return lambda step: inner(ops.floor_divide(ops.cast(step, "int64"), per))
    if isinstance(schedule, OneCycle) and schedule.cycle_momentum:
        return schedule.momentum
    return None
