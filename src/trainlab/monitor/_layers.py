"""Per-layer health per epoch: gradient norm, weight norm, update ratio, dead and saturated units."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import PercentFormatter

from trainlab.monitor import axes as draw
from trainlab.rundir import Records, as_records

TITLES = ("Gradient norm per layer (mean over the epoch's steps)", "Weight norm per layer (end of epoch)",
          "Update ratio per layer: ‖W_end − W_start‖ / ‖W_start‖ over the epoch",
          "Activations: dead ReLU units (solid), saturated sigmoid/tanh outputs (dashed)")
# Newer runs' layers.csv columns; older runs lack them and get the two-panel figure.
EXTRA_COLUMNS = ("update_ratio", "dead_fraction", "saturated_fraction")


def layers_figure(records: Records | str | Path) -> Figure:
    """Per-layer health from ``layers.csv``, per epoch: gradient norm (log axis) and weight norm.

    When ``layers.csv`` has them, two more panels: the update ratio (how far each layer's
    weights moved in the epoch, relative to their size; log axis) and the share of dead ReLU
    units and saturated sigmoid/tanh outputs. A vanishing layer shows as a gradient line
    sinking decades below the others; an exploding one as a line climbing; weights that grow
    without bound as a steep weight line; a layer that stopped learning as an update ratio
    falling decades below the others'.

    Args:
        records: a run's records (:func:`trainlab.monitor.load`) or its run directory.

    Returns:
        The figure: axes gradient norm, weight norm, then (newer runs) update ratio and
        activations. Each has one line per layer, in ``layers.csv`` order, a layer in the same
        colour in every panel, then the epoch marks.

    Raises:
        TrainlabError: given a run directory whose records cannot be read.

    Example:
        >>> layers_figure("runs/advanced").savefig("layers.png")  # doctest: +SKIP
    """
    records = as_records(records)
    names = list(dict.fromkeys(str(r["layer"]) for r in records.layers if r.get("layer") is not None))
    colors = {name: _color(i, len(names)) for i, name in enumerate(names)}
    extra = any(r.get(c) is not None for r in records.layers for c in EXTRA_COLUMNS)
    fig = draw.new_figure(14, 10 if extra else 5.5)
    axes = list(fig.subplots(2 if extra else 1, 2).flat)
    _panel(axes[0], records, "grad_norm", TITLES[0], "L2 norm", colors, log=True)
    _panel(axes[1], records, "weight_norm", TITLES[1], "L2 norm", colors, log=False)
    if extra:
        _panel(axes[2], records, "update_ratio", TITLES[2], "relative change per epoch", colors, log=True)
        _activations(axes[3], records, colors)
    # One legend for all panels, outside them: a layer keeps its colour in each, and with
    # many layers an inside legend would cover the lines.
    handles = [Line2D([], [], color=colors[n], lw=1.5, label=n) for n in names]
    handles += [h for h in axes[0].get_legend_handles_labels()[0] if h.get_label() not in colors]
    if names:
        fig.legend(handles=handles, loc="outside right upper", fontsize=9, title="layer",
                   ncol=1 if len(handles) <= 24 else 2)
    draw.set_suptitle(fig, draw.suptitle(records, "layers"), 12)
    return fig


def _color(i: int, n: int) -> tuple[float, ...] | str:
    return f"C{i}" if n <= 10 else colormaps["tab20"](i % 20)


def _panel(ax: Axes, records: Records, column: str, title: str, ylabel: str, colors: dict, log: bool) -> None:
    ax.set_title(title, fontsize=11)
    draw.epoch_axis(ax, records, ylabel)
    series = {name: s for name, s in records.layer_series(column).items() if len(s[0])}
    if not series:
        draw.note(ax, f"no {column} per layer in layers.csv")
        return
    for name, (epochs, values) in series.items():
        draw.plot_finite(ax, epochs, values, lw=1.5, label=name, color=colors.get(name),
                         marker="o" if len(epochs) <= 20 else None, ms=3)
    draw.mark_epochs(ax, records)
    x = np.concatenate([e for e, _ in series.values()])
    y = np.concatenate([v for _, v in series.values()])
    order = np.argsort(x, kind="stable")
    draw.mark_non_finite(ax, x[order], y[order], lambda e: f"epoch {e:g}")
    if log:
        draw.log_axis(ax, y)
    else:
        draw.log_if_wide(ax, y, 1e3)


def _activations(ax: Axes, records: Records, colors: dict) -> None:
    """Dead (relu) and saturated (sigmoid/tanh) shares per layer, 0 to 100 %."""
    ax.set_title(TITLES[3], fontsize=11)
    draw.epoch_axis(ax, records, "share of units / outputs")
    drawn = False
    for column, ls in (("dead_fraction", "-"), ("saturated_fraction", "--")):
        for name, (epochs, values) in records.layer_series(column).items():
            if len(epochs):
                draw.plot_finite(ax, epochs, values, lw=1.5, ls=ls, label=f"{name} ({column.split('_')[0]})",
                                 color=colors.get(name), marker="o" if len(epochs) <= 20 else None, ms=3)
                drawn = True
    if not drawn:
        draw.note(ax, "no layer with a relu, sigmoid or tanh activation")
        return
    ax.set_ylim(-0.03, 1.03)
    ax.yaxis.set_major_formatter(PercentFormatter(xmax=1.0))
    draw.mark_epochs(ax, records)
