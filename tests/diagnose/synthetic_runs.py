"""Synthetic run directories for the diagnosis tests, written with the run directory's own writers."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from trainlab import rundir
from trainlab.training.record_writer import LAYER_COLUMNS, STEP_COLUMNS

STEPS_PER_EPOCH = 10
EPOCHS = 30


def healthy_loss(epochs: int = EPOCHS) -> list[float]:
    """Training loss falling from ~0.59 to ~0.2 and levelling off."""
    return [0.2 + 0.5 * math.exp(-e / 4) for e in range(1, epochs + 1)]


def healthy_val_loss(epochs: int = EPOCHS) -> list[float]:
    """Validation loss a little above the training loss, levelling off (no rise)."""
    return [0.25 + 0.5 * math.exp(-e / 4) for e in range(1, epochs + 1)]


def write_records(
    path: Path,
    loss: Sequence[float] | None = None,
    val_loss: Sequence[float] | None = None,
    lr: float = 1e-3,
    step_loss: Callable[[int, int, float], float] | None = None,
    step_grad_norm: Callable[[int, int], float] | None = None,
    layer_grad_norms: dict[str, float] | None = None,
    noise: float = 0.2,
    layer_values: Callable[[str, int], dict[str, float]] | None = None,
    train_eval_loss: Sequence[float] | None = None,
) -> Path:
    """Write ``history.csv``, ``steps.csv``, ``layers.csv`` and ``summary.json`` in a real run's format.

    Per step (``STEPS_PER_EPOCH`` per epoch): loss ``epoch loss x (1 + noise x u)`` and grad norm
    ``0.5 x (1 + noise x u)`` with ``u`` uniform in [-1, 1] (seeded), unless ``step_loss(step, epoch,
    epoch_loss)`` / ``step_grad_norm(step, epoch)`` say otherwise. The epoch's ``loss`` column is the
    given one; ``grad_norm``/``grad_norm_max`` are the mean/max of its steps, as a real run writes them.
    ``layer_values(layer, epoch)`` adds ``layers.csv`` cells (``dead_fraction``, ...); ``train_eval_loss``
    adds that ``history.csv`` column.
    """
    loss = list(healthy_loss() if loss is None else loss)
    val_loss = list(healthy_val_loss(len(loss)) if val_loss is None else val_loss)
    layer_grad_norms = layer_grad_norms or {"dense_1": 0.3, "dense_2": 0.3, "output": 0.2}
    rng = np.random.default_rng(0)
    path.mkdir(parents=True, exist_ok=True)
    history = rundir.CsvRecords(path / rundir.HISTORY, ["epoch", "loss", "val_loss", "accuracy", "val_accuracy",
                                                       *(["train_eval_loss"] if train_eval_loss else []),
                                                       "lr", "grad_norm", "grad_norm_max", "epoch_time_s"])
    steps = rundir.CsvRecords(path / rundir.STEPS, STEP_COLUMNS)
    layers = rundir.CsvRecords(path / rundir.LAYERS, LAYER_COLUMNS)
    step = 0
    for e, (train, val) in enumerate(zip(loss, val_loss), start=1):
        rows = []
        for _ in range(STEPS_PER_EPOCH):
            step += 1
            u, v = rng.uniform(-1, 1, 2)
            rows.append({"step": step, "epoch": e, "lr": lr,
                         "loss": step_loss(step, e, train) if step_loss else train * (1 + noise * u),
                         "grad_norm": step_grad_norm(step, e) if step_grad_norm else 0.5 * (1 + noise * v)})
        norms = [r["grad_norm"] for r in rows]
        history.write([{"epoch": e, "loss": train, "val_loss": val, "accuracy": 0.9, "val_accuracy": 0.85, "lr": lr,
                        "grad_norm": float(np.mean(norms)), "grad_norm_max": float(np.max(norms)),
                        "epoch_time_s": 0.01,
                        **({"train_eval_loss": train_eval_loss[e - 1]} if train_eval_loss else {})}])
        steps.write(rows)
        layers.write({"epoch": e, "layer": name, "grad_norm": g, "weight_norm": 5.0,
                      **(layer_values(name, e) if layer_values else {})}
                     for name, g in layer_grad_norms.items())
    for records in (history, steps, layers):
        records.close()
    finite = [(v, e) for e, v in enumerate(val_loss, start=1) if math.isfinite(v)]
    rundir.write_json(path / rundir.SUMMARY, {
        "status": "completed", "name": "synthetic", "monitor": "val_loss", "epochs_run": len(loss),
        "best_epoch": min(finite)[1] if finite else None, "stopped_early": False,
    })
    return path
