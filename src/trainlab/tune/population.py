"""Training a population of trials: those that share the data and schedule train fused in one engine.

The grouping is a study's (:func:`trainlab.studies.groups.fusion_key`, then
:func:`trainlab.training.fusable`); each trial trains with its :class:`~trainlab.tune.pruning.PruneCallback`,
so a pruned trial stops as early stopping stops a run (a fused member is frozen).

Engines are kept from population to population (:class:`Engines`): a group whose trials can each take a
member of a kept engine with the same program trains there, in the programs that engine traced. Two
trials have the same program when their recipes differ only in what an engine holds in variables (a
number learning rate, the dropout rates; see :mod:`trainlab.training.engine.held`) and the seed, so a
search over those alone traces once, whatever its number of trials.
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



class Engines:
    """What a search keeps from one population to the next: each group's data and the engines it trained in.

    A population's group of trials (one data set, one schedule) trains in a kept engine when the engine
    can take the whole group: every trial a member whose program is its own
    (:func:`~trainlab.training.same_program`), and at least half of the members used (the others sit out, in
    the masked program, and still cost their evaluation each epoch). A group is never split across engines:
    its trials reach every rung together, so a population is pruned as one (synchronous halving), whichever
    engines it trains in. A group no kept engine can take trains in a new engine, kept in turn (the :data:`KEEP`
    newest are).
    """

    KEEP = 4

    def __init__(self) -> None:
        self._data: dict[str, Any] = {}
        self._kept: list[tuple[str, list[Any], Any]] = []  # (fusion key, the trainers it was built for, engine)
        self.built = 0  # engines built (each traced its programs)
        self.reused = 0  # groups that trained in a kept engine

    def data(self, key: str, plan: Plan) -> Any:
        """The group's data, loaded once per search."""
        if key not in self._data:
            from trainlab import data as tl_data  # TensorFlow: loaded when a tune trains

            seed = plan.recipe.data.seed if plan.recipe.data.seed is not None else plan.recipe.seed
            self._data[key] = tl_data.load(plan.recipe.data, seed=seed, base_dir=plan.base_dir)
        return self._data[key]

    def find(self, key: str, trainers: list[Any]) -> tuple[Any, list[int]] | None:
        """A kept engine that takes all of ``trainers``, and the member each takes; None when none does."""
        from trainlab.training import same_program  # TensorFlow, as above

        for kept_key, built_for, engine in reversed(self._kept):
            if kept_key != key or not len(built_for) / 2 <= len(trainers) <= len(built_for):
                continue
            free, slots = list(range(len(built_for))), []
            for trainer in trainers:
                k = next((k for k in free if same_program(built_for[k], trainer)), None)
                if k is None:
                    break
                free.remove(k)
                slots.append(k)
            else:
                self.reused += 1
                return engine, slots
        return None

    def keep(self, key: str, trainers: list[Any]) -> None:
        """Keep the engine ``trainers`` trained in (one they built, that remembered its fresh state)."""
        self._kept = [*self._kept, (key, list(trainers), trainers[0].engine)][-self.KEEP:]
        self.built += 1


def train_population(trials: list[TrialRun], spec: TuneSpec, pruner: Pruner, engines: Engines | None = None,
                     executor: Any = None) -> list[dict[str, Any]]:
    """Train the trials (fused where they can be) and return one ``trials.csv`` row each, in order.

    Args:
        trials: the population, each with its recipe and run directory.
        spec: the search (its executor and metric).
        pruner: the tune's pruner; every trial is finished in it when its training ends.
        engines: what the search keeps between populations (None: nothing kept).
        executor: ``processes``, ``dask``: the open pool or cluster (:func:`trainlab.tune.remote.open_executor`),
            which trains each fused group as a task in another process.

    Returns:
        The rows (``trial``, ``status``, ``value``, ... and the trial's values by key path).
    """
    if executor is not None:  # processes, dask: see trainlab.tune.remote
        return executor.train(trials, spec, pruner)
    engines = engines if engines is not None else Engines()
    groups: dict[str, list[TrialRun]] = {}
    for trial in trials:
        groups.setdefault(fusion_key(trial.plan), []).append(trial)
    rows: dict[int, dict[str, Any]] = {}
    for key, group in groups.items():
        try:
            _train_group(key, group, spec, pruner, engines, rows)
        except Exception as exc:  # a trial that cannot train is a failed row, not a failed search
            error = f"{type(exc).__name__}: {exc}".splitlines()[0]
            for trial in group:
                if trial.asked.number not in rows:
                    rows[trial.asked.number] = row(trial.asked, spec, "failed", None, [], None, error)
        finally:
            for trial in group:
                pruner.finish(trial.asked.number)
    return [rows[t.asked.number] for t in trials]


def _train_group(key: str, group: list[TrialRun], spec: TuneSpec, pruner: Pruner, engines: Engines,
                 rows: dict[int, dict[str, Any]]) -> None:
    """Train a group of trials (one data set, one schedule) into ``rows``, each as it ends: fused in one engine
    (a kept one that takes the group, or a new one), or one by one (``executor: sequential``, or trials that
    cannot train together)."""
    from trainlab.training import Trainer, fit_together, fusable  # TensorFlow: loaded when a tune trains

    data = engines.data(key, group[0].plan)
    trainers = [Trainer(t.plan.recipe, name=t.plan.recipe.name, base_dir=t.plan.base_dir, loaded_data=data)
                for t in group]
    together = spec.config.executor == "fused" and len(group) > 1 and fusable(trainers) is None
    for batch in [list(range(len(group)))] if together else [[i] for i in range(len(group))]:
        chosen = [trainers[i] for i in batch]
        callbacks = [[pruner.callback(group[i].asked.number, trainers[i].recipe.training.epochs)] for i in batch]
        dirs = [group[i].dir for i in batch]
        tick = time.perf_counter()
        kept = engines.find(key, chosen)
        if kept is not None:
            runs = fit_together(chosen, dirs, callbacks, engine=kept[0], slots=kept[1])
        else:
            runs = fit_together(chosen, dirs, callbacks, restartable=True, stopping=pruner.config.name != "none")
            engines.keep(key, chosen)
        share = (time.perf_counter() - tick) / len(batch)  # a fused engine's wall time, shared evenly
        for i, run in zip(batch, runs):
            pruner.finish(group[i].asked.number)  # the trials trained after these are compared with them
            rows[group[i].asked.number] = _row_of(group[i], run, spec, pruner, share)


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
