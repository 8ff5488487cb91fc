"""Write a run's figures as PNG files into its run directory."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from trainlab.monitor.axes import png_bytes
from trainlab.monitor._curves import curves_figure
from trainlab.monitor._layers import layers_figure
from trainlab.monitor._monitor import monitor_figure
from trainlab.rundir import Records, as_records, load
from trainlab.monitor._weights import weights_figure

FIGURES = {"monitor.png": monitor_figure, "curves.png": curves_figure, "layers.png": layers_figure,
           "weights.png": weights_figure}


def render_figures(records: Records | str | Path) -> dict[str, bytes]:
    """Each figure the records can draw, as PNG bytes by file name (``monitor.png``, ...).

    ``weights.png`` only when the run has ``weights.npz``. Rendered by Agg, in memory.

    Args:
        records: a run's records (:func:`trainlab.monitor.load`) or its run directory.

    Returns:
        ``{file name: PNG bytes}`` in the order of ``FIGURES``.

    Raises:
        TrainlabError: given a run directory whose records cannot be read.

    Example:
        >>> render_figures("runs/basic")["monitor.png"][:4]  # doctest: +SKIP
        b'\\x89PNG'
    """
    records = as_records(records)
    pngs = {}
    for name, build in FIGURES.items():
        if name == "weights.png" and not records.weights:
            continue
        pngs[name] = png_bytes(build(records))
    return pngs


def write_pngs(run_dir: str | Path, pngs: Mapping[str, bytes]) -> list[Path]:
    """Write ``{file name: PNG bytes}`` into ``run_dir``, each file whole or not at all."""
    paths = []
    for name, data in pngs.items():
        path = Path(run_dir) / name
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)
        paths.append(path)
    return paths


def save_figures(run_dir: str | Path) -> list[Path]:
    """Draw ``monitor.png``, ``curves.png``, ``layers.png`` (and ``weights.png``) from a run's records.

    Rendering uses Agg directly (no display, no pyplot state), so it works on a headless
    machine and while another process is still training into the folder. Each file is
    written whole or not at all. ``weights.png`` is drawn only when the run has ``weights.npz``.

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
    return write_pngs(run_dir, render_figures(load(run_dir)))
