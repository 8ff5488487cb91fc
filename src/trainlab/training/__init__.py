"""The compiled trainer: one engine for K >= 1 models, the epoch loop, and the run directory they write.

The names other packages use (studies, tools, the tour, the CLI) are reached here, imported on
first use so that ``import trainlab.training`` stays cheap::

    from trainlab import training
    run = training.train("examples/basic.yaml", training__epochs=5)
"""

from __future__ import annotations

from trainlab.lazy import lazy_names

_LAZY = {
    "train": "trainlab.training.fit",
    "resume": "trainlab.training.fit",
    "Run": "trainlab.training.trainer",
    "Trainer": "trainlab.training.trainer",
    "Cohort": "trainlab.training.cohort",
    "fit_together": "trainlab.training.sessions",
    "Session": "trainlab.training.sessions",
    "train_sessions": "trainlab.training.sessions",
    "fusable": "trainlab.training.cohort",
    "same_program": "trainlab.training.cohort",
    "monitor_mode": "trainlab.training.summary",
    "load_recipe": "trainlab.training.prepare",
    "check_components": "trainlab.training.prepare",
    "Engine": "trainlab.training.engine",
    "Member": "trainlab.training.engine",
    "steps_per_epoch": "trainlab.training.engine",
}

__all__ = list(_LAZY)

__getattr__, __dir__ = lazy_names(__name__, _LAZY)
