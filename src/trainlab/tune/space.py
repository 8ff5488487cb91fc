"""The search space: each recipe key path and the distribution its values are drawn from.

A distribution is one of (the search file's ``space`` section)::

    optimizer.learning_rate: {log_uniform: [1.0e-5, 1.0]}
    model.dropout: {uniform: [0.0, 0.5]}
    training.early_stopping.patience: {int: [3, 15]}          # {int: [lo, hi], log: true}: log-spaced
    model.hidden: {choice: [[32], [64, 32]]}

Optuna sees a choice as the index of its value (its categorical distributions take scalars only,
and a choice may be a list such as a layer width list); trainlab turns the index back into the value.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from trainlab.errors import TrainlabError, did_you_mean

KINDS = ("log_uniform", "uniform", "int", "choice")


@dataclass(frozen=True)
class Dimension:
    """One key of the space: where it goes in the recipe and what it is drawn from.

    Attributes:
        key: the recipe key path (``optimizer.learning_rate``).
        kind: ``log_uniform``, ``uniform``, ``int`` or ``choice``.
        low, high: a range's bounds (inclusive).
        log: whether the range is searched on a log scale (``log_uniform``, ``{int: ..., log: true}``).
        choices: a choice's values.
    """

    key: str
    kind: str
    low: float = 0.0
    high: float = 0.0
    log: bool = False
    choices: tuple[Any, ...] = ()

    def optuna(self) -> Any:
        """This dimension as an Optuna distribution (a choice: the index of its value)."""
        import optuna  # a tune's own dependency: imported when a tune samples, not with trainlab

        if self.kind == "choice":
            return optuna.distributions.CategoricalDistribution(list(range(len(self.choices))))
        if self.kind == "int":
            return optuna.distributions.IntDistribution(int(self.low), int(self.high), log=self.log)
        return optuna.distributions.FloatDistribution(self.low, self.high, log=self.log)

    def value(self, drawn: Any) -> Any:
        """The recipe value of what Optuna drew (a choice's index -> its value)."""
        if self.kind == "choice":
            return self.choices[int(drawn)]
        return int(drawn) if self.kind == "int" else float(drawn)

    def drawn(self, value: Any) -> Any:
        """What Optuna draws for a recipe value (a choice's value -> its index): :meth:`value` undone.

        A value read back from ``trials.csv`` matches the choice it was written from, also a list
        choice, which reads back as its text (``[64, 32]``).

        Raises:
            ValueError: the value is none of a choice's values.
        """
        if self.kind != "choice":
            return int(value) if self.kind == "int" else float(value)
        for index, choice in enumerate(self.choices):
            if value == choice or (isinstance(value, str) and value == str(choice)):
                return index
        raise ValueError(f"{self.key}: {value!r} is none of the choices {list(self.choices)}")

    def grid(self) -> list[Any]:
        """Every value of a discrete dimension, for the grid sampler (Optuna's values: a choice's indices)."""
        if self.kind == "choice":
            return list(range(len(self.choices)))
        if self.kind == "int":
            return list(range(int(self.low), int(self.high) + 1))
        raise TrainlabError(f"space.{self.key}", "sampler: grid needs choice or int dimensions only, not a "
                            f"{self.kind} range", {self.kind: [self.low, self.high]})

    def examples(self) -> list[Any]:
        """Values to validate the recipe with: a range's ends, every choice."""
        if self.kind == "choice":
            return list(self.choices)
        return [self.value(self.low), self.value(self.high)]


def parse_space(space: Mapping[str, Any]) -> list[Dimension]:
    """Read the ``space`` section into dimensions, checking each distribution.

    Args:
        space: recipe key path -> distribution mapping, as the search file has it.

    Returns:
        The dimensions, in the file's order.

    Raises:
        TrainlabError: an empty space, an unknown distribution, an empty or reversed range, a log
            range that touches 0, an empty choice (``space.model.dropout: ...``).

    Example:
        >>> [d.kind for d in parse_space({"model.dropout": {"uniform": [0.0, 0.5]}})]
        ['uniform']
    """
    if not space:
        raise TrainlabError("space", "needs at least one recipe key and its distribution", {})
    return [_dimension(str(key), spec) for key, spec in space.items()]


def _dimension(key: str, spec: Any) -> Dimension:
    where = f"space.{key}"
    if not isinstance(spec, Mapping):
        raise TrainlabError(where, f"must be a mapping with one of {', '.join(KINDS)}", spec)
    kinds = [k for k in spec if k in KINDS]
    unknown = [k for k in spec if k not in KINDS and k != "log"]
    if unknown:
        raise TrainlabError(f"{where}.{unknown[0]}", f"is not a distribution ({', '.join(KINDS)})"
                            f"{did_you_mean(unknown[0], KINDS)}", spec[unknown[0]])
    if len(kinds) != 1:
        raise TrainlabError(where, f"must have exactly one of {', '.join(KINDS)}", dict(spec))
    kind = kinds[0]
    log = spec.get("log", kind == "log_uniform")
    if "log" in spec and kind != "int":
        raise TrainlabError(f"{where}.log", "applies to int ranges only (log_uniform is log-spaced already)", spec["log"])
    if not isinstance(log, bool):
        raise TrainlabError(f"{where}.log", "must be true or false", log)
    if kind == "choice":
        choices = spec["choice"]
        if not isinstance(choices, list) or not choices:
            raise TrainlabError(f"{where}.choice", "must be a non-empty list of values", choices)
        return Dimension(key, kind, choices=tuple(choices))
    low, high = _bounds(f"{where}.{kind}", spec[kind], kind)
    if log and low <= 0:
        raise TrainlabError(f"{where}.{kind}", "a log range must lie above 0", spec[kind])
    return Dimension(key, kind, low, high, log)


def _bounds(where: str, bounds: Any, kind: str) -> tuple[float, float]:
    """A range's ``[low, high]``: numbers (integers for ``int``), low < high (low <= high for ``int``)."""
    number = int if kind == "int" else (int, float)
    if (not isinstance(bounds, list) or len(bounds) != 2
            or not all(isinstance(b, number) and not isinstance(b, bool) for b in bounds)):
        what = "integers" if kind == "int" else "numbers"
        raise TrainlabError(where, f"must be [low, high], two {what}", bounds)
    low, high = bounds
    if not all(math.isfinite(b) for b in bounds):
        raise TrainlabError(where, "must be finite", bounds)
    if low > high or (low == high and kind != "int"):
        raise TrainlabError(where, "must be [low, high] with low < high (an empty or reversed range)", bounds)
    return float(low), float(high)
