"""A run's summary (``summary.json``'s figures: best epoch, final values, versions) and its diagnosis."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

import trainlab
from trainlab.diagnose import RULES, diagnose
from trainlab.rundir import Records
from trainlab.training.distribute import Placement
from trainlab.training.record_writer import RecordWriter


def summarize(
    history: list[dict[str, Any]], monitor: str, started: float, callbacks: Sequence[Any], *,
    epochs: int, stopped: bool, data: Any, placement: Placement, inputs: Any = None, training: Any = None,
) -> dict[str, Any]:
    """The summary's figures of a run that trained ``history``.

    Args:
        history: the epochs' rows.
        monitor: the value that picks the best epoch (the early-stopping monitor, else ``val_loss`` or ``loss``).
        started: ``time.perf_counter()`` when the run began (the earlier sessions' time included).
        callbacks: the run's callbacks (an early stopping that restored weights names the best epoch).
        epochs: ``training.epochs``.
        stopped: whether the model was told to stop training (``model.stop_training``).
        data: the run's data (its description goes into the summary).
        placement: where the run trained.
        inputs: the data as the engine took it (:class:`~trainlab.training.prepare.Inputs`): what was
            done to it (class weights, a stream's samples and batches) goes into the data's description.
        training: the recipe's ``training`` section.
    """
    # When early stopping restored weights, "best" is the epoch it restored (it alone knows
    # its start_from_epoch, min_delta and baseline); otherwise the monitor's best in the history.
    restorer = next(
        (c for c in callbacks if isinstance(c, keras.callbacks.EarlyStopping)
         and c.restore_best_weights and c.best_weights is not None),
        None,
    )
    if restorer is not None and restorer.best_epoch is not None:
        monitor, best_epoch, best_value = restorer.monitor, restorer.best_epoch + 1, float(restorer.best)
    else:
        best_epoch, best_value = best_of(history, monitor)
    stopped_early = bool(history) and len(history) < epochs and stopped
    best_row = next((r for r in history if r["epoch"] == best_epoch), {})
    return {
        "epochs_run": len(history),
        "best_epoch": best_epoch,
        "monitor": monitor,
        "best_value": best_value,
        "best": {k: v for k, v in best_row.items() if k != "epoch"},
        "restored_best_weights": restorer is not None,
        "final": {k: v for k, v in (history[-1] if history else {}).items() if k not in ("epoch",)},
        "test": None,
        "stopped_early": stopped_early,
        "wall_time_s": time.perf_counter() - started,
        "data": describe_data(data, inputs, training),
        "trainlab_version": trainlab.__version__,
        "tensorflow_version": tf.__version__,
        "keras_version": keras.__version__,
        **({"distribute": placement.describe()} if placement.strategy is not None else {}),
    }


def describe_data(data: Any, inputs: Any = None, training: Any = None) -> dict[str, Any]:
    """The data's description (``data.describe()``), with what training did with it.

    ``class_weight``: the class weights in use, by class. For streamed data: ``samples_from``
    (the fixed samples, of the train-eval pass, the activation probe and the metrics' build, are
    the stream's first samples, not a random subset); ``batch_size`` when the stream came batched
    (its own batches were used as they came, in their order); ``checkpoints`` when the recipe asks
    for checkpoints inside epochs, which a stream cannot resume from (it checkpoints at epoch ends).
    """
    described = data.describe()
    if inputs is None:
        return described
    if inputs.class_weight is not None:
        described["class_weight"] = inputs.class_weight
    if inputs.streamed:
        described["samples_from"] = "first batches"
        if inputs.batched:
            described["batch_size"] = "as the dataset batches it (training.batch_size and training.shuffle not used)"
        if training is not None and training.checkpoint.enabled and training.checkpoint.every_steps:
            described["checkpoints"] = "at epoch ends (streamed data: training.checkpoint.every_steps not used)"
    return described


def best_of(history: list[dict[str, Any]], monitor: str) -> tuple[int | None, float | None]:
    """The 1-based epoch and value where ``monitor`` was best (max for accuracy-like names)."""
    rows = [(r["epoch"], r[monitor]) for r in history if r.get(monitor) is not None and np.isfinite(r[monitor])]
    if not rows:
        return None, None
    pick = max if monitor_mode(monitor) == "max" else min
    epoch, value = pick(rows, key=lambda r: r[1])
    return int(epoch), float(value)


def monitor_mode(monitor: str) -> str:
    """``max`` for accuracy, AUC, precision, recall and F-scores, else ``min`` (Keras' rule, extended)."""
    name = monitor.removeprefix("val_").lower()
    return "max" if any(k in name for k in ("acc", "auc", "precision", "recall", "f1", "fbeta", "r2")) else "min"


def diagnosis(
    history: list[dict[str, Any]], records: RecordWriter, summary: dict[str, Any], run_dir: Path
) -> list[dict[str, Any]]:
    """The written diagnosis of the run's records (empty before the first epoch, unless training met non-finite values).

    It reads the rows just written, held in memory, with the final summary (whether the run
    stopped early matters to some rules; the file still says "running" at this point).
    """
    if not history:  # a run that gave up in its first epoch: only what events.csv says
        rows = Records([], [], [], summary, run_dir, events=records.event_rows)
        return [finding.to_dict() for finding in diagnose(rows, {"nonfinite": RULES["nonfinite"]})] \
            if records.event_rows else []
    rows = Records(history, records.step_rows, records.layer_rows, summary, run_dir, events=records.event_rows)
    return [finding.to_dict() for finding in diagnose(rows)]

