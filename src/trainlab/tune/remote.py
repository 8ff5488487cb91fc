"""A tune's populations trained in other processes: ``executor: processes`` (a pool here) or ``dask`` (a cluster).

Within a population, each group of trials that share the data and schedule (the ``fused``
executor's groups, :func:`trainlab.studies.groups.fusion_key`) is one task, and the tasks train
side by side. A task gets its trials (their recipes and run directories) and a snapshot of the
tune's :class:`~trainlab.tune.pruning.Pruner` (its rule and the values of the trials finished so
far), trains its group fused in one engine with :func:`~trainlab.tune.population.train_population`,
as the ``fused`` executor does in this process, and returns the trials' ``trials.csv`` rows with
the pruner's new values and pruning points for its trials. The parent merges those into its
pruner, in the population's order, before the population is told to Optuna.

Pruning inside a task therefore ranks a trial against the earlier populations and its own
group's peers, not against the other groups of its population, which train at the same time
(``docs/tune.md``, Executors). With one group per population the decisions are those of ``fused``.

- ``processes``: a spawned pool of ``workers`` processes (default: the cores), kept for the whole
  tune; a task trains in a pool process, straight into the tune directory; TensorFlow gets the
  cores divided by the workers, unless the recipe sets ``training.threads``. A worker that dies
  (the OOM killer, kill -9) breaks the pool: that population's unfinished tasks fail, a warning
  says so, and the next population starts a new pool. The pool is the study's
  (:func:`~trainlab.studies.executors.local.new_pool`): its workers end with the tune's process,
  and Ctrl-C or SIGTERM terminates them at once (:func:`~trainlab.studies.executors.local.stop_pool`).
- ``dask``: a task is a Dask task that trains in a fresh Python process on its worker and sends
  the run directories' files back (the study executor's machinery:
  :class:`~trainlab.studies.executors.dask.Cluster`, :func:`~trainlab.studies.executors.dask.fresh_process`);
  a task that raises is retried once.

A task that fails (twice, for dask) gives each of its trials a ``failed`` row with the error.
"""

from __future__ import annotations

import os
import warnings
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, replace
from pathlib import Path
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any

from trainlab.studies.executors.dask import (Cluster, TaskError, fresh_process, with_threads, worker_threads,
                                             write_files)
from trainlab.studies.executors.local import new_pool, stop_pool
from trainlab.studies.groups import fusion_key
from trainlab.tune.population import TrialRun, row, train_population
from trainlab.tune.sampler import Asked
from trainlab.tune.spec import TuneSpec

if TYPE_CHECKING:
    from trainlab.tune.pruning import Pruner  # Keras: the pruner is built when a tune runs


@dataclass
class TaskResult:
    """What a task sends back: its trials' rows, and the pruner's values and pruning points for them."""

    rows: list[dict[str, Any]]
    values: dict[int, dict[int, float]]  # trial -> {epochs run: value}
    pruned: dict[int, int]  # trial -> epochs run when it was pruned


class PopulationExecutor:
    """Trains a tune's populations as tasks, one per fused group; ``close`` ends the pool or cluster.

    Args:
        spec: the search (its ``executor``, ``workers``, ``dask_address``).
    """

    def __init__(self, spec: TuneSpec) -> None:
        self.spec = spec

    def train(self, trials: list[TrialRun], spec: TuneSpec, pruner: Pruner) -> list[dict[str, Any]]:
        """Train the population (its groups as concurrent tasks) and return one ``trials.csv`` row each, in order.

        Args:
            trials: the population, each with its recipe and run directory.
            spec: the search.
            pruner: the tune's pruner: each task decides with a snapshot of it; the tasks' values and
                pruning points are merged into it, and every trial is finished in it.

        Returns:
            The rows, as :func:`~trainlab.tune.population.train_population` returns them.
        """
        groups: dict[str, list[TrialRun]] = {}
        for trial in trials:
            groups.setdefault(fusion_key(trial.plan), []).append(trial)
        tasks = [[_portable(t) for t in group] for group in groups.values()]
        outcomes = self._run(tasks, in_process(spec), snapshot(pruner))
        rows: dict[int, dict[str, Any]] = {}
        for group, outcome in zip(groups.values(), outcomes):
            for trial in group:
                number = trial.asked.number
                if isinstance(outcome, TaskResult):
                    pruner.values[number] = dict(outcome.values.get(number, {}))
                    if number in outcome.pruned:
                        pruner.pruned[number] = outcome.pruned[number]
                    rows[number] = next(r for r in outcome.rows if r["trial"] == number)
                else:  # as a trial that failed in this process: no values
                    pruner.values.setdefault(number, {})
                    rows[number] = row(trial.asked, spec, "failed", None, [], None, outcome)
        for trial in trials:  # in the population's order, as fused finishes them
            pruner.finish(trial.asked.number)
        return [rows[t.asked.number] for t in trials]

    def _run(self, tasks: list[list[TrialRun]], spec: TuneSpec, pruner: Pruner) -> list[TaskResult | str]:
        """Each task's result, or its error as one line."""
        raise NotImplementedError

    def close(self) -> None:
        """End the pool or the cluster."""

    def __enter__(self) -> PopulationExecutor:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()


class Processes(PopulationExecutor):
    """``processes``: the tasks in a pool of spawned processes (``workers``, default the cores), kept for the tune."""

    def __init__(self, spec: TuneSpec) -> None:
        super().__init__(spec)
        cores = os.cpu_count() or 1
        self.workers = spec.config.workers or cores
        self.threads = max(1, cores // self.workers)
        self.pool = new_pool(self.workers)
        self.stopped = False  # the pool was stopped (its workers terminated): nothing is left to wait for

    def _run(self, tasks: list[list[TrialRun]], spec: TuneSpec, pruner: Pruner) -> list[TaskResult | str]:
        try:
            jobs = [self._submit(task, spec, pruner) for task in tasks]
            return [_outcome(job.result, died=POOL_BROKEN) for job in jobs]
        except BaseException:  # Ctrl-C, SIGTERM: the tasks in flight are not waited for
            self.stopped = True
            stop_pool(self.pool)
            raise

    def _submit(self, task: list[TrialRun], spec: TuneSpec, pruner: Pruner) -> Any:
        """The task in the pool; a pool that a dead worker broke (in an earlier population) is started again."""
        threads = task[0].plan.recipe.training.threads or self.threads
        try:
            return self.pool.submit(train_task, task, spec, pruner, threads)
        except BrokenProcessPool:
            warnings.warn(f"a worker process died (killed, or out of memory); its population's unfinished trials "
                          f"failed; the pool of {self.workers} processes is started again", stacklevel=2)
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = new_pool(self.workers)
            return self.pool.submit(train_task, task, spec, pruner, threads)

    def close(self) -> None:
        if not self.stopped:  # after stop_pool, a waiting shutdown could wait on the killed workers' queues
            self.pool.shutdown(wait=True, cancel_futures=True)


# A task's error when its worker died: the pool then fails every task it has not finished, on any worker.
POOL_BROKEN = ("BrokenProcessPool: a worker process died (killed, or out of memory) while this trial's task "
               "trained or waited in the pool")


class Dask(PopulationExecutor):
    """``dask``: the tasks on a Dask cluster, each in a fresh process on its worker; their files come back.

    Raises:
        TrainlabError: as :class:`~trainlab.studies.executors.dask.Cluster` (no extra, no scheduler, no worker).
    """

    def __init__(self, spec: TuneSpec) -> None:
        super().__init__(spec)
        self.cluster = Cluster(spec.config.dask_address, spec.config.workers)

    def _run(self, tasks: list[list[TrialRun]], spec: TuneSpec, pruner: Pruner) -> list[TaskResult | str]:
        hosts = self.cluster.hosts()
        futures = [self.cluster.client.submit(dask_task, task, spec, pruner, hosts, retries=1, pure=False)
                   for task in tasks]
        outcomes: list[TaskResult | str] = []
        for future, task in zip(futures, tasks):
            outcome = _outcome(future.result)
            if isinstance(outcome, tuple):
                result, files = outcome
                for trial, found in zip(task, files):
                    write_files(trial.dir, found)
                outcome = result
            else:
                trials = ", ".join(str(t.asked.number) for t in task)
                warnings.warn(f"trials {trials}: failed, also when retried; reported in trials.csv: {outcome}",
                              stacklevel=2)
            outcomes.append(outcome)
        return outcomes

    def close(self) -> None:
        self.cluster.close()


def open_executor(spec: TuneSpec) -> PopulationExecutor | None:
    """The pool or cluster of ``executor: processes`` or ``dask``, ready to train; None for ``fused``, ``sequential``.

    Raises:
        TrainlabError: ``dask``: no extra, or no scheduler (or worker) answered at ``dask_address``.

    Example:
        >>> with open_executor(spec) as executor:                          # doctest: +SKIP
        ...     rows = train_population(trials, spec, pruner, executor=executor)
    """
    if spec.config.executor == "processes":
        return Processes(spec)
    if spec.config.executor == "dask":
        return Dask(spec)
    return None


# ------------------------------------------------------------------------------------------------ the tasks
def train_task(trials: list[TrialRun], spec: TuneSpec, pruner: Pruner, threads: int) -> TaskResult:
    """A task: train ``trials`` (one group) in this process, fused, deciding with ``pruner`` (a snapshot).

    Args:
        trials: the group, with run directories on this machine.
        spec: the search, with ``executor: fused`` (:func:`in_process`).
        pruner: the snapshot of the tune's pruner.
        threads: TensorFlow's threads (set in each recipe, so its recipe.yaml says how it ran).

    Returns:
        The rows, and the pruner's values and pruning points for these trials.

    Raises:
        TaskError: something outside training raised (as text: trainlab's errors do not pickle).
    """
    try:
        trials = [replace(t, plan=with_threads(t.plan, threads)) for t in trials]
        rows = train_population(trials, spec, pruner)
    except Exception as exc:  # noqa: BLE001 (sent back as text)
        raise TaskError(f"{type(exc).__name__}: {exc}".splitlines()[0]) from None
    numbers = [t.asked.number for t in trials]
    return TaskResult(rows, {n: pruner.values.get(n, {}) for n in numbers},
                      {n: pruner.pruned[n] for n in numbers if n in pruner.pruned})


def dask_task(trials: list[TrialRun], spec: TuneSpec, pruner: Pruner,
              hosts: dict[str, int]) -> tuple[TaskResult, list[dict[str, bytes]]]:
    """A worker's task: :func:`train_task` in a fresh process; the result and each trial's run directory's files."""
    threads = worker_threads(trials[0].plan.recipe.training.threads, hosts)
    outputs = [f"runs/{t.dir.name}" for t in trials]
    return fresh_process(_train_in_folder, (trials, spec, pruner), threads, outputs)


def _train_in_folder(folder: Path, threads: int, trials: list[TrialRun], spec: TuneSpec,
                     pruner: Pruner) -> TaskResult:
    """In the fresh process: the trials trained into ``folder/runs`` (their files go back to the tune directory)."""
    return train_task([replace(t, dir=folder / "runs" / t.dir.name) for t in trials], spec, pruner, threads)


def _outcome(result: Callable[[], Any], died: str | None = None) -> Any:
    """A task's result, or its error as one line (``<type>: <message>``; ``died`` for a broken pool's)."""
    try:
        return result()
    except Exception as exc:  # noqa: BLE001 (a task's failure is its trials' failed rows, not a failed search)
        if died is not None and isinstance(exc, BrokenProcessPool):
            return died
        return str(exc) if isinstance(exc, TaskError) else f"{type(exc).__name__}: {exc}".splitlines()[0]


# ------------------------------------------------------------------------------------------------ helpers
def snapshot(pruner: Pruner) -> Pruner:
    """A copy of the pruner with what a task needs: its rule and the finished trials' values and pruning points."""
    copy = type(pruner)(pruner.config, pruner.metric, pruner.mode, pruner.epochs)
    copy.finished = list(pruner.finished)
    copy.values = {t: dict(pruner.values[t]) for t in copy.finished if t in pruner.values}
    copy.pruned = {t: e for t, e in pruner.pruned.items() if t in copy.finished}
    return copy


def in_process(spec: TuneSpec) -> TuneSpec:
    """The search as a task trains it: ``executor: fused``, in the task's own process."""
    config = spec.config.model_copy(update={"executor": "fused", "workers": None, "dask_address": None})
    return replace(spec, config=config)


def _portable(trial: TrialRun) -> TrialRun:
    """The trial without Optuna's handle (it holds the whole Optuna study): what a task needs, picklable."""
    return replace(trial, asked=Asked(trial.asked.number, dict(trial.asked.values), None))
