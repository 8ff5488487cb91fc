"""A search file: a base recipe, the space to search, how many trials, how to sample and prune them.

``load_tune`` validates the whole search before anything trains: the base recipe, and the base
with each space key set to its range's ends and to each of its choices, so a key that is not a
recipe key, or a value the recipe refuses, fails now at ``space.<key>``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from trainlab.config import Recipe
from trainlab.config.loading import apply_overrides, validate
from trainlab.config.tracking import MlflowConfig, TrackingConfig
from trainlab.errors import TrainlabError
from trainlab.runtime import prefer_fused_threads
from trainlab.studies.spec import (Plan, check_dask_address, check_dask_installed, check_dask_keys, check_metric,
                                   load_base, read_spec)
from trainlab.tune.space import Dimension, parse_space

SAMPLERS = ("tpe", "random", "sobol", "grid")
PRUNERS = ("asha", "hyperband", "median", "none")


class PrunerConfig(BaseModel):
    """When a trial stops early: rungs at ``min_epochs * reduction_factor**k`` (asha, hyperband), or the median rule."""

    model_config = ConfigDict(extra="forbid")

    name: Literal["asha", "hyperband", "median", "none"] = Field("asha", description="the pruning rule")
    min_epochs: int = Field(1, ge=1, description="the first rung (asha, hyperband); median: no pruning before it")
    reduction_factor: int = Field(3, ge=2, description="asha, hyperband: 1 in reduction_factor trials go on at a rung")


class ConfirmConfig(BaseModel):
    """Re-run the best trials over seeds as a study, whose ranking picks ``best.yaml``."""

    model_config = ConfigDict(extra="forbid")

    top: int = Field(3, gt=0, description="how many of the best completed trials")
    seeds: int | list[int] = Field(5, description="the seeds (a list), or how many (0, 1, ...)")

    @field_validator("seeds")
    @classmethod
    def _seeds(cls, seeds: int | list[int]) -> int | list[int]:
        if isinstance(seeds, int) and seeds < 1:
            raise ValueError(f"must be a count >= 1 or a list of seeds, got {seeds}")
        if isinstance(seeds, list) and (not seeds or len(set(seeds)) != len(seeds)):
            raise ValueError(f"must be a non-empty list of distinct seeds, got {seeds}")
        return seeds

    def seed_list(self) -> list[int]:
        """The seeds as a list."""
        return list(range(self.seeds)) if isinstance(self.seeds, int) else list(self.seeds)


class TuneConfig(BaseModel):
    """The search file's keys; see ``docs/tune.md``."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, description="the search's name (default: the search file's name)")
    base: str | dict[str, Any] = Field(default_factory=dict, description="a recipe path or an inline recipe")
    space: dict[str, Any] = Field(default_factory=dict, description="recipe key paths -> a distribution")
    trials: int = Field(20, gt=0, description="how many trials to train")
    population: int | None = Field(None, gt=0, description="trials asked for and trained together (default: min(trials, 8))")
    sampler: Literal["tpe", "random", "sobol", "grid"] = Field("tpe", description="Optuna's sampler")
    pruner: PrunerConfig = Field(default_factory=PrunerConfig, description="when a trial stops early")
    metric: str = Field("val_loss", description="the history column the trials are ranked by")
    mode: Literal["auto", "max", "min"] = Field("auto", description="auto: max for accuracy-like names, else min")
    seed: int = Field(0, description="the sampler's seed")
    executor: Literal["fused", "sequential", "processes", "dask"] = Field(
        "fused", description="fused: trials that can, train together in one compiled program"
    )
    workers: int | None = Field(
        None, gt=0, description="processes: pool size; dask: LocalCluster workers (default: the CPU cores)"
    )
    dask_address: str | None = Field(
        None, description="dask executor: the scheduler, tcp://HOST:PORT (default: a LocalCluster on this machine)"
    )
    confirm: ConfirmConfig | None = Field(None, description="re-run the best trials over seeds as a study")
    time_budget_s: float | None = Field(None, gt=0, description="ask for no more trials after this long")
    tracking: TrackingConfig | None = Field(
        None, description="log the tune to MLflow (default: the base recipe's tracking)"
    )

    @field_validator("pruner", mode="before")
    @classmethod
    def _named(cls, pruner: Any) -> Any:
        return {"name": pruner} if isinstance(pruner, str) else pruner

    @field_validator("dask_address")
    @classmethod
    def _address(cls, address: str | None) -> str | None:
        return check_dask_address(address)

    @model_validator(mode="after")
    def _dask_keys(self) -> TuneConfig:
        check_dask_keys(self.executor, self.workers, self.dask_address)
        return self


@dataclass
class TuneSpec:
    """A validated search: its settings, its space, the base recipe and where its relative paths resolve."""

    name: str
    config: TuneConfig
    space: list[Dimension]
    base: dict[str, Any]
    base_dir: Path | None
    mode: str
    base_mlflow: MlflowConfig | None = None  # the base recipe's tracking.mlflow

    @property
    def population(self) -> int:
        """How many trials are asked for, and trained, together."""
        return self.config.population or min(self.config.trials, 8)

    def trial_recipe(self, values: Mapping[str, Any], name: str | None = None) -> dict[str, Any]:
        """The base recipe with a trial's values set (a mapping, as a recipe file holds it)."""
        data = apply_overrides(self.base, dict(values))
        return apply_overrides(data, {"name": name}) if name is not None else data

    def portable_recipe(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """The base with ``values`` set and a relative ``data.path`` made absolute, to run from any folder."""
        recipe = self.trial_recipe(values)
        data = recipe.get("data")
        if self.base_dir is not None and isinstance(data, dict) and isinstance(data.get("path"), str) \
                and not Path(data["path"]).is_absolute():
            recipe["data"] = {**data, "path": str((self.base_dir / data["path"]).resolve())}
        return recipe

    @property
    def mlflow(self) -> MlflowConfig | None:
        """Where to log the tune: the search file's ``tracking.mlflow``, else the base recipe's (None: nowhere)."""
        if self.config.tracking is not None:
            return self.config.tracking.mlflow
        return self.base_mlflow

    def to_json(self) -> dict[str, Any]:
        """The search as ``tune.json`` holds it; its ``source`` rebuilds the spec (:func:`tune_from_json`)."""
        source = {"config": {**self.config.model_dump(mode="json"), "name": self.name, "base": self.base},
                  "base_dir": str(Path(self.base_dir).resolve()) if self.base_dir is not None else None}
        return {"name": self.name, **self.config.model_dump(mode="json", exclude={"name", "base", "tracking"}),
                "mode": self.mode, "population": self.population, "source": source}


def load_tune(
    spec: str | Path | Mapping[str, Any] | TuneConfig, overrides: Mapping[str, Any] | Iterable[str] | None = None
) -> TuneSpec:
    """Read, override and validate a search file, and check every space key against the base recipe.

    Args:
        spec: a search YAML path, a mapping shaped like it, or a :class:`TuneConfig`.
        overrides: ``{"trials": 10}`` or ``["base.training.epochs=5"]`` (``base.`` reaches the recipe).

    Returns:
        The validated :class:`TuneSpec`.

    Raises:
        TrainlabError: a bad key or value, named by its key path in the search file.

    Example:
        >>> spec = load_tune("examples/tune/basic.yaml", ["trials=6"])  # doctest: +SKIP
    """
    data, recipe_dir, name = read_spec(spec, overrides, TuneConfig, "tune")
    source = str(spec) if isinstance(spec, (str, Path)) else None
    return _resolve(validate(TuneConfig, data, source), recipe_dir, name)


def tune_from_json(source: Mapping[str, Any]) -> TuneSpec:
    """The search that ``tune.json``'s ``source`` describes, validated again (to resume it).

    Args:
        source: ``{"config": the search's keys with its name and base recipe inline, "base_dir":
            the folder its relative paths resolve against}``, as :meth:`TuneSpec.to_json` writes it.

    Raises:
        TrainlabError: the search no longer validates (a data file moved, say).
    """
    if not isinstance(source, Mapping) or not isinstance(source.get("config"), Mapping):
        raise TrainlabError("tune.json", "source must hold the search's config (written by trainlab tune)",
                            type(source.get("config") if isinstance(source, Mapping) else source).__name__)
    base_dir = source.get("base_dir")
    return _resolve(validate(TuneConfig, source["config"], "tune.json"), Path(base_dir) if base_dir else None, "tune")


def _resolve(config: TuneConfig, recipe_dir: Path | None, name: str) -> TuneSpec:
    """The validated search file as a :class:`TuneSpec`, every space key checked against the base recipe."""
    check_dask_installed(config.executor)
    space = parse_space(config.space)
    if config.sampler == "grid":
        for dim in space:
            dim.grid()  # a float range has no grid: fail now
    base, base_dir = load_base(config.base, recipe_dir)
    training = base.get("training")
    if config.executor == "fused" and not (isinstance(training, Mapping) and training.get("threads") is not None):
        prefer_fused_threads()  # as a fused study: before the recipes below start TensorFlow's runtime
    recipe = _check(base, {}, None)
    # Keys may depend on each other (a dropout list per hidden layer): each key's values are tried
    # with the other keys at a value of theirs, not at the base's.
    point = {dim.key: dim.examples()[0] for dim in space}
    for dim in space:
        for value in dim.examples():
            _check(base, {**point, dim.key: value}, dim.key)
    check_metric(config.metric, Plan("base", recipe.seed, recipe, base_dir))
    if config.pruner.name != "none" and not config.metric.startswith("val_"):
        raise TrainlabError("metric", f"must be a val_ column: pruner {config.pruner.name} decides on validation "
                            "results (or pruner: none)", config.metric)
    from trainlab.training import monitor_mode  # TensorFlow: loaded once the search file is checked

    mode = config.mode if config.mode != "auto" else monitor_mode(config.metric)
    return TuneSpec(config.name or name, config, space, base, base_dir, mode, recipe.tracking.mlflow)


def _check(base: dict[str, Any], values: dict[str, Any], key: str | None) -> Recipe:
    """The base with ``values`` set, validated as training would; a mistake is placed at ``space.<key>`` (or ``base``)."""
    from trainlab.training.prepare import load_recipe  # TensorFlow: only once the search file itself is valid

    try:
        recipe, _, _ = load_recipe(apply_overrides(base, values))
    except TrainlabError as exc:
        if key is None:
            raise exc.within("base") from None
        if exc.where != key and not exc.where.startswith(key + "."):
            raise TrainlabError(f"space.{key}", f"with value {values[key]!r}, the recipe fails: {exc}") from None
        raise exc.within("space") from None
    return recipe
