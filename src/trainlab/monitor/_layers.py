"""Per-layer health: each layer's gradient norm and weight norm per epoch."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from trainlab.monitor import _axes as draw
from trainlab.monitor._records import Records, as_records

TITLES = ("Gradient norm per layer (mean over the epoch's steps)", "Weight norm per layer (end of epoch)")


def layers_figure(records: Records | str | Path) -> Figure:
    """Two panels from ``layers.csv``: per-layer gradient norm (log axis) and weight norm, per epoch.

    A vanishing layer shows as a gradient line sinking decades below the others; an
    exploding one as a line climbing; weights that grow without bound as a steep weight line.

    Args:
        records: a run's records (:func:`trainlab.monitor.load`) or its run directory.

    Returns:
        The figure; each axes has one line per layer, in ``layers.csv`` order, then the epoch marks.

    Raises:
        TrainlabError: given a run directory whose records cannot be read.

    Example:
        >>> layers_figure("runs/advanced").savefig("layers.png")  # doctest: +SKIP
    """
    records = as_records(records)
    fig = draw.new_figure(14, 5.5)
    grad, weight = fig.subplots(1, 2)
    _panel(grad, records, "grad_norm", TITLES[0], log=True)
    _panel(weight, records, "weight_norm", TITLES[1], log=False)
    # One legend for both panels, outside them: a layer keeps its colour in each, and with
    # many layers an inside legend would cover the lines.
    handles, labels = max((grad.get_legend_handles_labels(), weight.get_legend_handles_labels()),
                          key=lambda pair: len(pair[0]))
    if handles:
        fig.legend(handles, labels, loc="outside right upper", fontsize=9, title="layer",
                   ncol=1 if len(handles) <= 16 else 2)
    fig.suptitle(draw.suptitle(records, "layers"), fontsize=12)
    return fig


def _panel(ax: Axes, records: Records, column: str, title: str, log: bool) -> None:
    ax.set_title(title)
    draw.epoch_axis(ax, records, "L2 norm")
    series = records.layer_series(column)
    if not series:
        draw.note(ax, "no per-layer records in layers.csv")
        return
    for name, (epochs, values) in series.items():
        draw.plot_finite(ax, epochs, values, lw=1.5, label=name, marker="o" if len(epochs) <= 20 else None, ms=3)
    draw.mark_epochs(ax, records)
    x = np.concatenate([e for e, _ in series.values()])
    y = np.concatenate([v for _, v in series.values()])
    order = np.argsort(x, kind="stable")
    draw.mark_non_finite(ax, x[order], y[order], lambda e: f"epoch {e:g}")
    if log:
        draw.log_axis(ax, y)
    elif not log:
        draw.log_if_wide(ax, y, 1e3)
