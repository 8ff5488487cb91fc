"""The executors on this machine: ``fused`` and ``sequential`` in this process, ``processes`` in a pool.

- ``fused``: each group of runs that share the data and schedule trains in one engine (see
  :mod:`trainlab.studies.groups`); a run that shares them with no other trains alone.
- ``sequential``: the same code with every run a group of its own.
- ``processes``: a pool of worker processes (one run each at a time), sized to the CPU cores;
  each run's TensorFlow gets the cores divided by the workers, unless its recipe sets
  ``training.threads``.

The pool (:func:`new_pool`, also the tune's ``processes`` pool) ends with its parent: a worker
whose parent is gone (killed with SIGKILL, say) exits within a second, so a ``trainlab resume``
started next never shares a run directory with an orphan still training into it. Ctrl-C and
SIGTERM go to the parent only (the workers ignore Ctrl-C): the parent cancels the runs not
started and terminates the workers at once (:func:`stop_pool`), without waiting for the runs in
flight; the caller marks the directory ``interrupted``.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from trainlab.training.prepare import load_recipe
from trainlab.studies.executors.base import Executor
from trainlab.studies.groups import Group, Result, failed_row, result_row, run_dir, train_group


class RunError(RuntimeError):
    """A run's exception as it left its worker process, ``<type>: <message>`` (trainlab's own errors do not pickle)."""


class InProcess(Executor):
    """``fused`` and ``sequential``: the groups one after another in this process.

    A group that raises becomes failed results for its runs; the other groups still train.
    """

    def run(self, groups: Sequence[Group]) -> Iterator[Result]:
        for group in groups:
            try:
                results = train_group(group, self.spec, self.study_dir)
            except Exception as exc:  # noqa: BLE001 (one group's failure must not lose the others' results)
                error = f"{type(exc).__name__}: {exc}"
                results = [Result(failed_row(plan, error), "failed", raised=True) for plan in group.plans]
            yield from results


class Processes(Executor):
    """``processes``: every run a job in a pool of spawned worker processes (``workers``, default the cores)."""

    pool: ProcessPoolExecutor | None = None

    def run(self, groups: Sequence[Group]) -> Iterator[Result]:
        cores = os.cpu_count() or 1
        workers = self.spec.config.workers or cores
        threads = max(1, cores // workers)
        how = f"processes ({workers} workers)"
        self.pool = pool = new_pool(workers)
        try:
            jobs = []
            for plan in (plan for group in groups for plan in group.plans):
                recipe = plan.recipe.model_dump(mode="json")
                if recipe["training"].get("threads") is None:
                    recipe["training"]["threads"] = threads
                base_dir = str(plan.base_dir) if plan.base_dir else None
                jobs.append((plan, pool.submit(train_in_process, recipe, base_dir,
                                               str(run_dir(self.study_dir, plan)))))
            for plan, job in jobs:
                try:
                    summary, history = job.result()
                except Exception as exc:  # noqa: BLE001 (reported in results.csv, as the other executors do)
                    error = str(exc) if isinstance(exc, RunError) else f"{type(exc).__name__}: {exc}"
                    yield Result(failed_row(plan, error, "processes"), "failed", raised=True)
                    continue
                yield Result(result_row(plan, summary, history, self.spec, "processes",
                                        summary.get("wall_time_s")), how)
        except BaseException:  # Ctrl-C, SIGTERM: the runs in flight are not waited for
            self.pool = None
            stop_pool(pool)
            raise
        self.pool = None
        pool.shutdown(wait=True)

    def close(self) -> None:
        if self.pool is not None:  # the caller stopped before every run came back (it was interrupted)
            pool, self.pool = self.pool, None
            stop_pool(pool)


# ------------------------------------------------------------------------------------------------ the pool
def new_pool(workers: int) -> ProcessPoolExecutor:
    """A pool of ``workers`` spawned processes that end with this one (:func:`pool_worker`), a study's or a tune's."""
    context = multiprocessing.get_context("spawn")  # TensorFlow does not survive fork
    return ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=pool_worker,
                               initargs=(os.getpid(),))


def stop_pool(pool: ProcessPoolExecutor) -> None:
    """End ``pool`` now: the jobs not started are cancelled, the workers terminated (their jobs are not waited for)."""
    processes = list((getattr(pool, "_processes", None) or {}).values())  # shutdown forgets them
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        if process.is_alive():
            process.terminate()
    for process in processes:
        process.join(timeout=5)
        if process.is_alive():
            process.kill()
            process.join(timeout=5)


def pool_worker(parent: int) -> None:
    """A pool worker's initializer: Ctrl-C is its parent's to handle (:func:`stop_pool`); it ends with ``parent``."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    watch_parent(parent)


def watch_parent(parent: int) -> None:
    """End this process (``os._exit(1)``) within a second of ``parent``'s end: a thread polls who its parent is.

    A process whose parent dies is handed to another (init, or a subreaper), so ``os.getppid()``
    changes; it also changes when ``parent`` was already gone before this is called.
    """
    threading.Thread(target=_exit_with, args=(parent,), name="trainlab-parent-watch", daemon=True).start()


def _exit_with(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(1)


def train_in_process(recipe: dict[str, Any], base_dir: str | None, out: str) -> tuple[dict, list]:
    """A worker process's job: one run; the summary and history come back (the files are on disk)."""
    from trainlab.training import Trainer  # TensorFlow: loaded in the worker processes only

    try:
        resolved, _, _ = load_recipe(recipe)
        run = Trainer(resolved, name=resolved.name, base_dir=Path(base_dir) if base_dir else None).fit(out)
    except Exception as exc:  # noqa: BLE001 (sent back as text)
        raise RunError(f"{type(exc).__name__}: {exc}") from None
    return run.summary, run.history
