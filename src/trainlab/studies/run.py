"""Running a study, top to bottom: spec -> groups -> executor -> results.csv -> tables -> figures and report.

Executors (one interface, see :mod:`trainlab.studies.executors`):

- ``fused``: runs that share the data, batch size, epochs, shuffling and validation frequency
  train together in one engine (:mod:`trainlab.studies.groups`); the rest run one by one (the
  study says which).
- ``sequential``: one run after another, each its own engine.
- ``processes``: a pool of worker processes (one run each at a time), sized to the CPU cores.
- ``dask``: each fusable group (split to keep every worker busy) is a task on a Dask cluster,
  a LocalCluster or the one at ``dask_address`` (see :mod:`trainlab.studies.executors.dask`).
"""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trainlab import rundir
from trainlab.studies.executors import Executor, InProcess, Processes
from trainlab.studies.groups import Group, Result, plan_groups
from trainlab.studies.spec import StudySpec
from trainlab.studies.stats import COMPARISONS, RESULTS, STUDY, SUMMARY, read_table, write_tables

RESULT_COLUMNS = ["variant", "seed", "best_value", "best_epoch", "epochs_run", "wall_time_s", "executor", "status",
                  "error"]


@dataclass
class Study:
    """A finished study.

    Attributes:
        dir: the study directory.
        spec: the validated study.
        results: the rows of ``results.csv`` (one per run).
        summary: the rows of ``summary.csv`` (one per variant).
        comparisons: the rows of ``comparisons.csv``.
        executors: per variant, how it ran (``fused (12 runs together)``, ``sequential``, ...).
    """

    dir: Path
    spec: StudySpec
    results: list[dict[str, Any]]
    summary: list[dict[str, Any]] = field(default_factory=list)
    comparisons: list[dict[str, Any]] = field(default_factory=list)
    executors: dict[str, str] = field(default_factory=dict)
    mlflow_run_id: str | None = None  # the study's parent run, when it was logged to MLflow


def run_study(spec: StudySpec, out: str | Path | None = None, *, figures: bool = True) -> Study:
    """Train every run of ``spec`` and write the study directory (see ``docs/studies.md``)."""
    if spec.mlflow is not None:  # a tracking store that cannot work fails now, not after the study
        from trainlab.tracking import preflight  # MLflow: an optional extra, slow to import

        preflight(spec.mlflow)
    study_dir = rundir.new_run_dir(spec.name, out)
    try:
        executor = open_executor(spec, study_dir)
    except BaseException:  # a cluster that cannot be reached leaves no study directory behind
        rundir.discard(study_dir)
        raise
    return train_study(spec, study_dir, executor, plan_groups(spec), figures=figures)


def train_study(
    spec: StudySpec, study_dir: Path, executor: Executor, groups: Sequence[Group], *, figures: bool = True,
    done: Sequence[Result] = (), continued: Sequence[Callable[[], Result]] = (), earlier_s: float = 0.0,
) -> Study:
    """Train ``groups`` with ``executor`` into ``study_dir``, then write its tables, figures and report.

    ``results.csv`` and ``study.json`` are rewritten as each run's result comes, so a study killed
    half-way leaves both readable (``status: running``) for :func:`~trainlab.studies.resume_study`.

    Args:
        spec: the study.
        study_dir: its directory (made by :func:`run_study`, or the one being resumed).
        executor: the study's executor (closed here).
        groups: the runs to train.
        figures: draw the figures and ``report.html``.
        done: results of runs that finished before (a resumed study's kept runs).
        continued: runs to continue from their checkpoints, each a call that trains it and returns its result.
        earlier_s: wall time the study spent before (a resumed study's).

    Returns:
        The finished :class:`Study`.
    """
    started = time.perf_counter() - earlier_s
    results: list[Result] = list(done)
    status = "running"
    _write_progress(spec, study_dir, results, status, started)
    try:
        with executor:
            for result in itertools.chain((train() for train in continued), executor.run(groups)):
                results.append(result)
                _write_progress(spec, study_dir, results, status, started)
        status = "completed"
    except KeyboardInterrupt as exc:
        status = "interrupted"
        exc.run_dirs, exc.dir_kind = [study_dir], "study"  # for the command line's hint: resume the study
        raise
    finally:
        rows = _write_progress(spec, study_dir, results, status, started)
        if rows:
            _analyse(study_dir, figures)
    mlflow_run_id = None
    if spec.mlflow is not None:
        from trainlab.tracking import log_study  # MLflow, as above

        mlflow_run_id = log_study(study_dir, spec.mlflow)
    return Study(study_dir, spec, rows, _table(study_dir / SUMMARY), _table(study_dir / COMPARISONS),
                 _how_each_variant_ran(results), mlflow_run_id)


def _write_progress(spec: StudySpec, study_dir: Path, results: Sequence[Result], status: str,
                    started: float) -> list[dict[str, Any]]:
    """``results.csv`` (the results so far, in study order) and ``study.json`` (with ``source``: what resumes it)."""
    rows = _in_study_order(spec, [result.row for result in results])
    _write_results(study_dir, rows)
    rundir.write_json(study_dir / STUDY, {**spec.to_json(), "status": status,
                                           "executors": _how_each_variant_ran(results),
                                           "wall_time_s": time.perf_counter() - started, "source": spec.source})
    return rows


def open_executor(spec: StudySpec, study_dir: Path) -> Executor:
    """The study's executor, ready to run (a Dask cluster is started or reached now)."""
    if spec.config.executor == "dask":
        from trainlab.studies.executors.dask import DaskExecutor  # Dask: an optional extra, slow to import

        return DaskExecutor(spec, study_dir)
    if spec.config.executor == "processes":
        return Processes(spec, study_dir)
    return InProcess(spec, study_dir)


def _in_study_order(spec: StudySpec, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows by variant, then seed, as the study file lists them (executors finish in any order)."""
    variants, seeds = list(spec.variants), spec.config.seeds
    return sorted(rows, key=lambda r: (variants.index(r["variant"]), seeds.index(r["seed"])))


def _how_each_variant_ran(results: Sequence[Result]) -> dict[str, str]:
    """Per variant, how it ran; a run that raised says ``failed`` only when no other run of its variant trained."""
    hows: dict[str, str] = {}
    for result in results:
        variant = result.row["variant"]
        if result.raised:
            hows.setdefault(variant, result.how)
        else:
            hows[variant] = result.how
    return hows


def _write_results(study_dir: Path, rows: Sequence[dict[str, Any]]) -> None:
    """``results.csv``, replaced atomically (a temporary file renamed): a kill never leaves half of it."""
    extra = list(dict.fromkeys(k for r in rows for k in r if k not in RESULT_COLUMNS))
    tmp = study_dir / (RESULTS + ".tmp")
    records = rundir.CsvRecords(tmp, RESULT_COLUMNS + extra)
    records.write(rows)
    records.close()
    os.replace(tmp, study_dir / RESULTS)


def _analyse(study_dir: Path, figures: bool) -> None:
    write_tables(study_dir)
    if figures:
        from trainlab.studies.figures import study_figures  # matplotlib: only when figures are drawn
        from trainlab.studies.report import write_study_report  # matplotlib, as above

        study_figures(study_dir)
        write_study_report(study_dir)


def _table(path: Path) -> list[dict[str, Any]]:
    return read_table(path) if path.is_file() else []
