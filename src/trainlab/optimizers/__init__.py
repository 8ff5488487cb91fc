"""Optimizers: every Keras optimizer by name, with recipe-style clipping and scalable schedules.

``race`` (tutorial section 2) is a tool that lives in :mod:`trainlab.tools.race`; the names here still reach it.

Example:
    >>> from trainlab import optimizers
    >>> opt = optimizers.build({"name": "sgd", "learning_rate": 0.1, "momentum": 0.9, "clip_norm": 1.0})
"""

from trainlab.lazy import lazy_names

from trainlab.optimizers._fused import apply as fused_apply
from trainlab.optimizers._fused import fusable
from trainlab.optimizers._momentum import ScheduledValue, cycle_momentum
from trainlab.optimizers._registry import build, learning_rate, learning_rate_scale, loss_scale, registry, unwrap

__all__ = [
    "FUNCTIONS",
    "RaceResult",
    "ScheduledValue",
    "TestFunction",
    "build",
    "cycle_momentum",
    "fusable",
    "fused_apply",
    "learning_rate",
    "learning_rate_scale",
    "loss_scale",
    "race",
    "registry",
    "unwrap",
]

# The race's old names: a tool above this package, imported only when one is asked for (the lazy pattern of
# every package face), so that this package never imports the tools at import time.
_LAZY = {name: "trainlab.tools.race" for name in ("FUNCTIONS", "RaceResult", "TestFunction", "race")}

__getattr__, __dir__ = lazy_names(__name__, _LAZY)
