"""Optimizers: every Keras optimizer by name, with recipe-style clipping and scalable schedules;
``race`` compares them on analytic test functions (tutorial section 2).

Example:
    >>> from trainlab import optimizers
    >>> opt = optimizers.build({"name": "sgd", "learning_rate": 0.1, "momentum": 0.9, "clip_norm": 1.0})
"""

from trainlab.optimizers._fused import apply as fused_apply
from trainlab.optimizers._fused import fusable
from trainlab.optimizers._race import FUNCTIONS, RaceResult, TestFunction, race
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
