"""Callbacks: Keras' stock ones by name, and trainlab's own, all on Keras' protocol."""

from trainlab.callbacks._list import CallbackList
from trainlab.callbacks._plateau import ReduceLROnPlateau
from trainlab.callbacks._progress import ProgressDisplay, display_order, format_logs
from trainlab.callbacks._registry import build, registry

__all__ = ["CallbackList", "ProgressDisplay", "ReduceLROnPlateau", "build", "display_order", "format_logs", "registry"]
