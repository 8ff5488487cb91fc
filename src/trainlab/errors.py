"""The one error type a user's mistake raises, worded the same everywhere.

Every message names where the problem is (a recipe key path such as
``optimizer.learning_rate`` or a file), the rule that was broken, and the value
received::

    optimizer.learning_rate: must be > 0, got -0.1

The CLI prints it as ``trainlab: error: <message>`` and exits with status 2.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any

_MISSING = object()


class TrainlabError(Exception):
    """A user's mistake: bad recipe, bad data, bad file.

    Args:
        where: the recipe key path (``"data.target"``) or file the problem is in.
        rule: what was expected, phrased to follow ``where:``.
        value: the value received; omitted from the message when not given.
    """

    def __init__(self, where: str, rule: str, value: Any = _MISSING) -> None:
        self.where = where
        self.rule = rule
        self.value = value
        message = f"{where}: {rule}" if where else rule
        if value is not _MISSING:
            message += f", got {_show(value)}"
        super().__init__(_one_line(message))

    def within(self, prefix: str) -> TrainlabError:
        """The same error, placed under ``prefix`` (``vary.dropout`` + ``model.dropout``)."""
        where = f"{prefix}.{self.where}" if self.where else prefix
        return TrainlabError(where, self.rule, self.value) if self.value is not _MISSING else TrainlabError(where, self.rule)


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


def _one_line(text: str) -> str:
    """``text`` with every unprintable character escaped: a key such as ``"a\\nb"`` (quoted in YAML) stays on one line."""
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)


def _show(value: Any) -> str:
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 120 else text[:117] + "..."


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """Return ``" (did you mean 'x'?)"`` for the closest choice, or ``""``."""
    close = difflib.get_close_matches(str(name), list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""
