"""Running a search, top to bottom: ask a population -> train it -> tell -> ... -> ``best.yaml``.

The tune directory::

    tune.json     the search (spec), its status and wall time, the best trial
    trials.csv    one row per trial, appended as each population ends
    best.yaml     the base recipe with the best trial's values: ``trainlab run best.yaml`` runs it
    runs/trial-NNN/   each trial's run directory
    confirm/      with ``confirm``: the study of the best trials over seeds, which picks best.yaml
    figures/, report.html   the search's page (trainlab.tune.report), drawn when it ends

:func:`search` is the loop; a stopped search re-enters it with its kept trials
(:func:`trainlab.tune.resume_tune`, in :mod:`trainlab.tune.resume`).
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trainlab import rundir
from trainlab.errors import TrainlabError
from trainlab.studies.spec import Plan
from trainlab.tune.population import Engines, TrialRun, curve, row, train_population
from trainlab.tune.records import BEST, TRIALS, TUNE, read_history, trial_dir
from trainlab.tune.spec import TuneSpec

if TYPE_CHECKING:
    from trainlab.tune.pruning import Pruner  # Keras, and Optuna: loaded when a tune runs
    from trainlab.tune.remote import PopulationExecutor
    from trainlab.tune.sampler import Sampler

TRIAL_COLUMNS = ["trial", "status", "value", "best_epoch", "epochs_run", "pruned_at_epoch", "wall_time_s", "error"]


@dataclass
class Tune:
    """A finished search.

    Attributes:
        dir: the tune directory.
        spec: the validated search.
        trials: the rows of ``trials.csv`` (one per trial).
        best: the best trial's recipe (a mapping, as ``best.yaml`` holds it); None when no trial completed.
        best_trial: the best trial's row (with ``confirm``: the trial the confirmation ranks first).
        confirm: the confirmation :class:`~trainlab.studies.Study` (None without ``confirm``).
        mlflow_run_id: the tune's MLflow parent run, when it was logged (``tracking.mlflow``).
    """

    dir: Path
    spec: TuneSpec
    trials: list[dict[str, Any]]
    best: dict[str, Any] | None
    best_trial: dict[str, Any] | None
    confirm: Any = None
    mlflow_run_id: str | None = None


def run_tune(spec: TuneSpec, out: str | Path | None = None) -> Tune:
    """Run the search ``spec`` and write its tune directory (see ``docs/tune.md``).

    Args:
        spec: the validated search (:func:`trainlab.tune.load_tune`).
        out: the tune directory (default ``runs/<name>-<timestamp>``); must be new or empty.

    Returns:
        The finished :class:`Tune`.
    """
    from trainlab.tune.remote import open_executor  # a pool or a Dask cluster: loaded when a tune runs
    from trainlab.tune.sampler import Sampler  # Optuna, as above

    preflight_tracking(spec)
    tune_dir = rundir.new_run_dir(spec.name, out)
    rundir.write_json(tune_dir / TUNE, {**spec.to_json(), "status": "running"})
    try:
        executor = open_executor(spec)  # processes, dask: a pool or a cluster for the whole search
    except BaseException:  # a cluster that cannot be reached leaves no tune directory behind
        rundir.discard(tune_dir)
        raise
    records = rundir.CsvRecords(tune_dir / TRIALS, trial_columns(spec))
    return search(spec, tune_dir, Sampler(spec), new_pruner(spec), records, [], executor)


def preflight_tracking(spec: TuneSpec) -> None:
    """A tracking store that cannot work fails now, not after the search."""
    if spec.mlflow is not None:
        from trainlab.tracking import preflight  # MLflow: an optional extra, slow to import

        preflight(spec.mlflow)


def trial_columns(spec: TuneSpec) -> list[str]:
    """The header of ``trials.csv``: the trial's outcome, then one column per space key."""
    return TRIAL_COLUMNS + [dim.key for dim in spec.space]


def new_pruner(spec: TuneSpec) -> Pruner:
    """The search's pruner, its rungs below the trials' epochs (:func:`_most_epochs`)."""
    from trainlab.tune.pruning import Pruner  # Keras: a tune's training stack, loaded when it runs

    return Pruner(spec.config.pruner, spec.config.metric, spec.mode, _most_epochs(spec))


def search(spec: TuneSpec, tune_dir: Path, sampler: Sampler, pruner: Pruner, records: rundir.CsvRecords,
           rows: list[dict[str, Any]], executor: PopulationExecutor | None, earlier_s: float = 0.0) -> Tune:
    """Ask, train and tell populations until the search is done, then confirm it and write ``best.yaml``.

    Args:
        spec: the search.
        tune_dir: its directory.
        sampler, pruner: the sampler and pruner, told about ``rows`` already.
        records: ``trials.csv``, open to append.
        rows: the trials done so far (none; a resumed search's, :func:`~trainlab.tune.resume_tune`).
        executor: the pool or cluster of ``processes`` and ``dask`` (None for the others); closed here.
        earlier_s: wall time the search spent before (a resumed search's).

    Returns:
        The finished :class:`Tune`.
    """
    from trainlab.tune.report import refresh_tune_report  # matplotlib: the page drawn as the search ends

    # The data and the traced engines, kept from population to population (in this process: a task of the
    # processes and dask executors keeps its own).
    engines = Engines() if executor is None else None
    started, total, status = time.perf_counter() - earlier_s, sampler.total(), "running"
    try:
        while len(rows) < total:
            budget = spec.config.time_budget_s
            if budget is not None and rows and time.perf_counter() - started > budget:  # one population at least
                status = "time budget spent"
                break
            population = _population(spec, sampler.ask(min(spec.population, total - len(rows))), tune_dir)
            trained = train_population([t for t in population if isinstance(t, TrialRun)], spec, pruner, engines,
                                       executor)
            done = iter(trained)
            for trial in population:
                trial_row = next(done) if isinstance(trial, TrialRun) else trial
                rows.append(trial_row)
                history = read_history(trial_dir(tune_dir, trial_row["trial"]))
                asked = trial.asked if isinstance(trial, TrialRun) else trial["_asked"]
                trial_row.pop("_asked", None)
                sampler.tell(asked, trial_row["status"], trial_row["value"], curve(history, spec.config.metric))
            records.write(rows[-len(population):])
            # tune.json and best.yaml as they stand: a search killed later keeps its wall time and best so far
            _finish(tune_dir, spec, rows, _best(rows, spec.mode), status, started, engines=engines)
        else:
            status = "completed"
    except KeyboardInterrupt as exc:
        status = "interrupted"
        exc.run_dirs, exc.dir_kind = [tune_dir], "tune"  # for the command line's hint: resume the tune
        raise
    except Exception:
        status = "failed"  # trainlab itself failed (a trial's failure is its row): tune.json says so
        raise
    finally:
        records.close()
        if executor is not None:
            executor.close()
        best_row = _best(rows, spec.mode)
        confirming = spec.config.confirm is not None and status == "completed"
        _finish(tune_dir, spec, rows, best_row, "confirming" if confirming else status, started, engines=engines)
        refresh_tune_report(tune_dir)  # never raises: a page that cannot be drawn leaves the results as they are
    confirmed = None
    if confirming:
        from trainlab.tune.confirm import confirm  # the study stack: only for a search that confirms

        try:
            confirmed = confirm(spec, rows, tune_dir)
        except KeyboardInterrupt as exc:
            exc.run_dirs, exc.dir_kind = [tune_dir], "tune"
            _finish(tune_dir, spec, rows, best_row, "interrupted", started, engines=engines)
            refresh_tune_report(tune_dir)
            raise
        if confirmed is not None:
            best_row = confirmed[1]
        _finish(tune_dir, spec, rows, best_row, status, started, confirmed[0] if confirmed else None, engines)
        refresh_tune_report(tune_dir)
    best = spec.portable_recipe({dim.key: best_row[dim.key] for dim in spec.space}) if best_row else None
    mlflow_run_id = None
    if spec.mlflow is not None:
        from trainlab.tracking import log_tune  # MLflow, as above

        mlflow_run_id = log_tune(tune_dir, spec.mlflow)
    return Tune(tune_dir, spec, rows, best, best_row, confirmed[0] if confirmed else None, mlflow_run_id)


def _finish(tune_dir: Path, spec: TuneSpec, rows: list[dict[str, Any]], best_row: dict[str, Any] | None,
            status: str, started: float, study: Any = None, engines: Engines | None = None) -> None:
    """Write ``best.yaml`` and ``tune.json`` (again after a confirmation, which may pick another trial)."""
    if best_row is not None:
        best = spec.portable_recipe({dim.key: best_row[dim.key] for dim in spec.space})
        _write_best(tune_dir / BEST, best, best_row, confirmed=study is not None)
    confirmation = {} if study is None else {"confirm": {
        "dir": "confirm", "variants": list(study.spec.variants), "seeds": list(study.spec.config.seeds),
        "summary": [{k: s[k] for k in ("variant", "n", "mean", "std", "ci_low", "ci_high")} for s in study.summary]}}
    rundir.write_json(tune_dir / TUNE, {**spec.to_json(), "status": status,
                                         "wall_time_s": time.perf_counter() - started,
                                         "trials_run": len(rows),
                                         "best_trial": best_row["trial"] if best_row else None,
                                         "best_value": best_row["value"] if best_row else None,
                                         **({"engines": {"built": engines.built, "reused": engines.reused}}
                                            if engines is not None else {}), **confirmation})


def _population(spec: TuneSpec, asked: list[Any], tune_dir: Path) -> list[Any]:
    """Each asked trial as a :class:`TrialRun`, or, when its recipe does not validate, its failed row."""
    out: list[Any] = []
    for a in asked:
        try:
            out.append(TrialRun(a, _recipe(spec, a.values, f"{spec.name}-trial-{a.number:03d}"),
                                trial_dir(tune_dir, a.number)))
        except TrainlabError as exc:  # a combination of values the recipe refuses: that trial fails
            out.append({**row(a, spec, "failed", None, [], None, str(exc)), "_asked": a})
    return out


def _recipe(spec: TuneSpec, values: dict[str, Any], name: str) -> Plan:
    from trainlab.training.prepare import load_recipe  # TensorFlow, as above

    data = spec.trial_recipe({**values, "training.verbose": 0}, name)
    recipe, _, _ = load_recipe(data)
    return Plan(name, recipe.seed, recipe, spec.base_dir)


def _most_epochs(spec: TuneSpec) -> int:
    """The most epochs a trial can train: the base recipe's, or the largest ``training.epochs`` of the space (the
    rungs and hyperband's brackets lie below it; each trial's own rungs below its own epochs)."""
    epochs = [_recipe(spec, {}, spec.name).recipe.training.epochs]
    for dim in spec.space:
        if dim.key == "training.epochs":
            epochs += [int(dim.high)] if dim.kind == "int" else [int(v) for v in dim.choices]
    return max(epochs)



def _best(rows: list[dict[str, Any]], mode: str) -> dict[str, Any] | None:
    """The best completed trial (pruned ones stopped short: they are not candidates)."""
    done = [r for r in rows if r["status"] == "completed" and isinstance(r["value"], float) and math.isfinite(r["value"])]
    if not done:
        return None
    return (max if mode == "max" else min)(done, key=lambda r: r["value"])


def _write_best(path: Path, recipe: dict[str, Any], best_row: dict[str, Any], confirmed: bool = False) -> None:
    """``best.yaml``, written atomically (a temporary file renamed)."""
    tmp = path.with_name(path.name + ".tmp")
    how = "ranked first by the confirmation study (confirm/)" if confirmed else "of this search"
    header = (f"The best trial ({best_row['trial']}, value {best_row['value']:.6g}), {how}.\n"
              f"Train it: trainlab run {path.name}")
    rundir.write_yaml(tmp, recipe, header)
    os.replace(tmp, path)
