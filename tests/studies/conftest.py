"""Synthetic study directories, in the layout the study executors write (no training).

Every run's records are closed forms of (variant index k, seed s, epoch e), so tests can
recompute what the figures and tables should show:

    loss      1/e + 0.1 k + 0.01 s          val_loss  loss + 0.05
    accuracy  1 - 1/(e + 1)                 val_<metric>  the run's best value - 0.002 (E - e)
    layers.csv, first layer: weight_norm 1 + k + 0.1 s, weight_l1 10 (1 + k) + s
    weights.npz: kernel of dense_1 = linspace(-1, 1, 64) / (k + 1) + 0.001 s (first and last epoch)
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pytest

from trainlab import rundir

LAYERS = ("dense_1", "dense_2", "output")
LAYER_COLUMNS = ["epoch", "layer", "grad_norm", "weight_norm", "weight_l1", "update_ratio", "dead_fraction",
                 "saturated_fraction"]
HISTORY_COLUMNS = ["epoch", "loss", "val_loss", "accuracy", "val_accuracy", "lr", "grad_norm", "grad_norm_max",
                   "epoch_time_s"]


def write_study(
    path: Path,
    values: Mapping[str, Sequence[float]],
    epochs: int = 6,
    stopped: Mapping[tuple[str, int], int] | None = None,
    no_records: Sequence[tuple[str, int]] = (),
    weights: bool = True,
    metric: str = "val_accuracy",
    mode: str = "max",
    name: str = "synthetic-study",
) -> Path:
    """Write ``study.json``, ``results.csv`` and ``runs/<variant>/seed<k>/`` for the given best values.

    Args:
        values: per variant, the best value of each seed (seeds 0, 1, ...); NaN marks a failed
            run, whose losses turn NaN from epoch 3 (a divergence).
        epochs: epochs of a run that did not stop early.
        stopped: ``(variant, seed) -> last epoch`` for runs that stopped early.
        no_records: runs that failed before their first epoch (no run directory at all).
        weights: write ``weights.npz`` and the extended ``layers.csv`` columns.
    """
    stopped = dict(stopped or {})
    path.mkdir(parents=True, exist_ok=True)
    n_seeds = max(len(v) for v in values.values())
    executors = {label: ("fused", "sequential", "processes")[k % 3] for k, label in enumerate(values)}
    spec = {"name": name, "metric": metric, "mode": mode,
            "variants": {label: {"model.dropout": 0.1 * k} for k, label in enumerate(values)},
            "seeds": list(range(n_seeds)), "executors": executors, "wall_time_s": 12.5}
    (path / "study.json").write_text(json.dumps(spec, indent=2), encoding="utf-8")
    results = []
    for k, (label, sample) in enumerate(values.items()):
        for s, best in enumerate(sample):
            run = path / "runs" / label / f"seed{s}"
            if (label, s) in no_records:
                results.append(_result(label, s, best, None, executors[label]))
                continue
            last = stopped.get((label, s), epochs)
            history = write_run(run, k, s, best, last, epochs, weights, stopped_early=(label, s) in stopped)
            results.append(_result(label, s, best, history, executors[label]))
    columns = ["variant", "seed", "best_value", "best_epoch", "epochs_run", "wall_time_s", "executor",
               *(f"final_{c}" for c in HISTORY_COLUMNS[1:])]
    with open(path / "results.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(results)
    return path


def write_run(run: Path, k: int, s: int, best: float, last: int, epochs: int, weights: bool,
              stopped_early: bool) -> list[dict]:
    run.mkdir(parents=True)
    failed = not math.isfinite(best)
    rows = []
    for e in range(1, last + 1):
        diverged = failed and e >= 3
        loss = math.nan if diverged else 1 / e + 0.1 * k + 0.01 * s
        rows.append({"epoch": e, "loss": loss, "val_loss": loss + 0.05, "accuracy": 1 - 1 / (e + 1),
                     "val_accuracy": math.nan if diverged else (0.5 if failed else best) - 0.002 * (epochs - e),
                     "lr": 1e-3, "grad_norm": 0.5, "grad_norm_max": 0.9, "epoch_time_s": 0.01})
    history = rundir.CsvRecords(run / rundir.HISTORY, HISTORY_COLUMNS)
    history.write(rows)
    history.close()
    columns = LAYER_COLUMNS if weights else LAYER_COLUMNS[:4]
    layers = rundir.CsvRecords(run / rundir.LAYERS, columns)
    for e in range(1, last + 1):
        nan = failed and e >= 3
        layers.write({"epoch": e, "layer": name, "grad_norm": 0.1,
                      "weight_norm": math.nan if nan else (1 + k + 0.1 * s) * (j + 1) * e / last,
                      "weight_l1": math.nan if nan else (10 * (1 + k) + s) * (j + 1) * e / last,
                      "update_ratio": 1e-3, "dead_fraction": 0.0, "saturated_fraction": 0.0}
                     for j, name in enumerate(LAYERS))
    layers.close()
    if weights:
        kernel = (np.linspace(-1, 1, 64) / (k + 1) + 0.001 * s).astype(np.float32)
        arrays = {f"{name}/epoch_{e}": kernel * (j + 1) * e / last
                  for j, name in enumerate(LAYERS[:2]) for e in (1, last)}
        np.savez(run / "weights.npz", **arrays)
    rundir.write_json(run / rundir.SUMMARY, {
        "status": "failed" if failed else "completed", "name": run.parent.name, "monitor": "val_accuracy",
        "epochs_run": last, "best_epoch": last, "best_value": best, "stopped_early": stopped_early})
    return rows


def _result(label: str, seed: int, best: float, history: list[dict] | None, executor: str) -> dict:
    row = {"variant": label, "seed": seed, "best_value": best, "best_epoch": len(history) if history else "",
           "epochs_run": len(history) if history else 0, "wall_time_s": 1.5, "executor": executor}
    if history:
        row.update({f"final_{c}": history[-1][c] for c in HISTORY_COLUMNS[1:]})
    return row


# Tutorial section 6's four variants, 5 seeds; one run stopped early, one diverged.
TUTORIAL_VALUES = {
    "none": [0.9533, 0.9400, 0.9467, 0.9333, 0.9500],
    "dropout": [0.9333, 0.9467, 0.9400, 0.9533, 0.9400],
    "batch_norm": [0.9467, 0.9600, 0.9533, 0.9667, 0.9600],
    "batch_norm+dropout": [0.9467, 0.9333, math.nan, 0.9400, 0.9467],
}


@pytest.fixture
def make_study(tmp_path):
    """A factory: ``make_study(values, **kw)`` writes a synthetic study under ``tmp_path`` (see ``write_study``)."""
    count = iter(range(1000))
    return lambda values, **kw: write_study(tmp_path / f"study{next(count)}", values, **kw)


@pytest.fixture(scope="module")
def tutorial_study(tmp_path_factory):
    """Tutorial section 6 as a study: 4 variants x 5 seeds, 8 epochs, dropout seed 1 stopped at epoch 5,
    batch_norm+dropout seed 2 diverged."""
    return write_study(tmp_path_factory.mktemp("tutorial") / "regularization", TUTORIAL_VALUES, epochs=8,
                       stopped={("dropout", 1): 5})
