"""The schedule registry: Keras' schedules by name, trainlab's new ones, and ``build``."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from trainlab import checks
from trainlab.errors import TrainlabError
from trainlab.registry import Registry
from trainlab.schedules._constant import Constant
from trainlab.schedules._one_cycle import OneCycle
from trainlab.schedules._per_epoch import PerEpoch
from trainlab.schedules._warmup_cosine import WarmupCosineDecay

LearningRateSchedule = keras.optimizers.schedules.LearningRateSchedule

registry: Registry[LearningRateSchedule] = Registry(
    "schedule", base=LearningRateSchedule, key="optimizer.learning_rate"
)

registry.register("constant", Constant)
registry.register("warmup_cosine", WarmupCosineDecay, aliases=["warmup_cosine_decay"])
registry.register("one_cycle", OneCycle, aliases=["onecycle"])


@registry.register("exponential", aliases=["exponential_decay"])
def exponential(
    initial_learning_rate: float, decay_steps: int, decay_rate: float, staircase: bool = False
) -> LearningRateSchedule:
    """``initial_learning_rate * decay_rate ** (step / decay_steps)`` (Keras ``ExponentialDecay``)."""
    checks.positive(initial_learning_rate, "initial_learning_rate")
    checks.positive(decay_steps, "decay_steps")
    checks.positive(decay_rate, "decay_rate")
    checks.boolean(staircase, "staircase")
    return keras.optimizers.schedules.ExponentialDecay(initial_learning_rate, decay_steps, decay_rate, staircase)


@registry.register("polynomial", aliases=["polynomial_decay"])
def polynomial(
    initial_learning_rate: float,
    decay_steps: int,
    end_learning_rate: float = 0.0001,
    power: float = 1.0,
    cycle: bool = False,
) -> LearningRateSchedule:
    """Polynomial decay to ``end_learning_rate`` over ``decay_steps`` (Keras ``PolynomialDecay``)."""
    checks.positive(initial_learning_rate, "initial_learning_rate")
    checks.positive(decay_steps, "decay_steps")
    checks.non_negative(end_learning_rate, "end_learning_rate")
    checks.positive(power, "power")
    checks.boolean(cycle, "cycle")
    return keras.optimizers.schedules.PolynomialDecay(
        initial_learning_rate, decay_steps, end_learning_rate, power, cycle
    )


@registry.register("piecewise", aliases=["piecewise_constant"])
def piecewise(boundaries: Sequence[int], values: Sequence[float]) -> LearningRateSchedule:
    """``values[i]`` while ``boundaries[i-1] < step <= boundaries[i]`` (Keras ``PiecewiseConstantDecay``)."""
    checks.require(_is_list(boundaries) and len(boundaries) > 0, "boundaries", "must be a non-empty list", boundaries)
    for b in boundaries:
        checks.require(checks.is_number(b), "boundaries", "must hold numbers", boundaries)
    checks.require(
        all(a < b for a, b in zip(boundaries, boundaries[1:])), "boundaries", "must be increasing", boundaries
    )
    checks.require(
        _is_list(values) and len(values) == len(boundaries) + 1,
        "values",
        f"must hold len(boundaries) + 1 = {len(boundaries) + 1} rates",
        values,
    )
    for v in values:
        checks.require(checks.is_number(v) and v > 0, "values", "must all be > 0", values)
    return keras.optimizers.schedules.PiecewiseConstantDecay(list(boundaries), [float(v) for v in values])


@registry.register("cosine", aliases=["cosine_decay"])
def cosine(
    initial_learning_rate: float,
    decay_steps: int,
    alpha: float = 0.0,
    warmup_target: float | None = None,
    warmup_steps: int = 0,
) -> LearningRateSchedule:
    """Cosine decay to ``alpha * peak``, with optional linear warm-up (Keras ``CosineDecay``).

    With ``warmup_target`` set, the rate rises from ``initial_learning_rate`` (which
    may then be 0) to ``warmup_target`` over ``warmup_steps``, then decays over
    ``decay_steps`` more steps.
    """
    if warmup_target is None:
        checks.positive(initial_learning_rate, "initial_learning_rate")
    else:
        checks.non_negative(initial_learning_rate, "initial_learning_rate")
        checks.positive(warmup_target, "warmup_target")
    checks.positive(decay_steps, "decay_steps")
    checks.between(alpha, "alpha", 0.0, 1.0)
    checks.non_negative(warmup_steps, "warmup_steps")
    return keras.optimizers.schedules.CosineDecay(
        initial_learning_rate, decay_steps, alpha=alpha, warmup_target=warmup_target, warmup_steps=warmup_steps
    )


UNITS = ("step", "epoch")


def _is_list(value: Any) -> bool:
    return isinstance(value, (list, tuple))


def build(spec: Any, where: str = "optimizer.learning_rate", steps_per_epoch: int | None = None) -> LearningRateSchedule:
    """Build a learning-rate schedule from a name, a mapping or an instance.

    Args:
        spec: ``{"name": "cosine", "initial_learning_rate": 0.1, "decay_steps": 1000}``,
            a bare name (only useful if it needs no arguments), or a Keras
            ``LearningRateSchedule``, which is returned unchanged.
        where: the recipe key path, for error messages.
        steps_per_epoch: optimizer steps per epoch, for a mapping with ``unit: epoch``
            (its step arguments then count epochs); unknown until the data is loaded, so
            ``None`` (as when a recipe is only checked) stands for one step per epoch.

    Returns:
        The schedule.

    Raises:
        TrainlabError: unknown name or argument, a missing argument, or a value
            that breaks a rule (``optimizer.learning_rate.decay_steps: must be > 0, got 0``).

    Example:
        >>> schedule = build({"name": "exponential", "initial_learning_rate": 0.1,
        ...                   "decay_steps": 100, "decay_rate": 0.96, "staircase": True})
    """
    if isinstance(spec, LearningRateSchedule):
        return spec
    unit = "step"
    if isinstance(spec, Mapping) and "unit" in spec:
        spec = dict(spec)
        unit = spec.pop("unit")
        if unit not in UNITS:
            raise TrainlabError(f"{where}.unit", f"must be one of {', '.join(UNITS)}", unit)
    name, kwargs = registry.split(spec, where)
    schedule = registry.call(name, kwargs, where)
    return PerEpoch(schedule, steps_per_epoch or 1) if unit == "epoch" else schedule


def evaluate(schedule: Any, steps: int | Iterable[int]) -> np.ndarray:
    """The schedule's learning rate at each step, for plots and tests.

    Args:
        schedule: a schedule, or a spec :func:`build` accepts.
        steps: a number of steps ``n`` (meaning steps ``0 .. n-1``) or the steps themselves.

    Returns:
        A float32 array with one learning rate per step.

    Raises:
        TrainlabError: ``schedule`` is a spec that :func:`build` rejects.

    Example:
        >>> rates = evaluate({"name": "cosine", "initial_learning_rate": 0.1, "decay_steps": 1000}, 500)
        >>> rates.shape
        (500,)
    """
    schedule = build(schedule)
    steps = np.arange(steps) if isinstance(steps, (int, np.integer)) else np.asarray(list(steps))
    if steps.size == 0:
        return np.zeros(0, dtype=np.float32)

    # One graph over all steps: calling a schedule eagerly costs ~0.1 ms a step,
    # and some (CosineDecay with warm-up) branch with a cond, so a plain vector call won't do.
    @tf.function(autograph=False)  # as in Keras' own step: schedules are called as written
    def rates(all_steps: tf.Tensor) -> tf.Tensor:
        return tf.map_fn(
            lambda step: tf.cast(schedule(step), tf.float32), all_steps, fn_output_signature=tf.float32
        )

    return rates(tf.constant(steps, dtype=tf.int64)).numpy()
