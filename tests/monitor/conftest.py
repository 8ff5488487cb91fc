"""Synthetic run directories, written with the run directory's own writers (same format as a real run)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from trainlab import rundir
from trainlab.training.record_writer import LAYER_COLUMNS, STEP_COLUMNS

LAYERS = ("dense_1", "dense_2", "output")


def write_run(
    path: Path,
    epochs: int = 8,
    steps_per_epoch: int = 4,
    metrics: tuple[str, ...] = ("accuracy",),
    validation_every: int | None = 1,
    best_epoch: int | None = 5,
    stopped_early: bool = False,
    lr: float | list[float] = 1e-3,
    nan_from_epoch: int | None = None,
    summary: bool = True,
    train_eval: bool = False,
    layer_extras: bool = False,
    weights: bool = False,
    recipe: bool = True,
    extra_summary: dict | None = None,
) -> Path:
    """Write ``history.csv``, ``steps.csv``, ``layers.csv`` and ``summary.json`` as a run would.

    Values are simple closed forms of the epoch and step so tests can recompute them:
    loss ``1/e``, val_loss ``1/e + 0.01 e``, metric ``1 - 1/(e+1)``, val metric that minus 0.05,
    step loss ``1/epoch + 0.1 (step % 2)``, step grad norm ``step / 10``, epoch time 0.01 s
    (the first epoch 0.5 s: compiling).
    ``nan_from_epoch`` makes every loss NaN from that epoch on (a diverging run).
    ``train_eval`` adds ``train_eval_loss`` ``0.9/e`` and ``train_eval_<metric>`` metric + 0.01.
    ``layer_extras`` fills layers.csv's newer columns: update ratio ``(k+1) 0.1/e`` for layer k,
    dead fraction ``0.1 k + 0.01 e`` for the hidden layers, saturated fraction ``0.05 e / epochs``
    for ``output``. ``weights`` writes ``weights.npz`` (normal kernels, std ``0.1 (k+1)`` at
    epoch 1, twice that at the last epoch). ``recipe`` writes a short ``recipe.yaml``.
    ``extra_summary`` is merged into ``summary.json``.
    """
    path.mkdir(parents=True, exist_ok=True)
    val_columns = ["val_loss", *(f"val_{m}" for m in metrics)] if validation_every else []
    eval_columns = [f"train_eval_{c}" for c in ("loss", *metrics)] if train_eval else []
    columns = ["epoch", "loss", *val_columns[:1], *metrics, *val_columns[1:], *eval_columns,
               "lr", "grad_norm", "grad_norm_max", "epoch_time_s"]
    history = rundir.CsvRecords(path / rundir.HISTORY, columns)
    steps = rundir.CsvRecords(path / rundir.STEPS, STEP_COLUMNS)
    layers = rundir.CsvRecords(path / rundir.LAYERS, LAYER_COLUMNS)
    step = 0
    for e in range(1, epochs + 1):
        diverged = nan_from_epoch is not None and e >= nan_from_epoch
        rate = lr[e - 1] if isinstance(lr, list) else lr
        step_rows = []
        for i in range(steps_per_epoch):
            step += 1
            step_rows.append({"step": step, "epoch": e, "loss": math.nan if diverged else 1 / e + 0.1 * (step % 2),
                              "grad_norm": math.inf if diverged else step / 10, "lr": rate})
        norms = [r["grad_norm"] for r in step_rows]
        row = {"epoch": e, "loss": math.nan if diverged else 1 / e, "lr": rate,
               "grad_norm": sum(norms) / len(norms), "grad_norm_max": max(norms),
               "epoch_time_s": 0.5 if e == 1 else 0.01}
        for m in metrics:
            row[m] = 1 - 1 / (e + 1)
        if train_eval:
            row["train_eval_loss"] = math.nan if diverged else 0.9 / e
            for m in metrics:
                row[f"train_eval_{m}"] = 1 - 1 / (e + 1) + 0.01
        if validation_every and (e % validation_every == 0 or e == epochs):
            row["val_loss"] = math.nan if diverged else 1 / e + 0.01 * e
            for m in metrics:
                row[f"val_{m}"] = 1 - 1 / (e + 1) - 0.05
        history.write([row])
        steps.write(step_rows)
        layers.write({"epoch": e, "layer": name, "grad_norm": (k + 1) * 10.0 ** -e, "weight_norm": k + 1 + e / 10,
                      **(_layer_extras(k, name, e, epochs) if layer_extras else {})}
                     for k, name in enumerate(LAYERS))
    for records in (history, steps, layers):
        records.close()
    if summary:
        rundir.write_json(path / rundir.SUMMARY, {
            "status": "completed", "name": "synthetic", "monitor": "val_loss" if validation_every else "loss",
            "epochs_run": epochs, "best_epoch": best_epoch, "best_value": 0.25, "stopped_early": stopped_early,
            **(extra_summary or {}),
        })
    if weights:
        write_weights(path, {1: 0.1, epochs: 0.2})
    if recipe:
        (path / rundir.RECIPE).write_text("name: synthetic\ntraining:\n  epochs: %d\n" % epochs, encoding="utf-8")
    return path


def _layer_extras(k: int, name: str, epoch: int, epochs: int) -> dict:
    row = {"weight_l1": 10.0 * (k + 1), "update_ratio": (k + 1) * 0.1 / epoch}
    if name == "output":
        row["saturated_fraction"] = 0.05 * epoch / epochs
    else:
        row["dead_fraction"] = 0.1 * k + 0.01 * epoch
    return row


def write_weights(path: Path, scales: dict[int, float], layers: tuple[str, ...] = LAYERS, n: int = 2000) -> None:
    """``weights.npz`` as a run writes it: ``<layer>/epoch_<e>`` -> float32 kernel values.

    Layer k at epoch e holds ``n`` normal values with standard deviation ``scales[e] * (k + 1)``.
    """
    rng = np.random.default_rng(0)
    arrays = {f"{name}/epoch_{e}": rng.normal(0.0, scale * (k + 1), n).astype(np.float32)
              for e, scale in scales.items() for k, name in enumerate(layers)}
    np.savez(path / "weights.npz", **arrays)


@pytest.fixture
def run_dir(tmp_path):
    """A factory: ``run_dir(**kw)`` writes a synthetic run under ``tmp_path`` (see ``write_run``)."""
    count = iter(range(1000))
    return lambda **kw: write_run(tmp_path / f"run{next(count)}", **kw)
