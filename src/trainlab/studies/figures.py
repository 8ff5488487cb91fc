"""A study's figures, read from its directory: curves over seeds, final values, weights.

    from trainlab.studies.figures import study_figures
    study_figures("studies/regularization")   # curves.png, final.png (and weights.png)

Each variant keeps one colour in every figure (its place in ``study.json``), so a reader
can follow it from the curves to the final values. Runs are read with
:func:`trainlab.monitor.load`, like a single run's figures; a run without records (it
failed before its first epoch) is left out and counted.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from trainlab.errors import TrainlabError
from trainlab.rundir import Records, load
from trainlab.monitor import axes as draw
from trainlab.studies.stats import Study, read_study, summarize

CURVES = "curves.png"
FINAL = "final.png"
WEIGHTS = "weights.png"
LABEL_WIDTH = 28  # characters before a variant label wraps (never cut: the label is what tells variants apart)


def study_figures(study_dir: str | Path) -> list[Path]:
    """Draw a study's figures into its directory.

    ``curves.png``: mean training curves over seeds per variant. ``final.png``: each run's
    best value per variant, ranked. ``weights.png``, only when the runs saved
    ``weights.npz`` and ``layers.csv``: the first layer's final weights and norms per variant.

    Args:
        study_dir: a study directory (``study.json``, ``results.csv``, ``runs/``).

    Returns:
        The paths written, in the order above.

    Raises:
        TrainlabError: ``study.json`` or ``results.csv`` is missing or unreadable.

    Example:
        >>> study_figures("studies/regularization")  # doctest: +SKIP
        [PosixPath('studies/regularization/curves.png'), PosixPath('studies/regularization/final.png'), ...]
    """
    study = read_study(study_dir)
    runs = load_runs(study)
    figures = {CURVES: curves_figure(study, runs), FINAL: final_figure(study)}
    if has_weights(runs):
        figures[WEIGHTS] = weights_figure(study, runs)
    paths = []
    for name, figure in figures.items():
        path = study.dir / name
        _save(figure, path)
        paths.append(path)
    return paths


# --- records ---------------------------------------------------------------------------------------------------

@dataclass
class RunRecords:
    """One run of a study: its seed, folder, and records (None when it wrote none)."""

    seed: Any
    dir: Path
    records: Records | None


def load_runs(study: Study) -> dict[str, list[RunRecords]]:
    """Per variant (study order), each run's records in seed order; a run without records has ``records=None``.

    Without their steps (the figures plot epochs, layers and weights).
    """
    runs: dict[str, list[RunRecords]] = {}
    for variant in study.variants:
        runs[variant] = []
        for seed, path in study.runs(variant):
            try:
                records: Records | None = load(path, steps=False)
            except TrainlabError:
                records = None
            runs[variant].append(RunRecords(seed, path, records))
    return runs


def has_weights(runs: dict[str, list[RunRecords]]) -> bool:
    """Whether any run saved kernel values (``weights.npz``) and per-layer norms (``layers.csv``)."""
    return any(r.records is not None and r.records.weights and r.records.layers for rs in runs.values() for r in rs)


def variant_colors(variants: list[str]) -> dict[str, Any]:
    """A colour per variant, by its place in the study: tab10, tab20, then an even spread of a wide colormap."""
    n = len(variants)
    if n <= 10:
        palette = list(colormaps["tab10"].colors)
    elif n <= 20:
        palette = list(colormaps["tab20"].colors)
    else:
        palette = [colormaps["turbo"](x) for x in np.linspace(0.05, 0.95, n)]
    return {v: palette[k] for k, v in enumerate(variants)}


@dataclass
class Band:
    """A variant's curve over seeds: per epoch, mean, min and max of the seeds with a finite value there."""

    epochs: np.ndarray
    mean: np.ndarray
    low: np.ndarray
    high: np.ndarray
    count: np.ndarray


def seed_band(series: list[tuple[np.ndarray, np.ndarray]]) -> Band:
    """Combine per-seed ``(epochs, values)`` series: each epoch averages the seeds that reached it with a finite value.

    A run that stopped early contributes only to its own epochs, and a diverged run's
    non-finite values are left out, so ``count`` may fall along the curve.
    """
    series = [(x, y) for x, y in series if len(x)]
    if not series:
        empty = np.array([])
        return Band(empty, empty, empty, empty, np.array([], dtype=int))
    epochs = np.unique(np.concatenate([x for x, _ in series]))
    table = np.full((len(series), len(epochs)), np.nan)
    for row, (x, y) in zip(table, series):
        row[np.searchsorted(epochs, x)] = y
    finite = np.isfinite(table)
    count = finite.sum(axis=0)
    keep = count > 0
    mean = np.where(finite, table, 0.0).sum(axis=0)[keep] / count[keep]
    low = np.where(finite, table, np.inf).min(axis=0)[keep]
    high = np.where(finite, table, -np.inf).max(axis=0)[keep]
    return Band(epochs[keep], mean, low, high, count[keep])


# --- curves.png ------------------------------------------------------------------------------------------------

def curves_figure(study: Study, runs: dict[str, list[RunRecords]] | None = None) -> Figure:
    """Training loss, validation loss and the study metric per epoch: per variant the mean over seeds, min–max band.

    Where fewer seeds remain than the variant has runs with records (some stopped early
    or diverged), the mean line turns dashed; the caption says so.

    Args:
        study: :func:`trainlab.studies.stats.read_study`'s result.
        runs: :func:`load_runs`'s result (read here when not given).

    Returns:
        The figure: one axes per panel; on each, one solid line per variant labelled with the variant.
    """
    runs = load_runs(study) if runs is None else runs
    columns = list(dict.fromkeys(["loss", "val_loss", study.metric]))
    colors = variant_colors(list(study.variants))
    handles = [Line2D([], [], color=colors[v], lw=2, label=_legend_label(v, rs)) for v, rs in runs.items()]
    lines = sum(h.get_label().count("\n") + 1 for h in handles)
    ncol = 1 if lines <= 30 else 2
    fig = draw.new_figure(5 * len(columns) + 2.5 * ncol, max(4.8, 1.4 + 0.2 * lines / ncol))
    axes = fig.subplots(1, len(columns), squeeze=False)[0]
    single_epoch = all(len(r.records.history) <= 1 for rs in runs.values() for r in rs if r.records)
    thinned = diverged = False
    for ax, column in zip(axes, columns):
        panel_thinned, panel_diverged = _curve_panel(ax, column, runs, colors, single_epoch)
        thinned, diverged = thinned or panel_thinned, diverged or panel_diverged
    fig.legend(handles=handles, loc="outside right upper", fontsize=9, title="variant (runs)", ncol=ncol)
    seeds = sorted({sum(1 for r in rs if r.records) for rs in runs.values()})
    draw.set_suptitle(fig, f"{study.name}: training curves, mean over {_count_text(seeds, 'seed')} per variant", 12)
    text = _curves_caption(runs, thinned, diverged, single_epoch)
    fig.supxlabel(textwrap.fill(text, int(fig.get_figwidth() * 13)), fontsize=9, color="dimgray")
    return fig


def _curve_panel(ax: Axes, column: str, runs: dict[str, list[RunRecords]], colors: dict[str, Any],
                 single_epoch: bool) -> tuple[bool, bool]:
    """Draw one panel; returns whether any variant's line thinned out (fewer seeds at some epochs), and
    whether any seed's values turned non-finite (marked with a red x at its variant's last finite mean)."""
    ax.set_title(_panel_title(column))
    series = {v: [r.records.epoch_series(column) for r in rs if r.records] for v, rs in runs.items()}
    bands = {v: seed_band(s) for v, s in series.items()}
    epochs = np.concatenate([b.epochs for b in bands.values()]) if bands else np.array([])
    draw._axis(ax, "epoch", column, list(epochs))
    thinned = diverged = False
    for variant, band in bands.items():
        first_bad = _first_non_finite(series[variant])
        before = band.epochs < first_bad if first_bad is not None else np.zeros(0, dtype=bool)
        if before.any():
            diverged = True
            ax.plot(band.epochs[before][-1], band.mean[before][-1], ls="", marker="x", ms=9, mew=2.2,
                    color=draw.NON_FINITE, zorder=5, label="_diverged")
    offsets = _offsets(len(bands)) if single_epoch else np.zeros(len(bands))
    for (variant, band), offset in zip(bands.items(), offsets):
        if not len(band.epochs):
            continue
        color = colors[variant]
        full = sum(1 for r in runs[variant] if r.records)
        if len(band.epochs) == 1:
            x = band.epochs + offset
            ax.errorbar(x, band.mean, yerr=[band.mean - band.low, band.high - band.mean], fmt="o", color=color,
                        capsize=4, ms=6, label=variant)
            continue
        marker = "o" if len(band.epochs) <= 12 else None
        ax.fill_between(band.epochs, band.low, band.high, color=color, alpha=0.18, lw=0)
        ax.plot(band.epochs, np.where(band.count == full, band.mean, np.nan), color=color, lw=1.8, marker=marker,
                ms=3, label=variant)
        if (band.count < full).any():
            thinned = True
            ax.plot(band.epochs, band.mean, color=color, lw=1.4, ls="--", marker=marker, ms=3, label="_thinned")
    if not any(len(b.epochs) for b in bands.values()):
        draw.note(ax, f"no run recorded {column}")
    values = np.concatenate([np.concatenate([b.low, b.high]) for b in bands.values()]) if bands else np.array([])
    draw.log_if_wide(ax, values, 1e3)
    if single_epoch:
        ax.set_xlim(0.5, 1.5)
        ax.set_xticks([1])
    return thinned, diverged


def _first_non_finite(series: list[tuple[np.ndarray, np.ndarray]]) -> float | None:
    """The earliest epoch at which any seed's value is non-finite, or None."""
    bad = [x[~np.isfinite(y)].min() for x, y in series if (~np.isfinite(y)).any()]
    return float(min(bad)) if bad else None


def _panel_title(column: str) -> str:
    if column.startswith("val_"):
        return f"{draw.metric_title(column[4:])} (validation)"
    return f"{draw.metric_title(column)} (training)"


def _offsets(n: int) -> np.ndarray:
    """Side-by-side x offsets so single-epoch markers of several variants do not hide one another."""
    return (np.arange(n) - (n - 1) / 2) * min(0.08, 0.8 / max(n, 1))


def _legend_label(variant: str, runs: list[RunRecords]) -> str:
    with_records = sum(1 for r in runs if r.records)
    return f"{_wrap(variant)} ({with_records} of {len(runs)})" if with_records < len(runs) else \
        f"{_wrap(variant)} ({with_records})"


def _curves_caption(runs: dict[str, list[RunRecords]], thinned: bool, diverged: bool, single_epoch: bool) -> str:
    if max((sum(1 for r in rs if r.records) for rs in runs.values()), default=0) <= 1:
        parts = ["one seed per variant: a single run each, no spread to show"]
    else:
        parts = ["line: mean over seeds", "band: min to max" if not single_epoch else "bar: min to max"]
    if diverged:
        parts.append("red x: a seed's values turn non-finite after this epoch (diverged; left out from there)")
    if thinned:
        stopped = sum(1 for rs in runs.values() for r in rs if r.records and r.records.stopped_at is not None)
        why = f"{stopped} run{'s' if stopped != 1 else ''} stopped early" if stopped else "some runs ended sooner"
        parts.append(f"dashed: fewer seeds remain ({why} or diverged), each epoch averages the seeds that reached it")
    missing = [f"{v} seed {r.seed}" for v, rs in runs.items() for r in rs if r.records is None]
    if missing:
        shown = ", ".join(missing[:4]) + (f" and {len(missing) - 4} more" if len(missing) > 4 else "")
        parts.append(f"no records: {shown}")
    return "; ".join(parts)


# --- final.png -------------------------------------------------------------------------------------------------

def final_figure(study: Study) -> Figure:
    """Each run's best value of the study metric per variant: box plot, a dot per seed, the mean; best at the top.

    Args:
        study: :func:`trainlab.studies.stats.read_study`'s result.

    Returns:
        The figure; its one axes has the variants as y tick labels, best mean first (top).
    """
    values = study.values()
    colors = variant_colors(list(study.variants))
    summary = {row["variant"]: row for row in summarize(values)}
    sign = -1.0 if study.mode == "max" else 1.0
    order = sorted(values, key=lambda v: (summary[v]["n"] == 0, sign * summary[v]["mean"] if summary[v]["n"] else 0))
    labels = [_final_label(summary[v]) for v in order]
    row = max(0.55, *(0.17 * (label.count("\n") + 1) for label in labels))
    fig = draw.new_figure(10, max(3.2, 1.4 + row * len(labels)))
    ax = fig.subplots()
    positions = np.arange(len(order), 0, -1, dtype=float)
    for variant, y in zip(order, positions):
        _final_row(ax, np.asarray(values[variant], dtype=float), y, colors[variant])
    ax.set_yticks(positions, labels, fontsize=9)
    ax.set_ylim(0.4, len(order) + 0.6)
    ax.set_xlabel(f"{study.metric} at each run's best epoch")
    ax.grid(True, axis="x", alpha=0.3)
    _final_legend(ax)
    better = "higher" if study.mode == "max" else "lower"
    draw.set_suptitle(fig, f"{study.name}: {study.metric} per seed, {better} is better, best mean at the top", 12)
    fig.supxlabel("box: quartiles and median over seeds; diamond: mean (the ranking's order); dot: one seed",
                  fontsize=9, color="dimgray")
    return fig


def _final_row(ax: Axes, sample: np.ndarray, y: float, color: Any) -> None:
    finite = sample[np.isfinite(sample)]
    if not len(finite):
        ax.text(0.5, y, "all runs failed", transform=ax.get_yaxis_transform(), ha="center", va="center",
                color=draw.NON_FINITE, fontsize=9)
        return
    ax.boxplot([finite], positions=[y], orientation="horizontal", widths=0.5, showfliers=False, patch_artist=True,
               boxprops={"facecolor": (*color[:3], 0.25), "edgecolor": color},
               medianprops={"color": color, "lw": 2}, whiskerprops={"color": color}, capprops={"color": color})
    spread = np.linspace(-0.16, 0.16, len(finite)) if len(finite) > 1 else np.zeros(1)
    ax.scatter(finite, y + spread, s=28, color=color, edgecolor="black", lw=0.5, zorder=3)
    if len(finite) > 1:  # one seed is its own mean: the dot says it
        ax.scatter([finite.mean()], [y], marker="D", s=40, color="black", zorder=4)


def _final_label(row: dict[str, Any]) -> str:
    failed = f", {row['n_failed']} failed" if row["n_failed"] else ""
    return f"{_wrap(row['variant'])}\n(n={row['n']}{failed})"


def _final_legend(ax: Axes) -> None:
    handles = [Line2D([], [], ls="", marker="o", color="gray", markeredgecolor="black", label="seed"),
               Line2D([], [], ls="", marker="D", color="black", label="mean")]
    ax.legend(handles=handles, fontsize=8, loc="best", framealpha=0.8)


# --- weights.png -----------------------------------------------------------------------------------------------

def weights_figure(study: Study, runs: dict[str, list[RunRecords]] | None = None) -> Figure:
    """The first layer's final weights per variant: a histogram of its kernel values, and its L1 and L2 norms.

    The histogram shows one run per variant (the lowest seed with ``weights.npz``); the
    norms are the mean over seeds of ``layers.csv``'s ``weight_l1`` and ``weight_norm`` at each
    run's last epoch, with ±1 standard deviation as error bars when there are 2 seeds or more.

    Args:
        study: :func:`trainlab.studies.stats.read_study`'s result.
        runs: :func:`load_runs`'s result (read here when not given).

    Returns:
        The figure: histogram, L1 bars, L2 bars (in ``fig.axes`` order).
    """
    runs = load_runs(study) if runs is None else runs
    colors = variant_colors(list(study.variants))
    layer = _first_layer(runs)
    labels = [_wrap(v) for v in runs]
    row = max(0.45, *(0.17 * (label.count("\n") + 1) for label in labels))
    fig = draw.new_figure(16, max(4.5, 1.6 + row * len(runs)))
    hist, l1, l2 = fig.subplots(1, 3, width_ratios=[1.5, 1, 1])
    l1.sharey(l2)
    _norm_bars(l1, runs, layer, "weight_l1", "L1 norm (sum of |w|)", colors)
    _norm_bars(l2, runs, layer, "weight_norm", "L2 norm (sqrt of sum of w²)", colors)
    l1.set_yticks(np.arange(len(runs), 0, -1, dtype=float), labels, fontsize=9)
    l2.tick_params(labelleft=False)
    # The bars' labels are the key to the histogram's colours; the histogram keeps its own small legend
    # only while it fits without covering the bins.
    _histogram(hist, runs, layer, colors, legend=len(runs) <= 6 and all("\n" not in label for label in labels))
    draw.set_suptitle(fig, f"{study.name}: first layer ({layer or 'unknown'}) weights at the end of training", 12)
    fig.supxlabel("histogram: the lowest seed of each variant; bars: mean over seeds of layers.csv at each run's "
                  "last epoch, error bar ±1 sd (2 seeds or more)", fontsize=9, color="dimgray")
    return fig


def _first_layer(runs: dict[str, list[RunRecords]]) -> str | None:
    for rs in runs.values():
        for r in rs:
            if r.records and r.records.layers:
                return str(r.records.layers[0]["layer"])
    return None


def _final_kernel(records: Records, layer: str | None) -> tuple[np.ndarray, int] | None:
    """The kernel values of ``layer`` (else the run's first saved layer) at the latest epoch saved, and that epoch."""
    if not records.weights:
        return None
    by_epoch = records.weights.get(layer) if layer in records.weights else next(iter(records.weights.values()))
    if not by_epoch:
        return None
    epoch = max(by_epoch)
    return by_epoch[epoch], epoch


def _histogram(ax: Axes, runs: dict[str, list[RunRecords]], layer: str | None, colors: dict[str, Any],
               legend: bool) -> None:
    kernels = {}
    for variant, rs in runs.items():
        for r in sorted((r for r in rs if r.records is not None), key=lambda r: _seed_key(r.seed)):
            found = _final_kernel(r.records, layer)
            if found is not None:
                kernels[variant] = (r.seed, *found)
                break
    seeds = sorted({str(k[0]) for k in kernels.values()})
    ax.set_title(f"Kernel values at the last saved epoch, seed {', '.join(seeds)}" if len(seeds) <= 2
                 else "Kernel values at the last saved epoch, lowest seed per variant")
    ax.set_xlabel("weight value")
    ax.grid(True, alpha=0.3)
    finite = [k[1][np.isfinite(k[1])] for k in kernels.values()]
    if not any(len(f) for f in finite):
        draw.note(ax, "no finite kernel values in weights.npz")
        return
    edges = np.histogram_bin_edges(np.concatenate(finite), bins=60)
    for variant, (seed, values, epoch) in kernels.items():
        ax.hist(values[np.isfinite(values)], bins=edges, histtype="step", lw=1.8, color=colors[variant],
                label=f"{variant} (epoch {epoch})")
    # L1 piles weights up at zero: a log count keeps the other variants' spread visible beside that spike.
    counts = np.concatenate([np.histogram(f, bins=edges)[0] for f in finite]).astype(float)
    draw.log_if_wide(ax, counts, 20)
    ax.set_ylabel("count (log scale)" if ax.get_yscale() == "log" else "count")
    if legend:
        draw.legend(ax)


def _norm_bars(ax: Axes, runs: dict[str, list[RunRecords]], layer: str | None, column: str, title: str,
               colors: dict[str, Any]) -> None:
    ax.set_title(title)
    ax.set_xlabel(f"{column} of {layer}, last epoch")
    ax.grid(True, axis="x", alpha=0.3)
    positions = np.arange(len(runs), 0, -1, dtype=float)
    any_value = False
    for (variant, rs), y in zip(runs.items(), positions):
        values = np.array([v for r in rs if (v := _last_layer_value(r, layer, column)) is not None], dtype=float)
        values = values[np.isfinite(values)]
        if not len(values):
            ax.text(0.02, y, "no value", transform=ax.get_yaxis_transform(), va="center", fontsize=8, color="gray")
            continue
        any_value = True
        error = values.std(ddof=1) if len(values) > 1 else None
        ax.barh(y, values.mean(), xerr=error, height=0.6, color=colors[variant], alpha=0.8, capsize=3,
                label=f"n={len(values)}")
        ax.text(values.mean() + (error or 0.0), y, f" {values.mean():.3g} (n={len(values)})", va="center", ha="left",
                fontsize=8)
    ax.set_ylim(0.4, len(runs) + 0.6)
    if not any_value:
        draw.note(ax, f"no {column} in layers.csv")
    else:
        ax.margins(x=0.25)


def _last_layer_value(run: RunRecords, layer: str | None, column: str) -> float | None:
    if run.records is None or layer is None:
        return None
    rows = [row for row in run.records.layers if str(row.get("layer")) == layer and row.get("epoch") is not None]
    if not rows:
        return None
    value = max(rows, key=lambda row: row["epoch"]).get(column)
    return float(value) if isinstance(value, (int, float)) else None


# --- helpers ---------------------------------------------------------------------------------------------------

def _wrap(label: str) -> str:
    return textwrap.fill(str(label), LABEL_WIDTH, break_long_words=True, break_on_hyphens=True)


def _seed_key(seed: Any) -> tuple[int, Any]:
    return (0, seed) if isinstance(seed, int) else (1, str(seed))


def _count_text(counts: list[int], unit: str) -> str:
    if len(counts) == 1:
        return f"{counts[0]} {unit}{'s' if counts[0] != 1 else ''}"
    return f"{counts[0]} to {counts[-1]} {unit}s"


def _save(figure: Figure, path: Path) -> None:
    """Render with Agg and write the PNG whole or not at all."""
    draw.save(figure, path)
