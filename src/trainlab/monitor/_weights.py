"""Weight histograms: each layer's kernel values after the first epoch and after the last."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from trainlab.monitor import axes as draw
from trainlab.rundir import Records, as_records

MAX_COLUMNS = 4
MIN_BINS, MAX_BINS = 10, 60
FIRST = "tab:blue"
LAST = "tab:orange"


def weights_figure(records: Records | str | Path) -> Figure:
    """One panel per layer: a histogram of its kernel values at the first and the last recorded epoch.

    Read from ``weights.npz`` (``records.weights``). Both histograms of a panel share their
    bins, so a widening, a drift or a collapse to zero reads directly; the legend gives each
    epoch's standard deviation. A run without ``weights.npz`` gets one panel saying so.

    Args:
        records: a run's records (:func:`trainlab.monitor.load`) or its run directory.

    Returns:
        The figure, one axes per layer in ``weights.npz`` order; in each, the first epoch's
        histogram is ``ax.patches[0]`` and the last epoch's ``ax.patches[1]``.

    Raises:
        TrainlabError: given a run directory whose records cannot be read.

    Example:
        >>> weights_figure("runs/basic").savefig("weights.png")  # doctest: +SKIP
    """
    records = as_records(records)
    layers = list(records.weights)
    if not layers:
        fig = draw.new_figure(8, 3.5)
        ax = fig.subplots()
        ax.set_axis_off()
        draw.note(ax, "no weights.npz in this run directory: no kernel values to show")
        draw.set_suptitle(fig, draw.suptitle(records, "kernel weights"), 12)
        return fig
    ncols = min(MAX_COLUMNS, len(layers))
    nrows = math.ceil(len(layers) / ncols)
    fig = draw.new_figure(4.2 * ncols, 3.4 * nrows + 0.5)
    axes = list(fig.subplots(nrows, ncols, squeeze=False).flat)
    for ax, layer in zip(axes, layers):
        _panel(ax, layer, records.weights[layer])
    for ax in axes[len(layers):]:
        ax.remove()
    draw.set_suptitle(fig, draw.suptitle(records, "kernel weights, first and last epoch"), 12)
    return fig


def _panel(ax: Axes, layer: str, by_epoch: dict[int, np.ndarray]) -> None:
    ax.set_title(layer)
    ax.set_xlabel("kernel weight value")
    ax.set_ylabel("count")
    ax.grid(True, alpha=0.3)
    epochs = sorted(by_epoch)
    shown = [epochs[0]] if len(epochs) == 1 else [epochs[0], epochs[-1]]
    finite = {e: by_epoch[e][np.isfinite(by_epoch[e])] for e in shown}
    values = np.concatenate(list(finite.values()))
    if not len(values):
        draw.note(ax, "no finite kernel values")
        return
    # About two bins per sqrt(sample): an output layer of 32 weights gets 11 bins, not 60 mostly empty ones.
    most = max(len(v) for v in finite.values())
    bins = np.histogram_bin_edges(values, bins=int(np.clip(2 * np.sqrt(most), MIN_BINS, MAX_BINS)))
    for epoch, style in zip(shown, ({"histtype": "stepfilled", "color": FIRST, "alpha": 0.4},
                                    {"histtype": "step", "color": LAST, "lw": 1.6})):
        kept = finite[epoch]
        ax.hist(kept, bins=bins, label=f"epoch {epoch} (std {np.std(kept):.3g})" if len(kept) else f"epoch {epoch}",
                **style)
    dropped = sum(len(by_epoch[e]) - len(finite[e]) for e in shown)
    if dropped:
        ax.text(0.02, 0.97, f"{dropped} non-finite values left out", transform=ax.transAxes, va="top",
                fontsize=8, color=draw.NON_FINITE)
    draw.legend(ax)
