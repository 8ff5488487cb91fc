"""Optimizers: every Keras optimizer by name, with recipe-style clipping and scalable schedules.

``race`` (tutorial section 2) is a tool that lives in :mod:`trainlab.tools.race`; the names here still reach it.

Example:
    >>> from trainlab import optimizers
    >>> opt = optimizers.build({"name": "sgd", "learning_rate": 0.1, "momentum": 0.9, "clip_norm": 1.0})
"""

import importlib
from typing import Any

from trainlab.optimizers._fused import apply as fused_apply
from trainlab.optimizers._fused import fusable
from trainlab.optimizers._registry import build, learning_rate, learning_rate_scale, registry

__all__ = [
    "FUNCTIONS",
    "RaceResult",
    "TestFunction",
    "build",
    "fusable",
    "fused_apply",
    "learning_rate",
    "learning_rate_scale",
    "race",
    "registry",
]

_TOOL = {"FUNCTIONS", "RaceResult", "TestFunction", "race"}


def __getattr__(name: str) -> Any:
    # The race is a tool above this package; import it only when asked (no import arrow runs back up).
    if name in _TOOL:
        return getattr(importlib.import_module("trainlab.tools.race"), name)
    raise AttributeError(f"module 'trainlab.optimizers' has no attribute {name!r}")
