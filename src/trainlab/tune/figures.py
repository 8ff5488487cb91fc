"""A tune's figures, read from its directory: progress, the metric per parameter, parallel coordinates,
learning curves and parameter importances.

    from trainlab.tune.figures import tune_figures
    tune_figures("runs/basic-search-20260101-120000")   # figures/progress.png, parameters.png, ...

Everything is read from the tune directory's files (``tune.json``, ``trials.csv``, each trial's
``runs/trial-NNN/history.csv``), never from a live search: the figures of a search that was
interrupted are drawn the same way, and ``trainlab report TUNE_DIR`` draws them again. Throughout,
completed trials are coloured or blue, pruned ones grey with a down-pointing triangle (they stopped),
failed ones a red cross, and the best trial a green star.
"""

from __future__ import annotations

import math
import re
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.cm import ScalarMappable
from matplotlib.colors import ListedColormap, Normalize
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullFormatter

from trainlab.monitor import axes as draw
from trainlab.tune.importance import Importances, param_importances
from trainlab.checks import finite
from trainlab.tune.records import TuneRecords, choice_index, choice_label, read_tune
from trainlab.tune.space import Dimension

FIGURES = "figures"
PROGRESS, PARAMETERS, PARALLEL, CURVES, IMPORTANCE = (
    "progress.png", "parameters.png", "parallel.png", "curves.png", "importance.png")
PRUNED = draw.STOPPED
FAILED = draw.NON_FINITE
LABEL_WIDTH = 22  # characters before an axis label (a key path, a choice) wraps


def tune_figures(tune_dir: str | Path) -> list[Path]:
    """Draw a tune's figures into ``<tune_dir>/figures/``.

    ``progress.png``: each trial's value and the best so far. ``parameters.png``: the metric against
    each space key. ``parallel.png``: parallel coordinates, one line per trial. ``curves.png``: each
    trial's metric per epoch, with the pruning points. ``importance.png``: parameter importances
    (fANOVA, :mod:`trainlab.tune.importance`), only with at least
    :data:`~trainlab.tune.importance.MIN_COMPLETED_FOR_IMPORTANCE` completed trials. A search with
    no finished trial yet draws only the curves of its trials so far (if any).

    Args:
        tune_dir: a tune directory (``tune.json``, ``trials.csv``, ``runs/``).

    Returns:
        The paths written, in the order above.

    Raises:
        TrainlabError: ``tune.json`` is missing or unreadable, or its ``space`` is not a valid space.

    Example:
        >>> tune_figures("runs/basic-search-20260101-120000")  # doctest: +SKIP
        [PosixPath('runs/basic-search-20260101-120000/figures/progress.png'), ...]
    """
    tune = read_tune(tune_dir)
    return draw_figures(tune, param_importances(tune))


def draw_figures(tune: TuneRecords, importances: Importances) -> list[Path]:
    """:func:`tune_figures` of a tune already read, with its importances already computed (fANOVA is the
    slow part: a report computes it once for its figures and its page)."""
    figures: dict[str, Figure] = {}
    if tune.trials:
        figures.update({PROGRESS: progress_figure(tune), PARAMETERS: parameters_figure(tune),
                        PARALLEL: parallel_figure(tune)})
    if tune.trials or tune.unfinished():
        figures[CURVES] = curves_figure(tune)
    if importances.values:
        figures[IMPORTANCE] = importance_figure(tune, importances)
    folder = tune.dir / FIGURES
    folder.mkdir(exist_ok=True)
    return [draw.save(figure, folder / name) for name, figure in figures.items()]


# --- the colour of a value -------------------------------------------------------------------------------------

def value_colors(tune: TuneRecords) -> tuple[ListedColormap, Normalize]:
    """The colour scale of trial values shared by the figures: viridis without its palest yellows, darker is better."""
    values = np.array([r["value"] for r in tune.trials], dtype=float)
    values = values[np.isfinite(values)]
    low, high = (float(values.min()), float(values.max())) if len(values) else (0.0, 1.0)
    if low == high:
        low, high = low - 0.5, high + 0.5
    cmap = ListedColormap(colormaps["viridis"](np.linspace(0.0, 0.85, 256)))
    return (cmap.reversed() if tune.mode == "max" else cmap), Normalize(low, high)



# --- progress.png ----------------------------------------------------------------------------------------------

def progress_figure(tune: TuneRecords) -> Figure:
    """Each trial's value against its number, and the best completed value so far.

    Completed trials are blue dots, pruned ones grey triangles at their best value before they stopped,
    failed ones red crosses along the bottom; the best trial is a green star.

    Args:
        tune: :func:`read_tune`'s result.

    Returns:
        The figure (one axes).
    """
    fig = draw.new_figure(10, 5)
    ax = fig.subplots()
    numbers = np.array([r["trial"] for r in tune.trials], dtype=float)
    values = np.array([r["value"] for r in tune.trials], dtype=float)
    status = np.array([r.get("status") for r in tune.trials])
    completed, pruned = (status == "completed") & np.isfinite(values), (status == "pruned") & np.isfinite(values)
    failed = ~(completed | pruned)
    ax.scatter(numbers[completed], values[completed], s=40, color=draw.TRAIN, zorder=3, label="completed")
    ax.scatter(numbers[pruned], values[pruned], s=46, marker="v", facecolors="none", edgecolors=PRUNED, lw=1.4,
               zorder=3, label="pruned: its best value before it stopped")
    if failed.any():
        ax.plot(numbers[failed], np.full(failed.sum(), 0.03), ls="", marker="x", ms=8, mew=2, color=FAILED,
                transform=ax.get_xaxis_transform(), label="failed: no value")
    _best_so_far(ax, tune, numbers, values, completed)
    _star_best(ax, tune, lambda row: row["trial"])
    draw._axis(ax, "trial", tune.metric, list(numbers))
    draw.log_if_wide(ax, values, 1e3)
    _legend_below(fig, ax)
    better = "higher" if tune.mode == "max" else "lower"
    draw.set_suptitle(fig, f"{tune.name}: {tune.metric} of each trial ({better} is better), "
                           f"{len(tune.trials)} trials", 12)
    return fig


def _best_so_far(ax: Axes, tune: TuneRecords, numbers: np.ndarray, values: np.ndarray, completed: np.ndarray) -> None:
    if not completed.any():
        draw.note(ax, "no trial completed yet: no best value")
        return
    pick = np.fmax if tune.mode == "max" else np.fmin
    running = pick.accumulate(np.where(completed, values, np.nan))
    keep = np.isfinite(running)
    x = np.append(numbers[keep], numbers.max() + 0.5)
    y = np.append(running[keep], running[keep][-1])
    ax.step(x, y, where="post", color=draw.BEST, lw=2, zorder=2, label="best completed so far")


def _star_best(ax: Axes, tune: TuneRecords, x_of: Any) -> None:
    best = tune.best
    if best is None:
        return
    x = x_of(best)
    if x is None:
        return
    ax.scatter([x], [best["value"]], s=260, marker="*", color=draw.BEST, edgecolor="black", lw=0.8, zorder=4,
               label=f"best trial ({best['trial']})")


# --- parameters.png --------------------------------------------------------------------------------------------

def parameters_figure(tune: TuneRecords) -> Figure:
    """The metric against each space key, one panel per key (up to 3 a row).

    A log dimension has a log x axis; a choice has its values as categories (trials spread a little
    sideways so that they do not hide one another); the panel spans the space's range.

    Args:
        tune: :func:`read_tune`'s result.

    Returns:
        The figure: the first ``len(tune.space)`` axes are the panels, in the space's order.
    """
    n = len(tune.space)
    ncols = min(3, n)
    nrows = math.ceil(n / ncols)
    fig = draw.new_figure(4.8 * ncols, 3.9 * nrows + 1.1)
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for k, (ax, dim) in enumerate(zip(axes, tune.space)):
        _parameter_panel(ax, tune, dim, ylabel=k % ncols == 0)
    for ax in axes[n:]:
        fig.delaxes(ax)
    fig.legend(handles=_status_handles(tune), loc="outside lower center", ncol=4, fontsize=9, frameon=False)
    draw.set_suptitle(fig, f"{tune.name}: {tune.metric} against each parameter "
                           f"({'higher' if tune.mode == 'max' else 'lower'} is better)", 12)
    return fig


def _parameter_panel(ax: Axes, tune: TuneRecords, dim: Dimension, ylabel: bool) -> None:
    ax.set_title(_wrap(dim.key, 36), fontsize=10)
    ax.grid(True, alpha=0.3)
    if ylabel:
        ax.set_ylabel(tune.metric)
    xs = [_position(dim, r) for r in tune.trials]
    if dim.kind == "choice":
        xs = [x + _jitter(r["trial"]) if x is not None else None for x, r in zip(xs, tune.trials)]
        ax.set_xticks(range(len(dim.choices)), [_wrap(choice_label(c), 14) for c in dim.choices], fontsize=9)
        ax.set_xlim(-0.5, len(dim.choices) - 0.5)
        ax.set_xlabel("choice")
    else:
        if dim.log:
            ax.set_xscale("log")
        ax.set_xlim(*_padded(dim.low, dim.high, dim.log))
        _range_ticks(ax.xaxis, dim)
        ax.set_xlabel({"log_uniform": "log-uniform (log scale)", "uniform": "uniform", "int": "integer"}[dim.kind]
                      + (" (log scale)" if dim.kind == "int" and dim.log else ""))
    for status, style in _STYLES.items():
        points = [(x, r["value"]) for x, r in zip(xs, tune.trials)
                  if x is not None and r.get("status") == status and finite(r["value"])]
        if points:
            ax.scatter(*zip(*points), **style)
    failed = [x for x, r in zip(xs, tune.trials) if x is not None and not finite(r["value"])]
    if failed:
        ax.plot(failed, [0.03] * len(failed), ls="", marker="x", ms=8, mew=2, color=FAILED,
                transform=ax.get_xaxis_transform())
    best = tune.best
    if best is not None:
        x = xs[tune.trials.index(best)]
        if x is not None:
            ax.scatter([x], [best["value"]], s=220, marker="*", color=draw.BEST, edgecolor="black", lw=0.8, zorder=4)
    draw.log_if_wide(ax, np.array([r["value"] for r in tune.trials], dtype=float), 1e3)


_STYLES = {
    "completed": {"s": 36, "color": draw.TRAIN, "zorder": 3},
    "pruned": {"s": 42, "marker": "v", "facecolors": "none", "edgecolors": PRUNED, "lw": 1.3, "zorder": 3},
}


def _status_handles(tune: TuneRecords) -> list[Line2D]:
    handles = [Line2D([], [], ls="", marker="o", color=draw.TRAIN, label="completed"),
               Line2D([], [], ls="", marker="v", mfc="none", mec=PRUNED, mew=1.3,
                      label="pruned (its best value before it stopped)")]
    if tune.with_status("failed"):
        handles.append(Line2D([], [], ls="", marker="x", color=FAILED, mew=2, label="failed (no value)"))
    if tune.best is not None:
        handles.append(Line2D([], [], ls="", marker="*", ms=14, color=draw.BEST, mec="black",
                              label=f"best trial ({tune.best['trial']})"))
    return handles


def _position(dim: Dimension, row: dict[str, Any]) -> float | None:
    """Where a trial sits on a key's axis: its value, or a choice's index; None when the cell is unreadable."""
    cell = row.get(dim.key)
    if dim.kind == "choice":
        index = choice_index(dim, cell)
        return float(index) if index is not None else None
    if not isinstance(cell, (int, float)) or not math.isfinite(cell) or (dim.log and cell <= 0):
        return None
    return float(cell)


def _range_ticks(axis: Any, dim: Dimension) -> None:
    """Ticks for a range: whole numbers for ``int``; on a log axis of less than 3 decades (or an ``int`` one),
    plain 1-2-5 numbers (``0.002 0.005 0.01``, ``1 2 5 10 20``) rather than a lone power of ten."""
    if not dim.log:
        if dim.kind == "int":
            axis.set_major_locator(MaxNLocator(integer=True))
        return
    if dim.kind == "int" or dim.high / dim.low < 1e3:
        axis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
        axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        axis.set_minor_formatter(NullFormatter())


def _jitter(trial: int) -> float:
    """A small, fixed sideways offset per trial on a categorical axis (the same in every drawing)."""
    return 0.28 * (((trial * 0.618034) % 1.0) - 0.5)


def _padded(low: float, high: float, log: bool) -> tuple[float, float]:
    if log:
        ratio = (high / low) ** 0.04
        return low / ratio, high * ratio
    pad = 0.04 * (high - low) or 0.5
    return low - pad, high + pad


# --- parallel.png ----------------------------------------------------------------------------------------------

def parallel_figure(tune: TuneRecords) -> Figure:
    """Parallel coordinates: one vertical axis per space key and one for the metric, one line per trial.

    Each key's axis spans the space's range (log-scaled for a log dimension, a choice's values in
    order); the metric's axis has the better values at the top. A line's colour is its trial's value
    (darker is better); pruned trials are dashed and paler, failed ones red and dotted (they have no
    value, so their line ends at the last key), the best trial is drawn thick with a black edge.

    Args:
        tune: :func:`read_tune`'s result.

    Returns:
        The figure; ``fig.axes[0]`` holds the lines, and each vertical axis is one of its child axes
        (``fig.axes[0].child_axes``, the space's order then the metric), with that dimension's scale.
    """
    columns = len(tune.space) + 1
    fig = draw.new_figure(max(8.0, 2.3 * columns + 1.0), 5.6)
    ax = fig.subplots()
    ax.set_xlim(-0.45, columns - 0.7)
    ax.set_ylim(0, 1)
    ax.set_yticks([])
    for side in ("left", "right", "top", "bottom"):
        ax.spines[side].set_visible(False)
    ax.set_xticks(range(columns), [_wrap(d.key) for d in tune.space] + [_wrap(tune.metric)], fontsize=9)
    ax.tick_params(axis="x", length=0, pad=8)
    limits = [_parallel_axis(ax, k, dim) for k, dim in enumerate(tune.space)]
    limits.append(_metric_axis(ax, len(tune.space), tune))
    cmap, norm = value_colors(tune)
    best = tune.best
    for row in sorted(tune.trials, key=lambda r: r is best):  # the best trial last: on top
        ys = [_unit(_position(dim, row), lim) for dim, lim in zip(tune.space, limits)]
        value = row["value"]
        ys.append(_unit(value, limits[-1]) if finite(value) else None)
        _parallel_line(ax, ys, row, cmap(norm(value)) if finite(value) else FAILED, row is best)
    fig.colorbar(ScalarMappable(norm, cmap), ax=ax, pad=0.02, fraction=0.04,
                 label=f"{tune.metric} (darker is better)")
    draw.set_suptitle(fig, f"{tune.name}: parallel coordinates, one line per trial", 12)
    fig.supxlabel("solid: completed · dashed, paler: pruned (its best value before it stopped) · "
                  "red dotted: failed · thick, black edge: the best trial", fontsize=9, color="dimgray")
    return fig


def _parallel_axis(ax: Axes, k: int, dim: Dimension) -> tuple[float, float, bool]:
    """Draw a key's vertical axis at x = k; its limits ``(bottom, top, log)``."""
    child = _vertical_axis(ax, k)
    if dim.kind == "choice":
        n = len(dim.choices)
        lim = (-0.5, 0.5, False) if n == 1 else (-0.2, n - 0.8, False)  # clear of the ends: labels stay readable
        child.set_yticks(range(n), [_wrap(choice_label(c), 14) for c in dim.choices])
    else:
        lim = (dim.low, dim.high, dim.log)
        if dim.log:
            child.set_yscale("log")
        _range_ticks(child.yaxis, dim)
    child.set_ylim(lim[0], lim[1])
    _label_backgrounds(child)
    return lim


def _metric_axis(ax: Axes, k: int, tune: TuneRecords) -> tuple[float, float, bool]:
    """The metric's vertical axis, better values on top; log when they span more than 1000 times."""
    child = _vertical_axis(ax, k)
    values = np.array([r["value"] for r in tune.trials], dtype=float)
    values = values[np.isfinite(values)]
    low, high = (float(values.min()), float(values.max())) if len(values) else (0.0, 1.0)
    log = bool(len(values) and low > 0 and high / low > 1e3)
    if low == high:
        low, high = (low / 2, high * 2) if log or low > 0 else (low - 0.5, high + 0.5)
    if log:
        child.set_yscale("log")
    lim = (low, high, log) if tune.mode == "max" else (high, low, log)
    child.set_ylim(lim[0], lim[1])
    _label_backgrounds(child)
    return lim


def _vertical_axis(ax: Axes, k: int) -> Axes:
    """A child axes of no width at x = k of ``ax``: only its left spine and its ticks show."""
    child = ax.inset_axes((k, 0.0, 1e-6, 1.0), transform=ax.get_xaxis_transform())
    child.patch.set_visible(False)
    for side in ("right", "top", "bottom"):
        child.spines[side].set_visible(False)
    child.spines["left"].set_linewidth(1.2)
    child.set_xticks([])
    child.tick_params(axis="y", labelsize=8)
    return child


def _label_backgrounds(child: Axes) -> None:
    """A pale box behind each tick label, so the lines that cross an axis leave its labels readable.

    The limits are final here: the ticks made now are the ones drawn (matplotlib reuses them).
    """
    for tick in child.yaxis.get_major_ticks(len(child.yaxis.get_majorticklocs())):
        tick.label1.set_bbox({"boxstyle": "round,pad=0.15", "facecolor": "white", "edgecolor": "none", "alpha": 0.85})


def _unit(value: float | None, lim: tuple[float, float, bool]) -> float | None:
    """Where ``value`` sits between an axis's bottom (0) and top (1), on its scale."""
    if value is None or not math.isfinite(value):
        return None
    bottom, top, log = lim
    if log:
        if value <= 0:
            return None
        value, bottom, top = math.log(value), math.log(bottom), math.log(top)
    return (value - bottom) / (top - bottom)


def _parallel_line(ax: Axes, ys: list[float | None], row: dict[str, Any], color: Any, best: bool) -> None:
    points = [(x, y) for x, y in enumerate(ys) if y is not None]
    if not points:
        return
    x, y = zip(*points)
    if best:
        ax.plot(x, y, color="black", lw=4.2, zorder=3, solid_capstyle="round")
        ax.plot(x, y, color=color, lw=2.4, zorder=3.1, solid_capstyle="round")
    elif row.get("status") == "completed":
        ax.plot(x, y, color=color, lw=1.6, alpha=0.9, zorder=2)
    elif row.get("status") == "pruned":
        ax.plot(x, y, color=color, lw=1.2, ls="--", alpha=0.75, zorder=1)
    else:
        ax.plot(x, y, color=FAILED, lw=1.2, ls=":", alpha=0.8, zorder=1)


# --- curves.png ------------------------------------------------------------------------------------------------

def curves_figure(tune: TuneRecords) -> Figure:
    """Each trial's metric per epoch (its ``history.csv``), with the point at which each pruned trial stopped.

    Completed trials are coloured by their value (darker is better) and the best one is thick; pruned
    trials are grey and end at a dark triangle (the pruning point, its ``pruned_at_epoch``); trials with
    a run directory but no row in ``trials.csv`` (the search stopped during their population) are dotted.

    Args:
        tune: :func:`read_tune`'s result.

    Returns:
        The figure; on its axes the pruning points are one line labelled ``pruned here``.
    """
    fig = draw.new_figure(10.5, 5.4)
    ax = fig.subplots()
    cmap, norm = value_colors(tune)
    best = tune.best
    epochs: list[float] = []
    stops: list[tuple[float, float]] = []
    for row in sorted(tune.trials, key=lambda r: (r is best, r.get("status") == "completed")):
        x, y = tune.history(row["trial"])
        epochs.extend(x)
        if not len(x):
            continue
        if row is best:
            draw.plot_finite(ax, x, y, color=cmap(norm(row["value"])), lw=3.2, zorder=4, marker="o", ms=4,
                             label=f"best trial ({row['trial']})")
        elif row.get("status") == "completed":
            draw.plot_finite(ax, x, y, color=cmap(norm(row["value"])), lw=1.5, zorder=3)
        else:
            draw.plot_finite(ax, x, y, color=PRUNED if row.get("status") == "pruned" else FAILED, lw=1.0,
                             alpha=0.55, zorder=2)
        stop = _pruning_point(row, x, y)
        if stop is not None:
            stops.append(stop)
    for trial in tune.unfinished():
        x, y = tune.history(trial)
        epochs.extend(x)
        draw.plot_finite(ax, x, y, color=PRUNED, lw=1.0, ls=":", zorder=2)
    if stops:
        ax.plot(*zip(*stops), ls="", marker="v", ms=8, color="black", mfc=PRUNED, mew=0.8, zorder=5,
                label="pruned here")
    if tune.unfinished():
        ax.plot([], [], color=PRUNED, ls=":", label=f"unfinished ({len(tune.unfinished())}: no row in trials.csv)")
    if any(r.get("status") == "completed" and r is not best for r in tune.trials):
        ax.plot([], [], color=cmap(0.3), lw=1.5, label="completed (colour: its value)")
    if tune.with_status("pruned"):
        ax.plot([], [], color=PRUNED, lw=1.0, alpha=0.55, label="pruned")
    draw._axis(ax, "epoch", tune.metric, epochs)
    if not epochs:
        draw.note(ax, "no trial has written history.csv")
    values = np.concatenate([tune.history(r["trial"])[1] for r in tune.trials] or [np.array([])])
    draw.log_if_wide(ax, values, 1e3)
    _legend_below(fig, ax)
    if tune.trials:
        fig.colorbar(ScalarMappable(norm, cmap), ax=ax, pad=0.02, fraction=0.04,
                     label=f"{tune.metric} of a completed trial (darker is better)")
    draw.set_suptitle(fig, f"{tune.name}: {tune.metric} per epoch, one line per trial", 12)
    return fig


def _pruning_point(row: dict[str, Any], x: np.ndarray, y: np.ndarray) -> tuple[float, float] | None:
    """A pruned trial's last finite value at or before the epoch it was pruned at."""
    at = row.get("pruned_at_epoch")
    if row.get("status") != "pruned" or not isinstance(at, (int, float)):
        return None
    keep = (x <= at) & np.isfinite(y)
    return (float(x[keep][-1]), float(y[keep][-1])) if keep.any() else None


# --- importance.png --------------------------------------------------------------------------------------------

def importance_figure(tune: TuneRecords, importances: Importances) -> Figure:
    """Each key's importance as a horizontal bar, largest on top, its percentage beside it.

    Args:
        tune: :func:`read_tune`'s result.
        importances: :func:`param_importances`'s result (with ``values``).

    Returns:
        The figure (one axes; the keys as y tick labels).
    """
    values = importances.values or {}
    fig = draw.new_figure(9, max(2.6, 1.5 + 0.5 * len(values)))
    ax = fig.subplots()
    positions = np.arange(len(values), 0, -1, dtype=float)
    ax.barh(positions, list(values.values()), height=0.6, color=draw.TRAIN, alpha=0.85)
    for y, v in zip(positions, values.values()):
        ax.text(v, y, f" {v:.0%}", va="center", ha="left", fontsize=9)
    ax.set_yticks(positions, [_wrap(k, 30) for k in values], fontsize=9)
    ax.set_xlim(0, max(1e-9, *values.values()) * 1.15)
    ax.set_ylim(0.4, len(values) + 0.6)
    ax.xaxis.set_major_formatter(lambda v, _: f"{v:.0%}")
    ax.set_xlabel("share of the variance of the metric explained by the parameter")
    ax.grid(True, axis="x", alpha=0.3)
    draw.set_suptitle(fig, f"{tune.name}: parameter importances for {tune.metric}, "
                           f"{importances.n_trials} completed trials", 12)
    fig.supxlabel(importances.method, fontsize=9, color="dimgray")
    return fig


# --- helpers ---------------------------------------------------------------------------------------------------

def _legend_below(fig: Figure, ax: Axes) -> None:
    """The axes' legend in one row under the figure, off the points and lines."""
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        fig.legend(handles, labels, loc="outside lower center", ncol=min(len(handles), 5), fontsize=9, frameon=False)


def _wrap(label: str, width: int = LABEL_WIDTH) -> str:
    """A label on lines of about ``width`` characters; a key path breaks after its dots, not inside a name."""
    lines: list[str] = []
    for part in re.findall(r"[^.]+\.?|\.", str(label)):
        if lines and len(lines[-1]) + len(part) <= width:
            lines[-1] += part
        else:
            lines.append(part)
    return "\n".join(textwrap.fill(line, width, break_long_words=True) if len(line) > width else line
                     for line in lines)

