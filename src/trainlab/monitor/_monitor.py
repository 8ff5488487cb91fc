"""The training monitor: tutorial section 10's 2x3 figure, drawn from a run's records.

Panels (left to right, top to bottom): loss, the main metric, learning rate per step,
gradient norm, the overfitting gap, and stability (per-step loss with a moving average).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from trainlab.monitor import axes as draw
from trainlab.rundir import Records, as_records

# Loss and metric panels switch to a log axis only for a blow-up (a diverging run), not for
# ordinary progress; learning rates and gradient norms are read on a log axis sooner.
LOSS_LOG_RATIO = 1e3
LR_LOG_RATIO = 10.0
SMOOTHING_EPOCHS = 5

def monitor_figure(records: Records | str | Path) -> Figure:
    """Tutorial section 10's monitor: a 2x3 figure (15x8 inches, 100 dpi) of one run.

    Epoch panels (loss, metric, gap) mark the best epoch (dashed green) and where early
    stopping ended the run (dotted grey); non-finite values are left out and annotated.

    Args:
        records: a run's records (:func:`trainlab.monitor.load`) or its run directory.

    Returns:
        The figure; its axes in ``fig.axes`` follow the panel order above.

    Raises:
        TrainlabError: given a run directory whose records cannot be read.

    Example:
        >>> monitor_figure("runs/basic").savefig("monitor.png")  # doctest: +SKIP
    """
    records = as_records(records)
    fig = draw.new_figure(15, 8)
    loss, metric, lr, grad, gap, stability = fig.subplots(2, 3).flat
    draw.pair_panel(loss, records, "loss", LOSS_LOG_RATIO)
    _metric(metric, records)
    _learning_rate(lr, records)
    _grad_norm(grad, records)
    _gap(gap, records)
    _stability(stability, records)
    draw.set_suptitle(fig, draw.suptitle(records, "training monitor"), 13)
    return fig


def _metric(ax: Axes, records: Records) -> None:
    name = records.main_metric
    if name is None:
        ax.set_title("Metric")
        draw.epoch_axis(ax, records, "")
        draw.note(ax, "no metric recorded in history.csv")
        return
    draw.pair_panel(ax, records, name, LOSS_LOG_RATIO)


def _learning_rate(ax: Axes, records: Records) -> None:
    ax.set_title("Learning rate")
    draw.step_axis(ax, records, "learning rate")
    steps, lr = records.step_series("lr")
    finite = lr[np.isfinite(lr)]
    if not len(finite):
        draw.note(ax, "no learning rates in steps.csv")
        return
    draw.plot_finite(ax, steps, lr, color="tab:green", lw=1.5)
    draw.log_if_wide(ax, lr, LR_LOG_RATIO)
    if ax.get_yscale() == "linear":
        # From zero: a constant rate would otherwise sit on an axis zoomed to rounding noise.
        ax.set_ylim(0, finite.max() * 1.15 if finite.max() > 0 else 1.0)
        ax.ticklabel_format(axis="y", style="sci", scilimits=(-2, 3))
    if finite.min() == finite.max():
        ax.text(0.5, 0.5, f"constant {finite[0]:.3g}", transform=ax.transAxes, ha="center", va="center",
                color="tab:green")
    _annotate_steps(ax, records, steps, lr)


def _grad_norm(ax: Axes, records: Records) -> None:
    series = _per_step(ax, records, "grad_norm", "Gradient norm (global, before clipping)", "L2 norm",
                       "no gradient norms in steps.csv")
    if series is None:
        return
    steps, norms = series
    # Per-epoch values sit at the epoch's last step, so the three lines share one axis.
    ends = records.epoch_end_steps()
    for column, style in (("grad_norm", {"color": "black", "lw": 1.6, "label": "epoch mean"}),
                          ("grad_norm_max", {"color": "tab:purple", "lw": 1.2, "ls": "--", "label": "epoch max"})):
        epochs, values = records.epoch_series(column)
        keep = np.array([int(e) in ends for e in epochs], dtype=bool)
        x = np.array([ends[int(e)] for e in epochs[keep]], dtype=float)
        draw.plot_finite(ax, x, values[keep], **style)
    draw.log_axis(ax, norms)
    _annotate_steps(ax, records, steps, norms)
    draw.legend(ax)


def _gap(ax: Axes, records: Records) -> None:
    """val_loss − train loss per epoch: the true gap when the training split was re-evaluated.

    ``train_eval_loss`` is the trained model's loss on the training split in inference mode,
    like ``val_loss``: their difference is the generalization gap. Without it (older runs) the
    gap uses ``loss``, the running mean in training mode (dropout on, weights moving): an estimate.
    """
    true_gap = len(records.epoch_series("train_eval_loss")[0]) > 0
    if true_gap:
        ax.set_title("Overfitting gap: val loss − train loss\n(both in inference mode, after the epoch)", fontsize=11)
    else:
        ax.set_title("Overfitting gap: val loss − train loss\n(train loss in training mode, dropout on: an estimate)",
                     fontsize=11)
    draw.epoch_axis(ax, records, "val loss − train loss")
    gap = _difference(records, "val_loss", "train_eval_loss" if true_gap else "loss")
    if gap is None:
        draw.note(ax, "no validation loss recorded: no gap to show")
        return
    epochs, values = gap
    sparse = len(epochs) <= 20
    draw.plot_finite(ax, epochs, values, color="tab:red", lw=1.5, marker="o" if sparse else None, ms=3,
                     label="gap (train re-evaluated)" if true_gap else "gap")
    if true_gap:
        estimate = _difference(records, "val_loss", "loss")
        if estimate is not None:
            draw.plot_finite(ax, *estimate, color="gray", lw=1.0, ls="--",
                             label="val − running train loss (dropout on)")
    ax.axhline(0, color="gray", lw=0.8)
    finite = np.isfinite(values)
    ax.fill_between(epochs[finite], values[finite], 0, where=values[finite] > 0, color="tab:red", alpha=0.12,
                    interpolate=True)
    draw.mark_epochs(ax, records)
    draw.mark_non_finite(ax, epochs, values, lambda e: f"epoch {e:g}")
    draw.legend(ax)


def _difference(records: Records, minuend: str, subtrahend: str) -> tuple[np.ndarray, np.ndarray] | None:
    """``minuend − subtrahend`` per epoch where both have a value; None where they never do."""
    other = dict(zip(*records.epoch_series(subtrahend)))
    epochs, values = records.epoch_series(minuend)
    both = np.array([e in other for e in epochs], dtype=bool)
    if not both.any():
        return None
    return epochs[both], values[both] - np.array([other[e] for e in epochs[both]])


def _stability(ax: Axes, records: Records) -> None:
    series = _per_step(ax, records, "loss", "Stability: loss per step", "loss", "no step losses in steps.csv")
    if series is None:
        return
    steps, loss = series
    finite = np.isfinite(loss)
    if finite.any():
        window = _smoothing_window(records, len(steps))
        ax.plot(steps[finite], moving_average(loss[finite], window), color="navy", lw=1.8,
                label=f"{SMOOTHING_EPOCHS}-epoch moving average ({window} steps)")
    draw.log_if_wide(ax, loss, LOSS_LOG_RATIO)
    _annotate_steps(ax, records, steps, loss)
    draw.legend(ax)


def _per_step(ax: Axes, records: Records, column: str, title: str, ylabel: str,
              missing: str) -> tuple[np.ndarray, np.ndarray] | None:
    """A per-step panel's start: its title and step axis, and ``column`` at every step as a faint line.

    Returns:
        The steps and values; None, with ``missing`` noted on the panel, when steps.csv has none.
    """
    ax.set_title(title)
    draw.step_axis(ax, records, ylabel)
    steps, values = records.step_series(column)
    if len(steps) == 0:
        draw.note(ax, missing)
        return None
    draw.plot_finite(ax, steps, values, color=draw.TRAIN, lw=0.6, alpha=0.35, label="per step")
    return steps, values


def moving_average(values: np.ndarray, window: int) -> np.ndarray:
    """Centred moving average; near the ends the window shrinks to the points that exist.

    A direct sum per point (``np.convolve``), not a running cumulative sum: after a
    blow-up to 1e27 a cumulative sum would swamp every later value with rounding error.
    """
    window = max(1, int(window))
    # Point i averages values[i - window // 2 : i + (window - 1) // 2 + 1], clipped to the series.
    centre = slice((window - 1) // 2, (window - 1) // 2 + len(values))
    kernel = np.ones(window)
    sums = np.convolve(values, kernel)[centre]
    counts = np.convolve(np.ones(len(values)), kernel)[centre]
    return sums / counts


def _smoothing_window(records: Records, n_steps: int) -> int:
    epochs = len(records.epoch_end_steps()) or 1
    return max(1, round(SMOOTHING_EPOCHS * n_steps / epochs))


def _annotate_steps(ax: Axes, records: Records, steps: np.ndarray, values: np.ndarray) -> None:
    epoch_of = {int(r["step"]): r.get("epoch") for r in records.steps if r.get("step") is not None}
    draw.mark_non_finite(ax, steps, values, lambda s: f"step {s:g} (epoch {epoch_of.get(int(s), '?')})")
