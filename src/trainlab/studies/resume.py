"""Resuming a study that stopped (killed, interrupted): keep what finished, continue or retrain the rest.

``study.json`` keeps the study's ``source`` (its keys with the base recipe inline, the folder its
relative paths resolve against, the study file's name), from which the spec is rebuilt. Each run
is then, by its run directory:

- **kept**: ``summary.json`` has a final status (``completed``, or ``failed`` as training decided);
  its ``results.csv`` row is the one written when it finished, else rebuilt from its
  ``summary.json`` and ``history.csv`` (:func:`~trainlab.studies.groups.result_row`).
- **continued**: unfinished, with a checkpoint that reads back whole (a run that trained alone:
  fused runs keep their checkpoints in memory); :func:`trainlab.training.resume` continues it.
- **retrained**: unfinished without a checkpoint: its directory is removed and it trains again,
  fused with the other runs still to train where they can be (the study's executor).
- **trained**: never started.

Then the tables, figures and report are written as for any study, and ``study.json`` says
``completed``.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trainlab import rundir
from trainlab.errors import TrainlabError
from trainlab.studies.groups import Result, failed_row, plan_groups, result_row, run_dir
from trainlab.studies.run import Study, open_executor, train_study
from trainlab.studies.spec import Plan, StudySpec, study_from_json
from trainlab.studies.stats import COMPARISONS, RESULTS, STUDY, SUMMARY, read_table

FINAL = ("completed", "failed")  # a run with one of these in its summary.json has finished


@dataclass
class StudyResume:
    """What resuming a study does with each run (see the module docstring).

    Attributes:
        dir: the study directory.
        spec: the study, rebuilt from ``study.json``.
        kept: finished runs, with their results.
        continued: unfinished runs continued from their checkpoints.
        retrained: unfinished runs trained again from their first epoch.
        fresh: runs never started.
    """

    dir: Path
    spec: StudySpec
    kept: list[tuple[Plan, Result]] = field(default_factory=list)
    continued: list[Plan] = field(default_factory=list)
    retrained: list[Plan] = field(default_factory=list)
    fresh: list[Plan] = field(default_factory=list)

    def lines(self) -> list[str]:
        """What the resume keeps and trains, a line per kind of run, for the terminal."""
        kinds = [("kept (finished)", [p for p, _ in self.kept]), ("continued from a checkpoint", self.continued),
                 ("retrained (unfinished, no checkpoint)", self.retrained), ("trained (never started)", self.fresh)]
        return [f"study {self.dir}: {len(self.spec.plans)} runs"] + [
            f"  {what}: {len(plans)}" + (f" ({', '.join(p.key for p in plans)})" if plans else "")
            for what, plans in kinds
        ]


def plan_resume(study_dir: str | Path) -> StudyResume:
    """Read a stopped study directory and sort its runs into kept, continued, retrained and never started.

    Nothing is changed on disk.

    Args:
        study_dir: a study directory ``trainlab study`` wrote.

    Returns:
        The :class:`StudyResume`.

    Raises:
        TrainlabError: not a study directory, one written before studies could resume (no
            ``source`` in ``study.json``), or a study that completed.
    """
    path = Path(study_dir)
    saved = _study_json(path)
    if saved.get("status") == "completed":
        raise TrainlabError(str(path), "the study has completed; there is nothing to resume", "completed")
    spec = study_from_json(saved["source"])
    written = {(r["variant"], r["seed"]): r for r in _table(path / RESULTS) if r.get("variant") is not None}
    hows = saved.get("executors") or {}
    plan = StudyResume(path, spec)
    for p in spec.plans:
        folder = run_dir(path, p)
        summary = _summary(folder)
        if summary is not None and summary.get("status") in FINAL:
            plan.kept.append((p, Result(_kept_row(p, spec, folder, summary, written.get((p.variant, p.seed))),
                                        hows.get(p.variant, "trained before the resume"))))
        elif summary is not None and _has_checkpoint(folder):
            plan.continued.append(p)
        elif folder.exists():
            plan.retrained.append(p)
        else:
            plan.fresh.append(p)
    return plan


def resume_study(
    study_dir: str | Path, *, figures: bool = True, echo: Callable[[str], None] | None = None
) -> Study:
    """Continue a study that stopped (killed, even by SIGKILL, or interrupted) in its own directory.

    Finished runs are kept as they are (never trained twice); unfinished ones are continued from
    their checkpoints or trained again; runs never started are trained, fused where they can be
    (see the module docstring). Then ``results.csv``, the tables, figures and report are written
    and ``study.json`` says ``completed``. The runs trained again use the same recipes and seeds,
    so their results equal those of a study that never stopped (tested after a SIGKILL: every
    ``best_value`` to a relative 1e-5; a fused run trained in another group differs by float rounding).

    Args:
        study_dir: the study directory ``trainlab study`` (or :func:`trainlab.study`) wrote.
        figures: draw the figures and ``report.html``.
        echo: called with each line saying what the resume keeps and trains, before it trains.

    Returns:
        The finished :class:`Study`.

    Raises:
        TrainlabError: see :func:`plan_resume`.

    Example:
        >>> study = trainlab.studies.resume_study("runs/regularization-20250101-120000")  # doctest: +SKIP
    """
    plan = plan_resume(study_dir)
    if echo is not None:
        for line in plan.lines():
            echo(line)
    spec, path = plan.spec, plan.dir
    if spec.mlflow is not None:
        from trainlab.tracking import preflight  # MLflow: an optional extra, slow to import

        preflight(spec.mlflow)
    for p in plan.retrained:
        rundir.discard(run_dir(path, p))  # what a killed run left: it trains again from its first epoch
    saved = _study_json(path)
    earlier = saved.get("wall_time_s")
    continued = [functools.partial(_continue, p, spec, path) for p in plan.continued]
    return train_study(spec, path, open_executor(spec, path), plan_groups(spec, plan.retrained + plan.fresh),
                       figures=figures, done=[result for _, result in plan.kept], continued=continued,
                       earlier_s=float(earlier) if isinstance(earlier, (int, float)) else 0.0)


def finished_study(study_dir: str | Path) -> Study:
    """A completed study directory as a :class:`Study` (spec, results, tables), without training.

    Raises:
        TrainlabError: not a study directory, or one that has not completed.
    """
    path = Path(study_dir)
    saved = _study_json(path)
    if saved.get("status") != "completed":
        raise TrainlabError(str(path), "the study has not completed (resume it first)", saved.get("status"))
    return Study(path, study_from_json(saved["source"]), _table(path / RESULTS),
                 _table(path / SUMMARY), _table(path / COMPARISONS), dict(saved.get("executors") or {}))


def _continue(plan: Plan, spec: StudySpec, study_dir: Path) -> Result:
    """Continue an unfinished run from its checkpoint (a run that raises is a failed result, as executors report it)."""
    from trainlab.training import resume  # TensorFlow: loaded when a study trains, not when it is read

    try:
        run = resume(run_dir(study_dir, plan), verbose=0)
    except Exception as exc:  # noqa: BLE001 (one run's failure must not lose the others' results)
        return Result(failed_row(plan, f"{type(exc).__name__}: {exc}", spec.config.executor), "failed", raised=True)
    row = result_row(plan, run.summary, run.history, spec, spec.config.executor, run.summary.get("wall_time_s"))
    return Result(row, "continued from its checkpoint")


def _study_json(path: Path) -> dict[str, Any]:
    """``study.json`` of a study directory that can be resumed (it keeps its ``source``)."""
    if not (path / STUDY).is_file():
        raise TrainlabError(str(path), f"is not a study directory (no {STUDY})")
    try:
        saved = json.loads((path / STUDY).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise TrainlabError(str(path / STUDY), f"is not valid JSON ({exc})") from None
    if not isinstance(saved, dict) or not isinstance(saved.get("source"), dict):
        raise TrainlabError(str(path / STUDY), "has no source (written before studies could resume); run the study "
                            "again")
    return saved


def _summary(folder: Path) -> dict[str, Any] | None:
    """A run directory's ``summary.json``, or None (no folder, no summary, or one cut short)."""
    try:
        summary = json.loads((folder / rundir.SUMMARY).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    return summary if isinstance(summary, dict) else None


def _has_checkpoint(folder: Path) -> bool:
    """Whether a run directory holds a checkpoint that reads back whole, and the recipe to continue it with."""
    from trainlab.training import checkpoint  # TensorFlow, as above

    return (folder / rundir.RECIPE).is_file() and checkpoint.newest_valid(folder)[0] is not None


def _table(path: Path) -> list[dict[str, Any]]:
    return read_table(path) if path.is_file() else []


def _kept_row(plan: Plan, spec: StudySpec, folder: Path, summary: dict[str, Any],
              written: dict[str, Any] | None) -> dict[str, Any]:
    """A finished run's ``results.csv`` row, from its ``summary.json`` and ``history.csv`` (as when it finished);
    its wall time and executor from the row written then, if there is one."""
    history = rundir.read_csv(folder / rundir.HISTORY) if (folder / rundir.HISTORY).is_file() else []
    wall, executor = summary.get("wall_time_s"), spec.config.executor
    if written is not None and written.get("status") == summary.get("status"):
        wall = written.get("wall_time_s") if math.isfinite(written.get("wall_time_s", math.nan)) else wall
        executor = written.get("executor") or executor
    return result_row(plan, summary, history, spec, executor, wall)
