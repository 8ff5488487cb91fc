"""The compiled trainer: one engine for K >= 1 models, the epoch loop, and the run directory they write.

The names other packages use (studies, tools, the tour, the CLI) are reached here, imported on
first use so that ``import trainlab.training`` stays cheap::

    from trainlab import training
    run = training.train("examples/basic.yaml", training__epochs=5)
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "train": "trainlab.training.trainer",
    "resume": "trainlab.training.trainer",
    "Run": "trainlab.training.trainer",
    "Trainer": "trainlab.training.trainer",
    "fit_together": "trainlab.training.trainer",
    "fusable": "trainlab.training.trainer",
    "same_program": "trainlab.training.trainer",
    "monitor_mode": "trainlab.training.trainer",
    "Engine": "trainlab.training.engine",
    "Member": "trainlab.training.engine",
    "steps_per_epoch": "trainlab.training.engine",
}

__all__ = list(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'trainlab.training' has no attribute {name!r}")
