"""Write a run's figures as PNG files into its run directory."""

from __future__ import annotations

import os
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg

from trainlab.monitor._curves import curves_figure
from trainlab.monitor._layers import layers_figure
from trainlab.monitor._monitor import monitor_figure
from trainlab.monitor._records import load

FIGURES = {"monitor.png": monitor_figure, "curves.png": curves_figure, "layers.png": layers_figure}


def save_figures(run_dir: str | Path) -> list[Path]:
    """Draw ``monitor.png``, ``curves.png`` and ``layers.png`` from a run's records, into its folder.

    Rendering uses Agg directly (no display, no pyplot state), so it works on a headless
    machine and while another process is still training into the folder. Each file is
    written whole or not at all.

    Args:
        run_dir: a run directory.

    Returns:
        The paths written, in the order above.

    Raises:
        TrainlabError: the folder or its ``history.csv`` is missing or empty.

    Example:
        >>> save_figures("runs/basic")  # doctest: +SKIP
        [PosixPath('runs/basic/monitor.png'), PosixPath('runs/basic/curves.png'), PosixPath('runs/basic/layers.png')]
    """
    records = load(run_dir)
    paths = []
    for name, build in FIGURES.items():
        path = Path(run_dir) / name
        figure = build(records)
        FigureCanvasAgg(figure)
        tmp = path.with_name(path.name + ".tmp")
        figure.savefig(tmp, format="png")
        os.replace(tmp, path)
        paths.append(path)
    return paths
