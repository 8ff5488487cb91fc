"""Figures drawn from a run's records (never from a live model).

    from trainlab import monitor
    records = monitor.load("runs/basic")          # history, steps, layers, summary, recipe, weights
    monitor.monitor_figure(records)               # tutorial section 10's 2x3 monitor
    monitor.weights_figure(records)               # kernel histograms, first vs last epoch
    monitor.save_figures("runs/basic")            # monitor.png, curves.png, layers.png, weights.png

``load`` and ``Records`` need only the standard library and NumPy; the figure functions
import matplotlib on first use, so ``import trainlab.monitor`` stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from trainlab.lazy import lazy_names
from trainlab.rundir import Records, load  # public here too; they live in trainlab.rundir

if TYPE_CHECKING:
    from trainlab.monitor._curves import curves_figure
    from trainlab.monitor._layers import layers_figure
    from trainlab.monitor._monitor import monitor_figure
    from trainlab.monitor._save import render_figures, save_figures, write_pngs
    from trainlab.monitor._weights import weights_figure

_LAZY = {
    "monitor_figure": "trainlab.monitor._monitor",
    "curves_figure": "trainlab.monitor._curves",
    "layers_figure": "trainlab.monitor._layers",
    "weights_figure": "trainlab.monitor._weights",
    "render_figures": "trainlab.monitor._save",
    "save_figures": "trainlab.monitor._save",
    "write_pngs": "trainlab.monitor._save",
}

__all__ = ["Records", "load", *_LAZY]

__getattr__, __dir__ = lazy_names(__name__, _LAZY)
