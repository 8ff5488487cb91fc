"""Package faces whose names are imported on first use (PEP 562), so that importing a face costs nothing.

A face lists where each of its names lives and hands the lookup to :func:`lazy_names`::

    _LAZY = {"load": "trainlab.inference.predictor", "Predictor": "trainlab.inference.predictor"}
    __all__ = list(_LAZY)
    __getattr__, __dir__ = lazy_names(__name__, _LAZY)

``import trainlab.inference`` then imports neither the predictor nor Keras; ``trainlab.inference.load``
imports its module the first time it is asked for. This module is on the ground floor: it imports
nothing of trainlab's.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterable, Mapping
from typing import Any


def lazy_names(
    module: str, names: Mapping[str, str], submodules: Iterable[str] = ()
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """A module's ``__getattr__`` and ``__dir__`` that import each of ``names`` from its module when asked for.

    Nothing is imported until a name is looked up, and nothing is cached in the module: each
    lookup asks the home module (cheap once it is imported), so the face always shows what the
    home module holds now.

    Args:
        module: the face's own name (``__name__``), for messages and for its submodules.
        names: each lazy name and the module it lives in (``{"load": "trainlab.inference.predictor"}``).
        submodules: names that are the face's own submodules (``trainlab.data`` for ``"data"``).

    Returns:
        ``(__getattr__, __dir__)``, to assign at the face's top level.

    Raises:
        AttributeError: (from ``__getattr__``) a name that is neither lazy nor a submodule,
            worded as Python words it: ``module 'trainlab' has no attribute 'x'``.

    Example:
        >>> __getattr__, __dir__ = lazy_names(__name__, {"race": "trainlab.tools.race"})
    """
    homes = dict(names)
    children = frozenset(submodules)

    def __getattr__(name: str) -> Any:
        if name in homes:
            return getattr(importlib.import_module(homes[name]), name)
        if name in children:
            return importlib.import_module(f"{module}.{name}")
        raise AttributeError(f"module {module!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        return sorted({*vars(sys.modules[module]), *homes, *children})

    return __getattr__, __dir__
