"""Names Keras' own ``get`` functions accept (activations, initializers, metrics), with did-you-mean errors."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from trainlab.errors import TrainlabError, did_you_mean


def check_keras_name(
    module: Any, name: str, where: str, kind: str, extra: Iterable[str] = (), aliases: Iterable[str] = ()
) -> None:
    """Raise unless ``module.get(name)`` knows ``name`` (a Keras activation, initializer or metric).

    Args:
        module: ``keras.activations``, ``keras.initializers`` or ``keras.metrics``.
        name: the name in the recipe.
        where: its key path, for the message.
        kind: what it names, for the message.
        extra: names trainlab accepts besides Keras' (``accuracy`` for any task).
        aliases: short names ``module.get`` accepts that are not attributes of ``module``.
    """
    if name.lower() in extra:
        return
    try:
        module.get(name)
        return
    except Exception:  # noqa: BLE001, S110 (any failure means Keras does not know the name)
        pass
    names = sorted(set(extra) | keras_names(module, aliases))
    raise TrainlabError(
        where, f"unknown {kind}{did_you_mean(name.lower(), names)}; valid names: {', '.join(names)}", name
    )


def keras_names(module: Any, aliases: Iterable[str] = ()) -> set[str]:
    """The snake_case names ``module.get`` accepts: its functions, its classes' names, ``aliases``."""
    candidates = set(aliases)
    for attr in dir(module):
        if attr.startswith("_") or attr in ("get", "serialize", "deserialize"):
            continue
        candidates.add(attr if attr.islower() else re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", attr).lower())
    names = set()
    for name in candidates - _GENERIC:
        try:
            module.get(name)
        except Exception:  # noqa: BLE001 (Keras' get raises KeyError for some, e.g. "constant")
            continue
        names.add(name)
    return names


# Base classes and reductions that `get` accepts but no recipe means.
_GENERIC = {"metric", "mean_metric_wrapper", "mean", "sum", "initializer"}
