"""Experiment tracking: a finished run or study directory, logged to MLflow (``trainlab[mlflow]``).

    trainlab run examples/basic.yaml --mlflow sqlite:///mlflow.db
    trainlab.tracking.log_run(run.dir, {"uri": "sqlite:///mlflow.db"})

Logging reads the run directory once the run has ended (the records are the contract), so it
logs any run trainlab wrote, completed, failed or interrupted, and nothing is logged while a
run trains. A run becomes one MLflow run:

- params: the resolved recipe (``recipe.yaml``) flattened to dotted keys (``optimizer.learning_rate``);
- metrics: every ``history.csv`` column per epoch (step = the epoch, from 1), and from the summary
  ``best_<column>`` (the best epoch's row), ``test_<metric>``, ``best_epoch``, ``epochs_run``,
  ``wall_time_s``;
- tags: ``trainlab.status``, ``trainlab.run_dir``, ``trainlab.monitor``, ``trainlab.diagnosis``
  (the rules found, or ``healthy``) and the versions;
- artifacts: ``recipe.yaml``, ``summary.json``, ``history.csv``, ``diagnosis.json``,
  ``report.html``, the figures (``*.png``) and ``model.keras``, as far as the run has them.

A study becomes a parent run (its settings, per-variant statistics from ``summary.csv``, its
tables, figures and report) with a child run per (variant, seed). A tune becomes a parent run
(the search as params, the best value and trial as metrics, ``tune.json``, ``trials.csv``,
``best.yaml`` and ``report.html``) with a child run per trial (its run logged as above, so its
values are params under their recipe key paths; its ``value`` and status as well).

Artifacts never land in the current directory by accident: a new experiment on a sqlite store
keeps them in ``mlartifacts/`` next to the database file (as ``mlflow server`` does), an http(s)
server in its own artifact store, and another database where ``artifact_location`` says.
"""

from __future__ import annotations

import json
import math
import os
import re
import socket
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from trainlab.config.tracking import MlflowConfig, scheme
from trainlab import rundir
from trainlab.config.loading import validate
from trainlab.errors import TrainlabError
from trainlab.rundir.study import read_table

__all__ = ["log_run", "log_study", "log_tune", "preflight"]

CONNECT_TIMEOUT_S = 10.0  # how long an http(s) tracking server has to accept a connection

RUN_ARTIFACTS = ("recipe.yaml", "summary.json", "history.csv", "report.html", "model.keras")
STUDY_ARTIFACTS = ("study.json", "results.csv", "summary.csv", "comparisons.csv", "report.html")
STUDY_STATISTICS = ("mean", "std", "ci_low", "ci_high", "n", "n_failed")
TUNE_ARTIFACTS = ("tune.json", "trials.csv", "best.yaml", "report.html")
TUNE_RESULTS = ("name", "status", "wall_time_s", "trials_run", "best_trial", "best_value")  # tune.json: not the spec
# tune.json, not params either: ``source`` (the base recipe inline, base_dir, the tracking URI with any credentials
# in it: what resumes the tune) and ``engines`` (how many engines were built and reused: a result).
TUNE_NOT_PARAMS = ("source", "engines")
RUN_STATUS = {"completed": "FINISHED", "failed": "FAILED", "interrupted": "KILLED"}  # else (still "running"): KILLED
TUNE_STATUS = {**RUN_STATUS, "time budget spent": "FINISHED"}
MAX_PARAM_LENGTH = 6000  # MLflow's limit on a param's value
WHERE = "tracking.mlflow"


def log_run(
    run_dir: str | Path,
    config: MlflowConfig | Mapping[str, Any] | str | None = None,
    *,
    parent_run_id: str | None = None,
    run_name: str | None = None,
    tags: Mapping[str, str] | None = None,
) -> str:
    """Log a run directory to MLflow as one run.

    Args:
        run_dir: a run directory written by ``trainlab run`` or :func:`trainlab.train`.
        config: where to log: an :class:`~trainlab.config.tracking.MlflowConfig`, a mapping
            shaped like the recipe's ``tracking.mlflow``, a tracking URI, or None for the run's
            own recipe's ``tracking.mlflow``.
        parent_run_id: log it as a child of this MLflow run (a study's runs).
        run_name: the MLflow run's name (default: the run's name).
        tags: more tags.

    Returns:
        The MLflow run id.

    Raises:
        TrainlabError: not a run directory, no tracking configured, or the store refused.

    Example:
        >>> run = trainlab.train("examples/basic.yaml", training__epochs=5)       # doctest: +SKIP
        >>> trainlab.tracking.log_run(run.dir, "sqlite:///mlflow.db")             # doctest: +SKIP
    """
    path = Path(run_dir)
    summary, recipe = _read_run(path)
    config = _config(config, (recipe.get("tracking") or {}).get("mlflow"), str(path))
    name = summary.get("name") or recipe.get("name") or path.name
    store = _Store(config, config.experiment or name)
    return store.log_run(path, summary, recipe, run_name or name, parent_run_id, dict(tags or {}))


def log_study(study_dir: str | Path, config: MlflowConfig | Mapping[str, Any] | str) -> str:
    """Log a study directory to MLflow: a parent run for the study and a child run per (variant, seed).

    A run that failed without a run directory (its task raised) still gets a child run, status
    ``FAILED``, with its error as the tag ``trainlab.error``.

    Args:
        study_dir: a study directory written by ``trainlab study`` or :func:`trainlab.study`.
        config: where to log (see :func:`log_run`; a study has no recipe to take it from).

    Returns:
        The parent run's id.

    Raises:
        TrainlabError: not a study directory, or the store refused.
    """
    path = Path(study_dir)
    study = _read_json(path / "study.json", "is not a study directory")
    store, parent, end_ms = _parent(path, study, "study", config)
    variants = study.get("variants") or {}
    params = {"metric": study.get("metric"), "mode": study.get("mode"), "seeds": study.get("seeds"),
              "executor": study.get("executor"),
              **{f"variant.{_key(label)}": changes for label, changes in variants.items()}}
    store.log(parent, params=_param_texts(params))
    summary = read_table(path / "summary.csv") if (path / "summary.csv").is_file() else []
    store.log(parent, metrics={f"{_key(row['variant'])}/{stat}": row.get(stat)
                               for row in summary for stat in STUDY_STATISTICS})
    store.artifacts(parent, [path / n for n in STUDY_ARTIFACTS] + sorted(path.glob("*.png")))
    results = read_table(path / "results.csv") if (path / "results.csv").is_file() else []
    for row in results:
        variant, seed = row["variant"], row["seed"]
        tags = {"trainlab.variant": str(variant), "trainlab.seed": str(seed)}
        _child(store, parent, path / "runs" / str(variant) / f"seed{seed}", f"{variant}/seed{seed}", tags,
               row.get("error"))
    store.end(parent, RUN_STATUS.get(str(study.get("status")), "KILLED"), end_ms=end_ms)
    return parent


def log_tune(tune_dir: str | Path, config: MlflowConfig | Mapping[str, Any] | str) -> str:
    """Log a tune directory to MLflow: a parent run for the search and a child run per trial.

    The parent's params are the search as ``tune.json`` holds it (``space.<key>.<distribution>``,
    ``pruner.name``, ``sampler``, ...; not its ``source``, which holds the base recipe and the
    tracking URI, nor ``engines``), its metrics ``best_value``, ``best_trial``, ``trials_run``
    and the trials per status (``n_completed``, ``n_pruned``, ``n_failed``). A child run is the
    trial's run directory logged as :func:`log_run` does (the recipe, with the trial's values, as
    params), with the metrics ``value`` and ``pruned_at_epoch`` and the tags ``trainlab.trial`` and
    ``trainlab.trial_status``; a trial without a run directory (its recipe was refused, its task
    failed) is a ``FAILED`` child with its values as params and its error as ``trainlab.error``.

    Args:
        tune_dir: a tune directory written by ``trainlab tune`` or :func:`trainlab.tune`.
        config: where to log (see :func:`log_run`).

    Returns:
        The parent run's id.

    Raises:
        TrainlabError: not a tune directory, or the store refused.

    Example:
        >>> result = trainlab.tune("examples/tune/basic.yaml", trials=6)          # doctest: +SKIP
        >>> trainlab.tracking.log_tune(result.dir, "sqlite:///mlflow.db")        # doctest: +SKIP
    """
    path = Path(tune_dir)
    tune = _read_json(path / "tune.json", "is not a tune directory")
    store, parent, end_ms = _parent(path, tune, "tune", config)
    search = {k: v for k, v in tune.items() if k not in TUNE_RESULTS and k not in TUNE_NOT_PARAMS}
    if isinstance(search.get("confirm"), Mapping):  # after a confirmation: its study, whose summary is no setting
        search["confirm"] = {k: v for k, v in search["confirm"].items() if k != "summary"}
    trials = rundir.read_csv(path / "trials.csv") if (path / "trials.csv").is_file() else []
    counts = {f"n_{status}": sum(r.get("status") == status for r in trials)
              for status in ("completed", "pruned", "failed")}
    store.log(parent, params=_param_texts(_flatten(search)),
              metrics={**{k: tune.get(k) for k in ("best_value", "best_trial", "trials_run")}, **counts})
    store.artifacts(parent, [path / n for n in TUNE_ARTIFACTS])
    space = list(tune.get("space") or {})
    for row in trials:
        name = f"trial-{int(row['trial']):03d}"
        tags = {"trainlab.trial": str(row["trial"]), "trainlab.trial_status": str(row.get("status"))}
        metrics = {"value": row.get("value"), "pruned_at_epoch": row.get("pruned_at_epoch")}
        _child(store, parent, path / "runs" / name, name, tags, row.get("error"), metrics,
               params={key: row.get(key) for key in space})
    store.end(parent, TUNE_STATUS.get(str(tune.get("status")), "KILLED"), end_ms=end_ms)
    return parent


def _parent(path: Path, record: dict[str, Any], kind: str,
            config: MlflowConfig | Mapping[str, Any] | str) -> tuple[_Store, str, int | None]:
    """A study's or tune's parent run, started: the store, the run's id and when its directory's record was written."""
    config = _config(config, None, str(path))
    name = record.get("name") or path.name
    store = _Store(config, config.experiment or name)
    end_ms = _mtime_ms(path / f"{kind}.json")
    parent = store.start(name, None, {"trainlab.kind": kind, f"trainlab.{kind}_dir": str(path.resolve()),
                                      "trainlab.status": str(record.get("status"))},
                         start_ms=_start_ms(end_ms, record.get("wall_time_s")))
    return store, parent, end_ms


def _child(store: _Store, parent: str, run: Path, name: str, tags: dict[str, str], error: Any,
           metrics: Mapping[str, Any] | None = None, params: Mapping[str, Any] | None = None) -> None:
    """One run of a study or tune under its parent: its run directory logged, or, with none, a failed run with its error.

    ``params`` are logged only for a run without a directory (a directory's recipe holds them)."""
    if (run / "summary.json").is_file():
        summary, recipe = _read_run(run)
        store.log_run(run, summary, recipe, name, parent, tags, metrics)
        return
    child = store.start(name, parent, {**tags, "trainlab.status": "failed", "trainlab.error": str(error or "")})
    store.log(child, params=_param_texts(params or {}), metrics=metrics)
    store.end(child, "FAILED")


# ------------------------------------------------------------------------------------------------ the store
class _Store:
    """An MLflow client on one experiment (created, with its artifact location set, when new)."""

    def __init__(self, config: MlflowConfig, experiment: str) -> None:
        from mlflow.tracking import MlflowClient

        self.config = config
        self.uri = config.uri
        preflight(config)
        self.client = MlflowClient(tracking_uri=self.uri)
        self.experiment_id = self._call(lambda: self._experiment(experiment))

    def _experiment(self, name: str) -> str:
        from mlflow.exceptions import MlflowException

        found = self.client.get_experiment_by_name(name)
        if found is None:
            try:
                return self.client.create_experiment(name, artifact_location=self._artifact_location(name))
            except MlflowException:  # created meanwhile by another process
                found = self.client.get_experiment_by_name(name)
                if found is None:
                    raise
        if found.lifecycle_stage != "active":
            raise TrainlabError(f"{WHERE}.experiment", "is deleted in MLflow; restore it or choose another name", name)
        return found.experiment_id

    def _artifact_location(self, experiment: str) -> str | None:
        """Where a new experiment's artifacts go; None lets an http(s) server or a file store decide."""
        location = self.config.artifact_location
        if location is None and scheme(self.uri) == "sqlite":
            folder = re.sub(r"[^A-Za-z0-9_.-]+", "-", experiment).strip("-") or "experiment"
            return (Path(_sqlite_path(self.uri)).expanduser().resolve().parent / "mlartifacts" / folder).as_uri()
        if location is not None and "://" not in location and not location.startswith("file:"):
            return Path(location).expanduser().resolve().as_uri()  # relative to the current directory, made absolute
        return location

    def _call(self, action: Any) -> Any:
        """Run a store call; its failure reads as a trainlab error naming the URI."""
        from mlflow.exceptions import MlflowException

        try:
            return action()
        except TrainlabError:
            raise
        except (MlflowException, OSError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise TrainlabError(f"{WHERE}.uri", f"MLflow refused ({first[:300]})", self.uri) from None

    def start(self, name: str, parent: str | None, tags: dict[str, str], start_ms: int | None = None) -> str:
        all_tags = {"mlflow.source.name": "trainlab", **tags}
        if parent is not None:
            all_tags["mlflow.parentRunId"] = parent
        run = self._call(lambda: self.client.create_run(self.experiment_id, start_time=start_ms, tags=all_tags,
                                                        run_name=name))
        return run.info.run_id

    def end(self, run_id: str, status: str, end_ms: int | None = None) -> None:
        self._call(lambda: self.client.set_terminated(run_id, status=status, end_time=end_ms))

    def log(self, run_id: str, params: Mapping[str, str] | None = None, metrics: Mapping[str, Any] | None = None,
            steps: Iterable[tuple[str, float, int]] = (), tags: Mapping[str, str] | None = None) -> None:
        """Params, metrics (``name -> value`` at step 0, and ``(name, value, step)``) and tags, in batches."""
        from mlflow.entities import Metric, Param, RunTag

        now = _now_ms()
        points = [(k, v, 0) for k, v in (metrics or {}).items()] + list(steps)
        metric_list = [Metric(k, float(v), now, int(s)) for k, v, s in points if _number(v)]
        param_list = [Param(k, v) for k, v in (params or {}).items()]
        tag_list = [RunTag(k, v) for k, v in (tags or {}).items()]
        for i in range(0, len(param_list), 100):
            self._call(lambda: self.client.log_batch(run_id, params=param_list[i:i + 100]))
        for i in range(0, len(metric_list), 1000):
            self._call(lambda: self.client.log_batch(run_id, metrics=metric_list[i:i + 1000]))
        for i in range(0, len(tag_list), 100):
            self._call(lambda: self.client.log_batch(run_id, tags=tag_list[i:i + 100]))

    def artifacts(self, run_id: str, paths: Iterable[Path]) -> None:
        for path in paths:
            if path.is_file():
                self._call(lambda: self.client.log_artifact(run_id, str(path)))

    def log_run(self, path: Path, summary: dict[str, Any], recipe: dict[str, Any], name: str,
                parent: str | None, tags: dict[str, str], metrics: Mapping[str, Any] | None = None) -> str:
        """One run directory as one MLflow run (see the module's docstring); ``metrics``: more, at step 0."""
        diagnosis = summary.get("diagnosis") or []
        run_tags = {
            **tags, "trainlab.kind": "run", "trainlab.run_dir": str(path.resolve()),
            "trainlab.status": str(summary.get("status")), "trainlab.monitor": str(summary.get("monitor")),
            "trainlab.diagnosis": ", ".join(str(d.get("rule")) for d in diagnosis) or "healthy",
            **{f"trainlab.{k}": str(summary[k]) for k in ("trainlab_version", "tensorflow_version", "keras_version")
               if summary.get(k) is not None},
        }
        if summary.get("error"):
            run_tags["trainlab.error"] = str(summary["error"])[:5000]
        end_ms = _mtime_ms(path / rundir.SUMMARY)
        run_id = self.start(name, parent, run_tags, start_ms=_start_ms(end_ms, summary.get("wall_time_s")))
        history = rundir.read_csv(path / rundir.HISTORY) if (path / rundir.HISTORY).is_file() else []
        steps = [(k, v, int(row["epoch"])) for row in history for k, v in row.items() if k != "epoch"]
        best = {f"best_{k}": v for k, v in (summary.get("best") or {}).items()}
        test = {(k if k.startswith("test_") else f"test_{k}"): v for k, v in (summary.get("test") or {}).items()}
        totals = {k: summary.get(k) for k in ("best_epoch", "epochs_run", "wall_time_s")}
        params = {k: v for k, v in _flatten(recipe).items() if not k.startswith("tracking.")}
        self.log(run_id, params=_param_texts(params), metrics={**best, **test, **totals, **(metrics or {})},
                 steps=steps)
        with tempfile.TemporaryDirectory(prefix="trainlab-mlflow-") as tmp:
            diagnosis_file = Path(tmp) / "diagnosis.json"
            diagnosis_file.write_text(json.dumps(diagnosis, indent=2), encoding="utf-8")
            self.artifacts(run_id, [path / n for n in RUN_ARTIFACTS] + [diagnosis_file] + sorted(path.glob("*.png")))
        self.end(run_id, RUN_STATUS.get(str(summary.get("status")), "KILLED"), end_ms=end_ms)
        return run_id


def preflight(config: MlflowConfig) -> None:
    """Fail fast on a store that cannot work: a sqlite database's folder that cannot be made, or an
    http(s) server that does not accept a connection within :data:`CONNECT_TIMEOUT_S` seconds
    (MLflow's own client would retry for minutes). Studies call it before training.

    Raises:
        TrainlabError: at ``tracking.mlflow.uri``.
    """
    kind = scheme(config.uri)
    if kind == "sqlite":
        folder = Path(_sqlite_path(config.uri)).expanduser().parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise TrainlabError(f"{WHERE}.uri", f"cannot make the database's folder {folder} ({exc.strerror})",
                                config.uri) from None
    elif kind in ("http", "https"):
        url = urlparse(config.uri)
        try:
            port = url.port or (443 if kind == "https" else 80)
            socket.create_connection((url.hostname or "", port), timeout=CONNECT_TIMEOUT_S).close()
        except (OSError, ValueError) as exc:
            raise TrainlabError(f"{WHERE}.uri", f"no MLflow server answered within {CONNECT_TIMEOUT_S:g} s "
                                f"({type(exc).__name__})", config.uri) from None


# ------------------------------------------------------------------------------------------------ helpers
def _config(given: Any, from_recipe: Any, where: str) -> MlflowConfig:
    if isinstance(given, MlflowConfig):
        return given
    if isinstance(given, str):
        given = {"uri": given}
    if given is None:
        given = from_recipe
    if given is None:
        raise TrainlabError(where, "no MLflow tracking given: pass one, or set tracking.mlflow in the recipe")
    try:
        return validate(MlflowConfig, dict(given))
    except TrainlabError as exc:
        raise (exc if exc.where.startswith(WHERE) else exc.within(WHERE)) from None


def _read_run(path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    import yaml

    summary = _read_json(path / "summary.json", "is not a run directory")
    try:
        recipe = yaml.safe_load((path / "recipe.yaml").read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        recipe = {}
    return summary, recipe if isinstance(recipe, dict) else {}


def _read_json(path: Path, problem: str) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise TrainlabError(str(path.parent), f"{problem} (no {path.name})") from None
    except (OSError, ValueError) as exc:
        raise TrainlabError(str(path), f"cannot be read ({exc})") from None
    if not isinstance(data, dict):
        raise TrainlabError(str(path), "must hold a JSON object", type(data).__name__)
    return data


def _flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` -> ``{"a.b": 1}``; lists and empty mappings stay values."""
    flat: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, Mapping) and value:
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _param_texts(params: Mapping[str, Any]) -> dict[str, str]:
    """Params as MLflow stores them, text: strings as they are, anything else as JSON (null, true, [64, 32])."""
    texts = {}
    for key, value in params.items():
        text = value if isinstance(value, str) else json.dumps(value, default=str)
        texts[_key(key)] = text[:MAX_PARAM_LENGTH]
    return texts


def _key(name: Any) -> str:
    """A name MLflow accepts as a param or metric key (letters, digits, _ - . space /)."""
    return re.sub(r"[^A-Za-z0-9_\-. /]", "_", str(name))


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and not math.isinf(value)


def _sqlite_path(uri: str) -> str:
    return uri.removeprefix("sqlite:///").split("?", 1)[0]


def _now_ms() -> int:
    import time

    return int(time.time() * 1000)


def _mtime_ms(path: Path) -> int | None:
    """When a record was last written (a run's or study's end), in ms."""
    try:
        return int(os.stat(path).st_mtime * 1000)
    except OSError:
        return None


def _start_ms(end_ms: int | None, wall_time_s: Any) -> int | None:
    if end_ms is None or not _number(wall_time_s) or math.isnan(wall_time_s):
        return end_ms
    return end_ms - int(wall_time_s * 1000)
