"""Argument checks for registered factories, reported at the recipe key path.

A factory does not know where in the recipe it was named, so it raises an
:class:`ArgumentError` naming only its argument; :func:`call_factory` adds the
key path, giving ``optimizer.learning_rate.decay_steps: must be > 0, got 0``.
Losses, optimizers and schedules all use this module.
"""

from __future__ import annotations

import inspect
import numbers
from collections.abc import Mapping
from typing import Any

from trainlab.errors import TrainlabError, _show
from trainlab.registry import Registry


class ArgumentError(ValueError):
    """A factory argument that breaks a rule, named relative to its component.

    It is a ``ValueError`` so that code building a component directly (outside a
    recipe) still gets a readable message: ``decay_steps: must be > 0, got 0``.
    """

    def __init__(self, argument: str, rule: str, value: Any) -> None:
        self.argument = argument
        self.rule = rule
        self.value = value
        super().__init__(f"{argument}: {rule}, got {_show(value)}")


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


def call_factory(registry: Registry, name: str, kwargs: Mapping[str, Any], where: str) -> Any:
    """Call a registered factory, rewording its errors at the key path ``where``.

    Args:
        registry: the registry ``name`` is registered in.
        name: a canonical name, as returned by ``registry.split``.
        kwargs: the keyword arguments (already checked by ``registry.split``).
        where: the recipe key path of the component, e.g. ``optimizer.learning_rate``.

    Returns:
        What the factory returns.

    Raises:
        TrainlabError: a required argument is missing, or the factory rejects a value.
    """
    entry = registry.entry(name, where)
    for param in entry.parameters().values():
        required = param.default is inspect.Parameter.empty and param.kind in (
            inspect.Parameter.POSITIONAL_OR_KEYWORD,
            inspect.Parameter.KEYWORD_ONLY,
        )
        if required and param.name not in kwargs:
            raise TrainlabError(f"{where}.{param.name}", f"is required by {registry.kind} {name!r}")
    try:
        return entry.factory(**kwargs)
    except ArgumentError as exc:
        raise TrainlabError(f"{where}.{exc.argument}", exc.rule, exc.value) from None
    except TrainlabError:
        raise
    except (ValueError, TypeError) as exc:
        # Keras' own checks (e.g. an optimizer's beta range) end up here.
        raise TrainlabError(where, f"invalid arguments for {registry.kind} {name!r} ({exc})", dict(kwargs)) from exc
