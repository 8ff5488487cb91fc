"""Training curves: the loss and every metric, train against validation, per epoch."""

from __future__ import annotations

import math
from pathlib import Path

from matplotlib.figure import Figure

from trainlab.monitor import axes as draw
from trainlab.rundir import Records, as_records

MAX_COLUMNS = 3


def curves_figure(records: Records | str | Path) -> Figure:
    """One panel per curve: ``loss`` then each metric of ``history.csv``, train and validation.

    Each panel marks the best epoch and early stopping; epochs without validation are
    skipped; non-finite values are left out and annotated.

    Args:
        records: a run's records (:func:`trainlab.monitor.load`) or its run directory.

    Returns:
        The figure, one axes per curve in ``fig.axes`` (loss first, then metrics in file order).

    Raises:
        TrainlabError: given a run directory whose records cannot be read.

    Example:
        >>> curves_figure("runs/regression").savefig("curves.png")  # doctest: +SKIP
    """
    records = as_records(records)
    columns = ["loss", *records.metrics]
    ncols = min(MAX_COLUMNS, len(columns))
    nrows = math.ceil(len(columns) / ncols)
    fig = draw.new_figure(5 * ncols, 4 * nrows + 0.4)
    axes = list(fig.subplots(nrows, ncols, squeeze=False).flat)
    for ax, column in zip(axes, columns):
        draw.pair_panel(ax, records, column)
    for ax in axes[len(columns):]:
        ax.remove()
    draw.set_suptitle(fig, draw.suptitle(records, "training curves"), 12)
    return fig

