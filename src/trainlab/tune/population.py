"""Training a population of trials: those that share the data and schedule train fused in one engine.

The grouping is a study's (:func:`trainlab.studies.groups.fusion_key`, then
:func:`trainlab.training.fusable`); each trial trains with its :class:`~trainlab.tune.pruning.PruneCallback`,
so a pruned trial stops as early stopping stops a run (a fused member is frozen).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trainlab.studies.groups import fusion_key
from trainlab.studies.spec import Plan
from trainlab.tune.sampler import Asked
from trainlab.tune.spec import TuneSpec

if TYPE_CHECKING:
    from trainlab.tune.pruning import Pruner  # Keras: the pruner is built when a tune runs


@dataclass
class TrialRun:
    """A trial to train: what Optuna asked for, its validated recipe (as a study's plan), its run directory."""

    asked: Asked
    plan: Plan
    dir: Path


def trial_dir(tune_dir: Path, number: int) -> Path:
    """Where a trial's run directory goes: ``runs/trial-NNN``."""
    return tune_dir / "runs" / f"trial-{number:03d}"


def train_population(
    trials: list[TrialRun], spec: TuneSpec, pruner: Pruner, executor: Any = None
) -> list[dict[str, Any]]:
    """Train the trials (fused where they can be) and return one ``trials.csv`` row each, in order.

    Args:
        trials: the population, each with its recipe and run directory.
        spec: the search (its executor and metric).
        pruner: the tune's pruner; every trial is finished in it when its training ends.
        executor: ``processes``, ``dask``: the open pool or cluster (:func:`trainlab.tune.remote.open_executor`),
            which trains each fused group as a task in another process.

    Returns:
        The rows (``trial``, ``status``, ``value``, ... and the trial's values by key path).
    """
    if executor is not None:  # processes, dask: see trainlab.tune.remote
        return executor.train(trials, spec, pruner)
    groups: dict[str, list[TrialRun]] = {}
    for n, trial in enumerate(trials):
        key = fusion_key(trial.plan) if spec.config.executor == "fused" else str(n)
        groups.setdefault(key, []).append(trial)
    rows: dict[int, dict[str, Any]] = {}
    for group in groups.values():
        try:
            rows.update(_train_group(group, spec, pruner))
        except Exception as exc:  # a trial that cannot train is a failed row, not a failed search
            error = f"{type(exc).__name__}: {exc}".splitlines()[0]
            for trial in group:
                if trial.asked.number not in rows:
                    rows[trial.asked.number] = row(trial.asked, spec, "failed", None, [], None, error)
        finally:
            for trial in group:
                pruner.finish(trial.asked.number)
    return [rows[t.asked.number] for t in trials]


def _train_group(group: list[TrialRun], spec: TuneSpec, pruner: Pruner) -> dict[int, dict[str, Any]]:
    from trainlab import data as tl_data  # TensorFlow: loaded when a tune trains
    from trainlab.training import Trainer, fit_together, fusable  # TensorFlow, as above

    first = group[0].plan
    data_seed = first.recipe.data.seed if first.recipe.data.seed is not None else first.recipe.seed
    data = tl_data.load(first.recipe.data, seed=data_seed, base_dir=first.base_dir)
    trainers = [Trainer(t.plan.recipe, name=t.plan.recipe.name, base_dir=t.plan.base_dir, loaded_data=data)
                for t in group]
    callbacks = [[pruner.callback(t.asked.number)] for t in group]
    rows = {}
    if len(group) > 1 and fusable(trainers) is None:
        tick = time.perf_counter()
        runs = fit_together(trainers, [t.dir for t in group], callbacks)
        share = (time.perf_counter() - tick) / len(group)
        for trial, run in zip(group, runs):
            rows[trial.asked.number] = _row_of(trial, run, spec, pruner, share)
        return rows
    for trial, trainer, cbs in zip(group, trainers, callbacks):
        run = trainer.fit(trial.dir, cbs)
        pruner.finish(trial.asked.number)  # the next trial of the population is compared with this one
        rows[trial.asked.number] = _row_of(trial, run, spec, pruner, run.summary.get("wall_time_s"))
    return rows


def _row_of(trial: TrialRun, run: Any, spec: TuneSpec, pruner: Pruner, wall: Any) -> dict[str, Any]:
    summary = run.summary
    pruned_at = pruner.pruned.get(trial.asked.number)
    status = summary.get("status")
    if status == "completed" and pruned_at is not None:
        status = "pruned"
    elif status != "completed":
        status = "failed"
    return row(trial.asked, spec, status, summary, run.history, wall, summary.get("error"), pruned_at)


def row(asked: Asked, spec: TuneSpec, status: str, summary: dict[str, Any] | None, history: list[dict[str, Any]],
        wall: Any, error: str | None, pruned_at: int | None = None) -> dict[str, Any]:
    """One line of ``trials.csv``: the metric at the run's best epoch (as a study's ``best_value``), then the values."""
    summary = summary or {}
    best_epoch = summary.get("best_epoch")
    best = next((r for r in history if r.get("epoch") == best_epoch), history[-1] if history else None)
    value = best.get(spec.config.metric) if best else None
    return {
        "trial": asked.number, "status": status,
        "value": float(value) if value is not None else math.nan,
        "best_epoch": best_epoch, "epochs_run": summary.get("epochs_run"), "pruned_at_epoch": pruned_at,
        "wall_time_s": wall, "error": error, **asked.values,
    }


def curve(history: list[dict[str, Any]], metric: str) -> dict[int, float]:
    """The metric by epoch, for Optuna's intermediate values."""
    return {int(r["epoch"]): float(r[metric]) for r in history if r.get(metric) is not None}
