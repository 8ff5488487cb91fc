"""Argument checks for registered factories (losses, optimizers, schedules, ...).

A factory does not know where in the recipe it was named, so it raises an
:class:`~trainlab.errors.ArgumentError` naming only its argument; :meth:`Registry.call
<trainlab.registry.Registry.call>` adds the key path, giving
``optimizer.learning_rate.decay_steps: must be > 0, got 0``.
"""

from __future__ import annotations

import numbers
from typing import Any

from trainlab.errors import ArgumentError


def is_number(value: Any) -> bool:
    """True for real numbers (Python or NumPy), False for bools and strings."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


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
