"""A run's records read back from its run directory, and the series the figures plot.

Only plain files are read (``history.csv``, ``steps.csv``, ``layers.csv``, ``events.csv``,
``summary.json``, ``recipe.yaml``, ``weights.npz``); no model, no TensorFlow. Everything here works on a run that is
still training or that failed: the figures show whatever epochs were written.
"""

from __future__ import annotations

import json
import math
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from trainlab.errors import TrainlabError
from trainlab.rundir import layout

# history.csv columns that are neither the loss nor a metric; nor is any ``train_eval_`` column
# (the training split re-evaluated in inference mode: a twin of the loss or of a metric).
_NOT_METRICS = {"epoch", "loss", "lr", "grad_norm", "grad_norm_max", "epoch_time_s"}
TRAIN_EVAL = "train_eval_"
_WEIGHT_KEY = re.compile(r"(?P<layer>.+)/epoch_(?P<epoch>\d+)")


@dataclass
class Records:
    """What a run wrote, as plain Python values.

    Attributes:
        history: rows of ``history.csv``, one dict per epoch (``None`` for blank cells).
        steps: rows of ``steps.csv``, one per optimizer step (empty if the file is absent).
        layers: rows of ``layers.csv``, one per epoch and layer (empty if the file is absent).
        summary: the contents of ``summary.json`` (empty if absent; any key may be missing).
        run_dir: where the records were read from, if they were.
        recipe: the text of ``recipe.yaml`` as it ran (None if absent).
        weights: per layer, per epoch, the layer's kernel values from ``weights.npz``
            (``{"dense_1": {1: array, 40: array}}``: layers in file order, epochs ascending; empty if absent).
        events: rows of ``events.csv``: non-finite values met in training and what was done
            (rollback, stop, give_up); empty if the file is absent.
    """

    history: list[dict[str, Any]]
    steps: list[dict[str, Any]] = field(default_factory=list)
    layers: list[dict[str, Any]] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)
    run_dir: Path | None = None
    recipe: str | None = None
    weights: dict[str, dict[int, np.ndarray]] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)

    @property
    def name(self) -> str:
        """The run's name: the recipe's, else the folder's."""
        return str(self.summary.get("name") or (self.run_dir.name if self.run_dir else "run"))

    @property
    def metrics(self) -> list[str]:
        """Metric columns of ``history.csv`` in file order (``accuracy``, ``mae``, ...).

        Without their ``val_`` and ``train_eval_`` twins.
        """
        columns = list(self.history[0]) if self.history else []
        return [c for c in columns if c not in _NOT_METRICS and not c.startswith(("val_", TRAIN_EVAL))]

    @property
    def main_metric(self) -> str | None:
        """The metric the monitor shows: ``accuracy`` when recorded, else the first metric, else None."""
        metrics = self.metrics
        return "accuracy" if "accuracy" in metrics else (metrics[0] if metrics else None)

    @property
    def best_epoch(self) -> int | None:
        return _int_or_none(self.summary.get("best_epoch"))

    @property
    def stopped_at(self) -> int | None:
        """The last epoch when early stopping ended the run, else None."""
        if not self.summary.get("stopped_early"):
            return None
        last_epoch = _int_or_none(self.history[-1].get("epoch")) if self.history else None
        return _int_or_none(self.summary.get("epochs_run")) or last_epoch

    def epoch_series(self, column: str) -> tuple[np.ndarray, np.ndarray]:
        """``(epochs, values)`` of a ``history.csv`` column; blank cells are left out, NaN/inf kept."""
        return _series(self.history, "epoch", column)

    def joined_series(self, *columns: str) -> tuple[np.ndarray, np.ndarray]:
        """Several ``history.csv`` columns as one ``(epochs, values)`` pair in epoch order.

        For questions about a panel as a whole: ``joined_series("loss", "val_loss")`` tells
        from which epoch anything on the loss panel stopped being finite.
        """
        pairs = [self.epoch_series(c) for c in columns]
        x = np.concatenate([p[0] for p in pairs])
        y = np.concatenate([p[1] for p in pairs])
        order = np.argsort(x, kind="stable")
        return x[order], y[order]

    def step_series(self, column: str) -> tuple[np.ndarray, np.ndarray]:
        """``(steps, values)`` of a ``steps.csv`` column; blank cells are left out, NaN/inf kept."""
        return _series(self.steps, "step", column)

    def epoch_end_steps(self) -> dict[int, int]:
        """The last step of each epoch in ``steps.csv``: where per-epoch values sit on a step axis."""
        ends: dict[int, int] = {}
        for row in self.steps:
            if row.get("epoch") is not None and row.get("step") is not None:
                ends[int(row["epoch"])] = max(int(row["step"]), ends.get(int(row["epoch"]), 0))
        return ends

    def layer_series(self, column: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Per layer, in the order layers first appear: ``(epochs, values)`` of a ``layers.csv`` column."""
        names = list(dict.fromkeys(str(r["layer"]) for r in self.layers if r.get("layer") is not None))
        return {name: _series([r for r in self.layers if str(r.get("layer")) == name], "epoch", column)
                for name in names}


def display_order(keys: list[str]) -> list[str]:
    """Loss first, each metric beside its twins (``train_eval_``, then ``val_``), then lr and gradient norms."""
    tail = ["lr", "learning_rate", "grad_norm", "grad_norm_max"]
    train = [k for k in keys if not k.startswith(("val_", TRAIN_EVAL)) and k not in tail
             and not k.endswith("_time_s")]
    train.sort(key=lambda k: k != "loss")  # Keras hands logs over sorted by name; loss leads
    ordered = []
    for key in train:
        ordered += [k for k in (key, f"{TRAIN_EVAL}{key}", f"val_{key}") if k in keys]
    ordered += [k for k in keys if k.startswith(("val_", TRAIN_EVAL)) and k not in ordered]
    return ordered + [k for k in tail if k in keys]


def load(run_dir: str | Path, steps: bool = True) -> Records:
    """Read a run directory's records.

    Args:
        run_dir: a folder written by ``trainlab run`` or ``trainlab.train``.
        steps: read ``steps.csv`` too. It holds a row per optimizer step, most of a run's records
            (a tutorial section 7 run: 3000 rows against 150 in ``history.csv``); readers that only
            want epochs, layers or weights (a study's figures) pass False and get ``steps`` empty.

    Returns:
        The records; ``steps``, ``layers``, ``summary``, ``recipe`` and ``weights`` are empty (or
        None) when their file is absent.

    Raises:
        TrainlabError: the folder, or its ``history.csv``, is missing or holds no epochs, or a
            records file cannot be parsed; the message names the file.

    Example:
        >>> records = load("runs/basic")                      # doctest: +SKIP
        >>> records.epoch_series("val_loss"), records.best_epoch  # doctest: +SKIP
    """
    path = Path(run_dir)
    if path.is_file():
        raise TrainlabError(str(path), "is a file, not a run directory (give the folder trainlab run wrote)")
    if not path.is_dir():
        raise TrainlabError(str(path), "is not a run directory (no such folder)")
    history_path = path / layout.HISTORY
    if not history_path.is_file():
        raise TrainlabError(str(history_path), "is missing: not a run directory, or training never started")
    history = _read_csv(history_path)
    if not history:
        raise TrainlabError(str(history_path), "holds no epochs yet (only a header, or nothing)")
    return Records(
        history=history,
        steps=_read_csv(path / layout.STEPS) if steps and (path / layout.STEPS).is_file() else [],
        layers=_read_csv(path / layout.LAYERS) if (path / layout.LAYERS).is_file() else [],
        summary=read_json(path / layout.SUMMARY),
        run_dir=path,
        recipe=_read_text(path / layout.RECIPE),
        weights=_read_weights(path / layout.WEIGHTS),
        events=_read_csv(path / layout.EVENTS) if (path / layout.EVENTS).is_file() else [],
    )


def _read_csv(path: Path) -> list[dict[str, Any]]:
    try:
        return layout.read_csv(path)
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise TrainlabError(str(path), f"cannot be read as a records CSV ({e})") from e


def read_json(path: Path) -> dict[str, Any]:
    """A run directory's JSON object file (``summary.json``, ``preprocessing.json``); {} when it is absent.

    Raises:
        TrainlabError: the file is not valid JSON, or holds something other than an object.
    """
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise TrainlabError(str(path), f"is not valid JSON ({e})") from e
    if not isinstance(data, dict):
        raise TrainlabError(str(path), "must hold a JSON object", type(data).__name__)
    return data


def _read_text(path: Path) -> str | None:
    if not path.is_file():
        return None
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise TrainlabError(str(path), f"cannot be read as text ({e})") from e


def _read_weights(path: Path) -> dict[str, dict[int, np.ndarray]]:
    """``weights.npz``'s ``"<layer>/epoch_<n>"`` arrays as ``{layer: {n: values}}``; other keys are skipped."""
    if not path.is_file():
        return {}
    weights: dict[str, dict[int, np.ndarray]] = {}
    try:
        if not zipfile.is_zipfile(path):  # np.load would guess at pickles, or read a bare .npy array
            raise ValueError("not a zip archive of named arrays")
        with np.load(path, allow_pickle=False) as npz:
            for key in npz.files:
                match = _WEIGHT_KEY.fullmatch(key)
                if match:
                    values = np.asarray(npz[key], dtype=float).ravel()
                    weights.setdefault(match["layer"], {})[int(match["epoch"])] = values
    except (OSError, ValueError, TypeError, zipfile.BadZipFile) as e:
        raise TrainlabError(str(path), f"cannot be read as a NumPy .npz file ({e})") from e
    return {layer: dict(sorted(by_epoch.items())) for layer, by_epoch in weights.items()}


def _series(rows: list[dict[str, Any]], x: str, column: str) -> tuple[np.ndarray, np.ndarray]:
    pairs = [(r[x], _float(r.get(column))) for r in rows if r.get(x) is not None]
    pairs = [(px, py) for px, py in pairs if py is not None]
    return np.array([p[0] for p in pairs], dtype=float), np.array([p[1] for p in pairs], dtype=float)


def _float(value: Any) -> float | None:
    """A cell as a float: blanks are None; ``"nan"``/``"inf"`` (as JSON writes them) stay non-finite."""
    if value is None or value == "":
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _int_or_none(value: Any) -> int | None:
    number = _float(value)
    return int(number) if number is not None and math.isfinite(number) else None


def as_records(records: Records | str | Path) -> Records:
    """Accept records or a run directory (read with :func:`load`)."""
    return records if isinstance(records, Records) else load(records)
