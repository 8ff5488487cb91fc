"""Training a population of trials: those that share the data and schedule train fused in one engine.

The grouping is a study's (:func:`trainlab.studies.groups.fusion_key`, then
:func:`trainlab.training.fusable`); each trial trains with its :class:`~trainlab.tune.pruning.PruneCallback`,
so a pruned trial stops as early stopping stops a run (a fused member is frozen).

A group's trials train in one engine per program, side by side, and engines are kept from population to
population (:class:`Engines`): trials of a program a kept engine traced train there, with no new tracing.
Two trials have the same program when their recipes differ only in what an engine holds in variables (a
number learning rate, the dropout rates; see :mod:`trainlab.training.engine.held`) and the seed, so a
search over those alone traces once, whatever its number of trials, and a search over architectures traces
each architecture about as often as one population holds it.
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

    A population's group of trials (one data set, one schedule) is split by program
    (:func:`~trainlab.training.same_program`: trials whose recipes differ only in their seeds and in what an
    engine holds in variables have one), and each program's trials train in engines of that program: kept
    ones first, each taking as many of them as it has members, or all of them when they fill at least half
    of it (the others sit out, in the masked program, and still cost their evaluation each epoch); the rest in
    a new engine, kept in turn (the :data:`KEEP` newest are). The engines of a group train side by side,
    epoch by epoch (:func:`~trainlab.training.sessions.train_sessions`): the group's trials reach every rung
    together and are pruned as one (synchronous halving), however they are split.
    """

    KEEP = 12

    def __init__(self) -> None:
        self._data: dict[str, Any] = {}
        self._kept: list[tuple[str, list[Any], Any]] = []  # (fusion key, the trainers it was built for, engine)
        self.built = 0  # engines built (each traced its programs)
        self.reused = 0  # times a kept engine trained a population's trials

    def data(self, key: str, plan: Plan) -> Any:
        """The group's data, loaded once per search."""
        if key not in self._data:
            from trainlab import data as tl_data  # TensorFlow: loaded when a tune trains

            seed = plan.recipe.data.seed if plan.recipe.data.seed is not None else plan.recipe.seed
            self._data[key] = tl_data.load(plan.recipe.data, seed=seed, base_dir=plan.base_dir)
        return self._data[key]

    def place(self, key: str, trainers: list[Any]) -> list[tuple[list[int], Any]]:
        """Where each of a group's ``trainers`` trains: ``[(indices, engine)]``, one entry per engine, each
        ``engine`` a kept one (its first ``len(indices)`` members taken) or None (a new one)."""
        from trainlab.training import same_program  # TensorFlow, as above

        programs: list[list[int]] = []
        for i, trainer in enumerate(trainers):
            same = next((p for p in programs if same_program(trainers[p[0]], trainer)), None)
            if same is None:
                programs.append([i])
            else:
                same.append(i)
        placed: list[tuple[list[int], Any]] = []
        taken: set[int] = set()
        for rest in programs:
            while rest:
                kept = [(len(built_for), engine) for kept_key, built_for, engine in reversed(self._kept)
                        if kept_key == key and id(engine) not in taken and same_program(built_for[0], trainers[rest[0]])]
                fits = [(n, engine) for n, engine in kept if n / 2 <= len(rest) <= n]
                fills = [(n, engine) for n, engine in kept if n < len(rest)]
                if fits:
                    n, engine = min(fits, key=lambda found: found[0])
                elif fills:
                    n, engine = max(fills, key=lambda found: found[0])
                else:
                    placed.append((rest, None))
                    break
                taken.add(id(engine))
                placed.append((rest[:n], engine))
                rest = rest[n:]
                self.reused += 1
        return placed

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
    """Train a group of trials (one data set, one schedule) into ``rows``: fused, in one engine per program side
    by side (:meth:`Engines.place`), or one by one (``executor: sequential``, or trials that cannot train
    together)."""
    from trainlab.training import Session, Trainer, fusable, train_sessions  # TensorFlow: loaded when a tune trains

    data = engines.data(key, group[0].plan)
    trainers = [Trainer(t.plan.recipe, name=t.plan.recipe.name, base_dir=t.plan.base_dir, loaded_data=data)
                for t in group]
    together = spec.config.executor == "fused" and len(group) > 1 and fusable(trainers) is None
    stopping = pruner.config.name != "none"

    def session(batch: list[int], engine: Any) -> Any:
        chosen = [trainers[i] for i in batch]
        callbacks = [[pruner.callback(group[i].asked.number, trainers[i].recipe.training.epochs)] for i in batch]
        dirs = [group[i].dir for i in batch]
        if engine is not None:
            return Session(chosen, dirs, callbacks, engine=engine, slots=range(len(batch)))
        return Session(chosen, dirs, callbacks, restartable=True, stopping=stopping)

    def rounds():  # the whole group side by side, or one trial at a time (each in a kept engine where one fits)
        if together:
            yield engines.place(key, trainers)
        else:
            for i in range(len(group)):
                yield [([i], engine) for _, engine in engines.place(key, [trainers[i]])]

    for round_ in rounds():
        tick = time.perf_counter()
        sessions: list[Any] = []
        try:
            for batch, engine in round_:
                sessions.append(session(batch, engine))
        except BaseException as exc:  # the runs already opened are closed, not left open
            for opened in sessions:
                opened.close("failed", f"{type(exc).__name__}: {exc}")
            raise
        runs = train_sessions(sessions)
        share = (time.perf_counter() - tick) / sum(len(batch) for batch, _ in round_)  # wall time, shared evenly
        for (batch, engine), session_runs in zip(round_, runs):
            if engine is None:
                engines.keep(key, [trainers[i] for i in batch])
            for i, run in zip(batch, session_runs):
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
