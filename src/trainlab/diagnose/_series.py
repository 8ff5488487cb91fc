"""Small helpers the rules share: finite series and a moving average."""

from __future__ import annotations

import numpy as np

from trainlab.rundir import Records


def finite_epochs(records: Records, column: str) -> tuple[np.ndarray, np.ndarray]:
    """``(epochs, values)`` of a ``history.csv`` column, finite values only."""
    x, y = records.epoch_series(column)
    keep = np.isfinite(y)
    return x[keep], y[keep]


def finite_steps(records: Records, column: str) -> tuple[np.ndarray, np.ndarray]:
    """``(steps, values)`` of a ``steps.csv`` column, finite values only."""
    x, y = records.step_series(column)
    keep = np.isfinite(y)
    return x[keep], y[keep]


def moving_average(values: np.ndarray, window: int) -> np.ndarray:
    """Trailing-window mean (``len(values) - window + 1`` points); the values themselves if too short."""
    if len(values) == 0:
        return values
    window = max(1, min(window, len(values)))
    return np.convolve(values, np.ones(window) / window, mode="valid")


def last_lr(records: Records) -> float | None:
    """The learning rate of the last epoch with a finite one, else None."""
    _, lr = finite_epochs(records, "lr")
    return float(lr[-1]) if len(lr) else None


def fmt(value: float | None) -> str:
    """A number for a message: 4 significant digits."""
    return "n/a" if value is None else f"{value:.4g}"
