"""Learning-rate schedules: Keras' own by name, plus warm-up cosine, one-cycle and ``Scaled``.

``plot`` (the schedule figures) is a tool that lives in :mod:`trainlab.tools.schedule_plot`; the names here still reach it.

Example:
    >>> from trainlab import schedules
    >>> lr = schedules.build({"name": "warmup_cosine", "initial_learning_rate": 1e-3,
    ...                       "warmup_steps": 100, "total_steps": 1000, "min_learning_rate": 1e-4})
    >>> schedules.evaluate(lr, 1000)  # for a plot
"""

from trainlab.errors import ArgumentError
from trainlab.lazy import lazy_names
from trainlab.schedules._constant import Constant
from trainlab.schedules._one_cycle import OneCycle, momentum_schedule, one_cycle, one_cycle_momentum
from trainlab.schedules._per_epoch import PerEpoch
from trainlab.schedules._registry import build, evaluate, registry
from trainlab.schedules._scaled import Scaled, as_scaled
from trainlab.schedules._warmup_cosine import WarmupCosineDecay, warmup_cosine

__all__ = [
    "ArgumentError",
    "Constant",
    "Curve",
    "OneCycle",
    "PerEpoch",
    "RecipeSchedule",
    "Scaled",
    "WarmupCosineDecay",
    "as_scaled",
    "build",
    "curves",
    "evaluate",
    "momentum_schedule",
    "one_cycle",
    "one_cycle_momentum",
    "parse_spec",
    "plot",
    "recipe_schedule",
    "registry",
    "save_png",
    "warmup_cosine",
]

# The schedule plots' old names: a tool above this package, imported only when one is asked for (the lazy
# pattern of every package face), so that this package never imports the tools at import time.
_LAZY = {name: "trainlab.tools.schedule_plot"
         for name in ("Curve", "RecipeSchedule", "curves", "parse_spec", "plot", "recipe_schedule", "save_png")}

__getattr__, __dir__ = lazy_names(__name__, _LAZY)
