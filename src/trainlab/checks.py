"""Argument checks for registered factories (losses, optimizers, schedules, ...).

A factory does not know where in the recipe it was named, so it raises an
:class:`~trainlab.errors.ArgumentError` naming only its argument; :meth:`Registry.call
<trainlab.registry.Registry.call>` adds the key path, giving
``optimizer.learning_rate.decay_steps: must be > 0, got 0``.
"""

from __future__ import annotations

import math

import numbers
from types import UnionType
from typing import Any, Union, get_args, get_origin

from trainlab.errors import ArgumentError


def is_number(value: Any) -> bool:
    """True for real numbers (Python or NumPy), False for bools and strings."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def finite(value: Any) -> bool:
    """Whether ``value`` is a number that is neither NaN nor infinite (a bool is not a number here)."""
    return is_number(value) and math.isfinite(value)


def require(condition: bool, argument: str, rule: str, value: Any) -> None:
    """Raise :class:`ArgumentError` unless ``condition`` holds."""
    if not condition:
        raise ArgumentError(argument, rule, value)


def number(value: Any, argument: str) -> None:
    require(is_number(value), argument, "must be a number", value)


def positive(value: Any, argument: str) -> None:
    number(value, argument)
    require(value > 0, argument, "must be > 0", value)


def non_negative(value: Any, argument: str) -> None:
    number(value, argument)
    require(value >= 0, argument, "must be >= 0", value)


def between(value: Any, argument: str, low: float, high: float) -> None:
    """Check ``low <= value <= high``."""
    number(value, argument)
    require(low <= value <= high, argument, f"must be in [{low}, {high}]", value)


def boolean(value: Any, argument: str) -> None:
    require(isinstance(value, bool), argument, "must be true or false", value)


def reject_bool_for_number(model: Any, field: str | None, value: Any) -> Any:
    """A pydantic before-validator's body: refuse ``true``/``false`` for a numeric key.

    Pydantic reads a boolean as 1 or 0 where a number is expected, so ``epochs: yes``
    (YAML's ``yes`` is ``true``) would silently train one epoch.

    Args:
        model: the pydantic model class the field belongs to.
        field: the field's name.
        value: the value given.

    Raises:
        ValueError: ``value`` is a bool and the field takes numbers but not booleans.
    """
    if isinstance(value, bool) and field is not None and _takes_number(model.model_fields[field].annotation):
        raise ValueError(f"must be a number, not true or false, got {value}")
    return value


def _takes_number(annotation: Any) -> bool:
    """True for ``int``, ``float`` and unions with one (``float | None``), unless the union takes ``bool`` too."""
    types = set(get_args(annotation)) if get_origin(annotation) in (Union, UnionType) else {annotation}
    return bool(types & {int, float}) and bool not in types
