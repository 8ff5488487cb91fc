"""Running a study: every (variant, seed) run, fused where it can be, then the tables, figures and report.

Executors:
- ``fused``: runs that share the data, batch size, epochs, shuffling and validation frequency
  train together in one engine (:func:`trainlab.training.trainer.fit_together`): one compiled
  program per epoch runs every member's step; the rest run one by one (the study says which).
  The first seed's variants are traced; the other seeds train in turn in the same program.
- ``sequential``: one run after another, each its own engine.
- ``processes``: a pool of worker processes (one run each at a time), sized to the CPU cores.
- ``dask``: each fusable group (split to keep every worker busy) is a task on a Dask cluster,
  a LocalCluster or the one at ``dask_address`` (see :mod:`trainlab.studies._dask`).
"""

from __future__ import annotations

import json
import math
import multiprocessing
import os
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trainlab.studies._spec import Plan, StudySpec
from trainlab.studies.stats import COMPARISONS, RESULTS, STUDY, SUMMARY, read_table
from trainlab import rundir

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
        from trainlab.tracking import preflight

        preflight(spec.mlflow)
    study_dir = rundir.new_run_dir(spec.name, out)
    cluster = _dask_cluster(spec, study_dir)
    rundir.write_json(study_dir / STUDY, {**spec.to_json(), "status": "running"})
    started = time.perf_counter()
    rows: list[dict[str, Any]] = []
    executors: dict[str, str] = {}
    status = "running"
    try:
        if spec.config.executor == "processes":
            rows = _processes(spec, study_dir, executors)
        elif cluster is not None:
            rows = cluster.run(spec, study_dir, executors)
        else:
            for group, reason in _groups(spec):
                try:
                    rows += _train_group(group, reason, spec, study_dir, executors)
                except Exception as exc:  # noqa: BLE001 (one group's failure must not lose the others' results)
                    rows += [_failed(plan, exc) for plan in group]
                    for plan in group:
                        executors.setdefault(plan.variant, "failed")
        status = "completed"
    except KeyboardInterrupt:
        status = "interrupted"
        raise
    finally:
        if cluster is not None:
            cluster.close()
        rows.sort(key=lambda r: (list(spec.variants).index(r["variant"]), spec.config.seeds.index(r["seed"])))
        _write_results(study_dir, rows)
        rundir.write_json(study_dir / STUDY, {**spec.to_json(), "status": status, "executors": executors,
                                               "wall_time_s": time.perf_counter() - started})
        if rows:
            _analyse(study_dir, figures)
    mlflow_run_id = None
    if spec.mlflow is not None:
        from trainlab.tracking import log_study

        mlflow_run_id = log_study(study_dir, spec.mlflow)
    return Study(study_dir, spec, rows, _table(study_dir / SUMMARY), _table(study_dir / COMPARISONS), executors,
                 mlflow_run_id)


def _dask_cluster(spec: StudySpec, study_dir: Path) -> Any:
    """The dask executor's cluster, started or reached now; one that cannot be leaves no study directory behind."""
    if spec.config.executor != "dask":
        return None
    from trainlab.studies._dask import DaskCluster

    try:
        return DaskCluster(spec.config)
    except BaseException:
        rundir.discard(study_dir)
        raise


# ------------------------------------------------------------------------------------------------ grouping
def _groups(spec: StudySpec) -> list[tuple[list[Plan], str | None]]:
    """The plans split into groups that can train together (fused), each with why it stands alone, if so."""
    if spec.config.executor == "sequential":
        return [([plan], "executor: sequential") for plan in spec.plans]
    groups: dict[str, list[Plan]] = {}
    for plan in spec.plans:
        groups.setdefault(_fusion_key(plan), []).append(plan)
    return [(plans, None if len(plans) > 1 else "no other run shares its data and schedule")
            for plans in groups.values()]


def _fusion_key(plan: Plan) -> str:
    """What runs must share to train in one engine: the data (with its seed) and the epoch schedule."""
    training = plan.recipe.training
    shared = {
        "data": plan.recipe.data.model_dump(mode="json"), "base_dir": str(plan.base_dir),
        **{k: getattr(training, k) for k in ("batch_size", "epochs", "shuffle", "validation_freq", "jit_compile",
                                              "train_eval_samples", "eval_batch_size")},
    }
    return json.dumps(shared, sort_keys=True, default=str)


# ------------------------------------------------------------------------------------------------ training
def _train_group(
    plans: list[Plan], reason: str | None, spec: StudySpec, study_dir: Path, executors: dict[str, str]
) -> list[dict[str, Any]]:
    from trainlab import data as tl_data
    from trainlab.training import Trainer, fit_together, fusable

    first = plans[0]
    data_seed = first.recipe.data.seed if first.recipe.data.seed is not None else first.recipe.seed
    data = tl_data.load(first.recipe.data, seed=data_seed, base_dir=first.base_dir)
    if len(plans) > 1:
        trainers = [Trainer(p.recipe, name=p.recipe.name, base_dir=p.base_dir, loaded_data=data) for p in plans]
        why = fusable(trainers)
        if why is None:
            rounds = _rounds(list(zip(plans, trainers)))
            rows, engine = [], None
            for members in rounds:
                tick = time.perf_counter()
                runs = fit_together([t for _, t in members], [_run_dir(study_dir, p) for p, _ in members],
                                    engine=engine, restartable=engine is None and len(rounds) > 1)
                engine = members[0][1].engine  # the next seeds train in this engine's traced program
                share = (time.perf_counter() - tick) / len(members)
                rows += [_row(p, run.summary, run.history, spec, "fused", share) for (p, _), run in zip(members, runs)]
            how = f"fused ({len(rounds[0])} runs together" + (
                f", {len(rounds)} seeds in turn in one traced program)" if len(rounds) > 1 else ")")
            for p in plans:
                executors[p.variant] = how
            return rows
        reason = why
    rows = []
    for plan in plans:
        trainer = Trainer(plan.recipe, name=plan.recipe.name, base_dir=plan.base_dir, loaded_data=data)
        run = trainer.fit(_run_dir(study_dir, plan))
        executors[plan.variant] = "sequential" + (f" ({reason})" if reason and spec.config.executor == "fused" else "")
        rows.append(_row(plan, run.summary, run.history, spec, "sequential", run.summary.get("wall_time_s")))
    return rows


def _rounds(members: list[tuple[Plan, Any]]) -> list[list[tuple[Plan, Any]]]:
    """A fused group split by seed: each round trains one seed of every variant, in the same order.

    Every round after the first reuses the first round's engine (its traced programs), which
    costs nothing to trace: tracing, not arithmetic, is most of a small study's time, and it
    grows with the members traced together. When the seeds' recipes differ in more than the
    seed (see :func:`~trainlab.training.trainer.same_program`), the group trains as one round.
    """
    from trainlab.training import same_program

    by_seed: dict[int, list[tuple[Plan, Any]]] = {}
    for plan, trainer in members:
        by_seed.setdefault(plan.seed, []).append((plan, trainer))
    rounds = list(by_seed.values())
    first = rounds[0]
    for other in rounds[1:]:
        if [p.variant for p, _ in other] != [p.variant for p, _ in first] or not all(
            same_program(a, b) for (_, a), (_, b) in zip(first, other)
        ):
            return [members]
    return rounds


def _processes(spec: StudySpec, study_dir: Path, executors: dict[str, str]) -> list[dict[str, Any]]:
    workers = spec.config.workers or os.cpu_count() or 1
    threads = max(1, (os.cpu_count() or 1) // workers)
    jobs = []
    context = multiprocessing.get_context("spawn")  # TensorFlow does not survive fork
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        for plan in spec.plans:
            recipe = plan.recipe.model_dump(mode="json")
            if recipe["training"].get("threads") is None:
                recipe["training"]["threads"] = threads
            out = _run_dir(study_dir, plan)
            jobs.append((plan, pool.submit(_train_in_process, recipe, str(plan.base_dir) if plan.base_dir else None,
                                           str(out))))
        rows = []
        for plan, job in jobs:
            summary, history = job.result()
            executors[plan.variant] = f"processes ({workers} workers)"
            rows.append(_row(plan, summary, history, spec, "processes", summary.get("wall_time_s")))
    return rows


def _train_in_process(recipe: dict[str, Any], base_dir: str | None, out: str) -> tuple[dict, list]:
    """A worker process's job: one run; the summary and history come back (the files are on disk)."""
    from trainlab.training.prepare import load_recipe
    from trainlab.training import Trainer

    resolved, _, _ = load_recipe(recipe)
    run = Trainer(resolved, name=resolved.name, base_dir=Path(base_dir) if base_dir else None).fit(out)
    return run.summary, run.history


def _run_dir(study_dir: Path, plan: Plan) -> Path:
    return study_dir / "runs" / plan.variant / f"seed{plan.seed}"


# ------------------------------------------------------------------------------------------------ results
def _row(plan: Plan, summary: dict, history: list[dict], spec: StudySpec, executor: str, wall: Any) -> dict:
    """One line of results.csv: the study metric at the run's best epoch, and the final value of every column."""
    metric = spec.config.metric
    best_epoch = summary.get("best_epoch")
    best_row = next((r for r in history if r.get("epoch") == best_epoch), None)
    best_value = best_row.get(metric) if best_row else None
    row = {
        "variant": plan.variant, "seed": plan.seed,
        "best_value": float(best_value) if best_value is not None else math.nan,
        "best_epoch": best_epoch, "epochs_run": summary.get("epochs_run"), "wall_time_s": wall,
        "executor": executor, "status": summary.get("status"), "error": summary.get("error"),
    }
    final = history[-1] if history else {}
    row.update({f"final_{k}": v for k, v in final.items() if k not in ("epoch", "epoch_time_s")})
    return row


def _failed(plan: Plan, exc: BaseException) -> dict[str, Any]:
    """The results.csv row of a run that raised: kept, with its error, never dropped."""
    return {"variant": plan.variant, "seed": plan.seed, "best_value": math.nan, "best_epoch": None,
            "epochs_run": None, "wall_time_s": None, "executor": None, "status": "failed",
            "error": f"{type(exc).__name__}: {exc}"}


def _write_results(study_dir: Path, rows: Sequence[dict[str, Any]]) -> None:
    extra = list(dict.fromkeys(k for r in rows for k in r if k not in RESULT_COLUMNS))
    records = rundir.CsvRecords(study_dir / RESULTS, RESULT_COLUMNS + extra)
    records.write(rows)
    records.close()


def _analyse(study_dir: Path, figures: bool) -> None:
    from trainlab.studies.stats import write_tables

    write_tables(study_dir)
    if figures:
        from trainlab.studies.figures import study_figures
        from trainlab.studies.report import write_study_report

        study_figures(study_dir)
        write_study_report(study_dir)


def _table(path: Path) -> list[dict[str, Any]]:
    return read_table(path) if path.is_file() else []
