"""Callbacks: Keras' stock ones by name, and trainlab's own, all on Keras' protocol."""

from trainlab.callbacks._list import CallbackList
from trainlab.callbacks._plateau import ReduceLROnPlateau
from trainlab.callbacks._progress import ProgressDisplay, format_logs
from trainlab.rundir import display_order  # public here too (the order of a run's columns lives with its records)
from trainlab.callbacks._registry import build, registry

__all__ = ["CallbackList", "ProgressDisplay", "ReduceLROnPlateau", "build", "display_order", "format_logs", "registry"]
