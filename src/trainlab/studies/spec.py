"""A study: a base recipe, the variants to compare, the seeds, and the metric that ranks them.

``load_study`` validates the whole study before anything trains: every (variant, seed) recipe
is resolved and checked, and a mistake is reported at the study key that caused it
(``vary.dropout.model.dropout: each rate must be in [0, 1), got 1.5``).
"""

from __future__ import annotations

import importlib.util
import itertools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from trainlab.config import Recipe
from trainlab.config.loading import apply_overrides, parse_set, read_yaml, validate
from trainlab.runtime import prefer_fused_threads
from trainlab.config.tracking import MlflowConfig, TrackingConfig
from trainlab.errors import TrainlabError
from trainlab.rundir.study import STUDY

EXECUTORS = ("fused", "sequential", "processes", "dask")
# A Dask scheduler's address as `dask scheduler` prints it: [protocol://]host:port.
DASK_ADDRESS = re.compile(r"((tcp|tls|ws|wss|ucx)://)?(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+):[0-9]{1,5}")


class StudyConfig(BaseModel):
    """The study file's keys; see ``docs/studies.md``."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, description="the study's name (default: the study file's name)")
    base: str | dict[str, Any] = Field(default_factory=dict, description="a recipe path or an inline recipe")
    vary: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="each variant: a label and the recipe keys (dotted) it overrides"
    )
    grid: dict[str, list[Any]] = Field(
        default_factory=dict, description="recipe keys (dotted) and the values to cross (cartesian product)"
    )
    seeds: list[int] = Field(default_factory=lambda: [0, 1, 2], min_length=1, description="one run per seed")
    metric: str = Field("val_loss", description="the history column that ranks the variants")
    mode: Literal["auto", "max", "min"] = Field("auto", description="auto: max for accuracy-like names, else min")
    executor: Literal["fused", "sequential", "processes", "dask"] = Field(
        "fused", description="fused: runs that can, train together in one compiled program"
    )
    workers: int | None = Field(
        None, gt=0, description="processes: pool size; dask: LocalCluster workers (default: the CPU cores)"
    )
    dask_address: str | None = Field(
        None, description="dask executor: the scheduler, tcp://HOST:PORT (default: a LocalCluster on this machine)"
    )
    tracking: TrackingConfig | None = Field(
        None, description="log the study to MLflow (default: the base recipe's tracking)"
    )

    @field_validator("seeds")
    @classmethod
    def _distinct(cls, seeds: list[int]) -> list[int]:
        if len(set(seeds)) != len(seeds):
            raise ValueError(f"must be distinct, got {seeds}")
        return seeds

    @field_validator("dask_address")
    @classmethod
    def _address(cls, address: str | None) -> str | None:
        return check_dask_address(address)

    @model_validator(mode="after")
    def _dask_keys(self) -> StudyConfig:
        check_dask_keys(self.executor, self.workers, self.dask_address)
        return self


def check_dask_address(address: str | None) -> str | None:
    """``dask_address``'s form (a study's, a tune's): ``[protocol://]host:port``; nothing is contacted.

    Raises:
        ValueError: it is not such an address (pydantic places it at the key).
    """
    if address is not None and not DASK_ADDRESS.fullmatch(address):
        raise ValueError(f"must be a Dask scheduler's address, tcp://HOST:PORT, got {address!r}")
    return address


def check_dask_keys(executor: str, workers: int | None, dask_address: str | None) -> None:
    """The executor keys together (a study's, a tune's): ``dask_address`` only for dask, and not with ``workers``.

    Raises:
        TrainlabError: at ``dask_address`` or ``workers``.
    """
    if dask_address is not None and executor != "dask":
        raise TrainlabError("dask_address", f"applies to executor: dask only (executor is {executor})", dask_address)
    if dask_address is not None and workers is not None:
        raise TrainlabError("workers", "sizes the LocalCluster; with dask_address the workers are those "
                            "started with `dask worker`", workers)


def check_dask_installed(executor: str) -> None:
    """Fail before anything starts when ``executor: dask`` lacks its extra.

    Raises:
        TrainlabError: at ``executor``.
    """
    if executor == "dask" and importlib.util.find_spec("distributed") is None:
        raise TrainlabError("executor", "dask needs the dask extra: pip install 'trainlab[dask]'", "dask")


@dataclass(frozen=True)
class Plan:
    """One run of the study: its variant, seed, and validated recipe."""

    variant: str
    seed: int
    recipe: Recipe
    base_dir: Path | None

    @property
    def key(self) -> str:
        return f"{self.variant}/seed{self.seed}"


@dataclass
class StudySpec:
    """A validated study: its settings, its variants' overrides, and every run's plan."""

    name: str
    config: StudyConfig
    variants: dict[str, dict[str, Any]]
    plans: list[Plan]
    mode: str
    # What rebuilds this spec (study.json keeps it, to resume the study): see study_from_json.
    source: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        dask = {"dask_address": self.config.dask_address} if self.config.executor == "dask" else {}
        return {"name": self.name, "metric": self.config.metric, "mode": self.mode, "variants": self.variants,
                "seeds": list(self.config.seeds), "executor": self.config.executor, **dask}

    @property
    def mlflow(self) -> MlflowConfig | None:
        """Where to log the study: the study's ``tracking.mlflow``, else the base recipe's (None: nowhere)."""
        if self.config.tracking is not None:
            return self.config.tracking.mlflow
        return self.plans[0].recipe.tracking.mlflow


def load_study(
    spec: str | Path | Mapping[str, Any] | StudyConfig, overrides: Mapping[str, Any] | Iterable[str] | None = None
) -> StudySpec:
    """Read, override and validate a study, and resolve every (variant, seed) recipe.

    Args:
        spec: a study YAML path, a mapping shaped like it, or a :class:`StudyConfig`.
        overrides: ``{"seeds": [0, 1]}`` or ``["base.training.epochs=5"]`` (``base.`` reaches the recipe).

    Raises:
        TrainlabError: a bad key or value, named by its study key path.
    """
    data, recipe_dir, name = read_spec(spec, overrides, StudyConfig, "study")
    source = str(spec) if isinstance(spec, (str, Path)) else None
    return _resolve(validate(StudyConfig, data, source), recipe_dir, name)


def study_from_json(source: Mapping[str, Any]) -> StudySpec:
    """The study that ``study.json``'s ``source`` describes, validated and resolved again (to resume it).

    Args:
        source: ``{"config": the study's keys with its base recipe inline, "base_dir": the folder
            its relative paths resolve against, "stem": the study file's name}``, as
            :attr:`StudySpec.source` holds it.

    Raises:
        TrainlabError: the study no longer validates (a data file moved, say).
    """
    if not isinstance(source, Mapping) or not isinstance(source.get("config"), Mapping):
        raise TrainlabError(STUDY, "source must hold the study's config (written by trainlab study)",
                            type(source.get("config") if isinstance(source, Mapping) else source).__name__)
    base_dir = source.get("base_dir")
    return _resolve(validate(StudyConfig, source["config"], STUDY), Path(base_dir) if base_dir else None,
                    str(source.get("stem") or "study"))


def _resolve(config: StudyConfig, recipe_dir: Path | None, name: str) -> StudySpec:
    """The validated study file as a :class:`StudySpec`: its base read, each (variant, seed) recipe resolved."""
    check_dask_installed(config.executor)
    base, recipe_dir = load_base(config.base, recipe_dir)
    training = base.get("training")
    if config.executor == "fused" and not (isinstance(training, Mapping) and training.get("threads") is not None):
        prefer_fused_threads()  # before the recipes below start TensorFlow
    variants = _variants(config)
    mode = config.mode if config.mode != "auto" else _mode(config.metric)
    plans = []
    for label, changes in variants.items():
        for seed in config.seeds:
            plans.append(_plan(label, changes, seed, base, recipe_dir, config, name))
    check_metric(config.metric, plans[0])
    source = {"config": {**config.model_dump(mode="json"), "base": base},
              "base_dir": str(Path(recipe_dir).resolve()) if recipe_dir is not None else None, "stem": name}
    return StudySpec(config.name or name, config, variants, plans, mode, source)


def read_spec(
    spec: str | Path | Mapping[str, Any] | BaseModel, overrides: Mapping[str, Any] | Iterable[str] | None,
    model: type[BaseModel], what: str,
) -> tuple[dict[str, Any], Path | None, str]:
    """A file with a ``base`` recipe (a study, a tune) as a mapping, its overrides applied.

    Args:
        spec: a YAML path, a mapping shaped like it, or an instance of ``model``.
        overrides: ``{"seeds": [0, 1]}`` or ``["base.training.epochs=5"]`` (``base.`` reaches the recipe,
            which is then read from its file).
        model: the file's pydantic model (for an instance given as ``spec``).
        what: the file's kind, for messages and as the default name (``study``, ``tune``).

    Returns:
        ``(data, recipe_dir, name)``: the overridden mapping, the folder its relative paths resolve
        against, and the name (the file's stem, else ``what``).

    Raises:
        TrainlabError: ``spec`` is of no such kind, or an override cannot apply.
    """
    base_dir, name = None, what
    if isinstance(spec, model):
        data = spec.model_dump()
    elif isinstance(spec, Mapping):
        data = dict(spec)
    elif isinstance(spec, (str, Path)):
        path = Path(spec)
        data, base_dir, name = read_yaml(path), path.parent, path.stem
    else:
        raise TrainlabError(what, f"must be a YAML path, a mapping or a {model.__name__}", type(spec).__name__)
    recipe_dir = base_dir
    if overrides:
        overrides = dict(overrides.items() if isinstance(overrides, Mapping) else (parse_set(o) for o in overrides))
        if any(k.startswith("base.") for k in overrides) and isinstance(data.get("base"), (str, Path)):
            recipe_path = _path(data["base"], base_dir)  # a recipe file: read it, so base.* keys can reach in
            data["base"], recipe_dir = read_yaml(recipe_path), recipe_path.parent
        data = apply_overrides(data, overrides)
    return data, recipe_dir, name


def _keys(items: Iterable[str]) -> list[str]:
    return [str(item).split("=", 1)[0].strip() for item in items]


def _path(base: str | Path, base_dir: Path | None) -> Path:
    path = Path(base)
    return path if path.is_absolute() or base_dir is None else base_dir / path


def load_base(base: str | dict[str, Any], base_dir: Path | None) -> tuple[dict[str, Any], Path | None]:
    """The base recipe as a mapping, and the folder its relative data paths resolve against."""
    if isinstance(base, dict):
        return base, base_dir
    path = _path(base, base_dir)
    return read_yaml(path), path.parent


def _variants(config: StudyConfig) -> dict[str, dict[str, Any]]:
    """Labels and overrides: ``vary`` crossed with ``grid`` (either alone is fine; neither: one variant)."""
    vary = config.vary or {"base": {}}
    if not config.grid:
        variants = dict(vary)
    else:
        keys = list(config.grid)
        for key in keys:
            if not config.grid[key]:
                raise TrainlabError(f"grid.{key}", "needs at least one value", [])
        variants = {}
        for values in itertools.product(*(config.grid[k] for k in keys)):
            point = dict(zip(keys, values))
            grid_label = ",".join(
                (f"{_short(v)}" if len(keys) == 1 else f"{k.split('.')[-1]}={_short(v)}") for k, v in point.items()
            )
            for label, changes in vary.items():
                full = grid_label if not config.vary else f"{label}/{grid_label}"
                variants[full] = {**changes, **point}
    for label in variants:
        if not re.fullmatch(r"[A-Za-z0-9_.=,+/-]+", label) or ".." in label or label.startswith(("/", ".")):
            raise TrainlabError("vary", "variant labels may use letters, digits and _ . = , + - only", label)
    return variants


def _short(value: Any) -> str:
    return str(value).replace(" ", "") if not isinstance(value, (dict, list)) else re.sub(r"[^A-Za-z0-9_.,+-]", "", str(value))


def _plan(label: str, changes: dict[str, Any], seed: int, base: dict[str, Any], base_dir: Path | None,
          config: StudyConfig, study_name: str) -> Plan:
    data_seed = (base.get("data") or {}).get("seed", base.get("seed", 42))
    forced = {"seed": seed, "name": f"{study_name}-{label.replace('/', '-')}-seed{seed}",
              "training.verbose": 0}
    where = f"vary.{label}" if label in config.vary else f"grid ({label})"
    try:
        data = apply_overrides(base, {**changes})
        data = apply_overrides(data, forced)
        if (data.get("data") or {}).get("seed") is None:
            # The seeds vary the initial weights and dropout; the data and batch order stay the base's.
            data = apply_overrides(data, {"data.seed": data_seed if data_seed is not None else 42})
        from trainlab.training.prepare import load_recipe  # here: TensorFlow only once recipes are checked

        recipe, _, _ = load_recipe(data)
    except TrainlabError as exc:
        in_variant = any(exc.where == k or exc.where.startswith(k + ".") for k in changes)
        raise exc.within(where if in_variant else "base") from None
    return Plan(label, seed, recipe, base_dir)


def check_metric(metric: str, plan: Plan) -> None:
    """Fail before training when the metric cannot be a history column of these runs."""
    from trainlab.metrics import check_name  # Keras: loaded when a study is checked, not when it is imported

    name = metric.removeprefix("val_").removeprefix("train_eval_")
    if name in ("loss",):
        return
    recipe_metrics = plan.recipe.metrics if plan.recipe.metrics != "auto" else None
    if recipe_metrics is not None and name not in recipe_metrics:
        raise TrainlabError("metric", f"must be loss or a metric the runs record ({', '.join(recipe_metrics)}), "
                            "optionally with val_ / train_eval_", metric)
    if recipe_metrics is None:
        check_name(name, where="metric")


def _mode(metric: str) -> str:
    from trainlab.training import monitor_mode  # the trainer (TensorFlow), as above

    return monitor_mode(metric)
