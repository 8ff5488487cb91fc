"""The recipe: pydantic models, one per section, unknown keys forbidden.

Defaults reproduce the tutorial's basic training loop (section 4): 1000 synthetic
samples with 20 features, an MLP 64-32 with dropout 0.2 after the first layer,
Adam at 1e-3, binary cross-entropy, batch 32, 100 epochs. ``auto`` values (the
loss, the metrics, the output layer) are resolved against the data by
:func:`trainlab.training.prepare.resolve` and written back into the run's
``recipe.yaml``, so a run directory's recipe re-runs as is.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_serializer,
    model_validator,
)

from trainlab.checks import reject_bool_for_number
from trainlab.config.loading import apply_overrides, read_yaml, validate
from trainlab.data.config import DataConfig
from trainlab.config.tracking import TrackingConfig
from trainlab.errors import TrainlabError, did_you_mean


class Section(BaseModel):
    """Base of every recipe section: unknown keys are errors, values are checked on assignment."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    @field_validator("*", mode="before")
    @classmethod
    def _no_bool_for_number(cls, value: Any, info: ValidationInfo) -> Any:
        return reject_bool_for_number(cls, info.field_name, value)


class RegularizerConfig(Section):
    l1: float = Field(0.0, ge=0.0, description="L1 factor on hidden kernels")
    l2: float = Field(0.0, ge=0.0, description="L2 factor on hidden kernels")


class ModelConfig(Section):
    """The model: a builder's name (:data:`trainlab.models.registry`) and its keys.

    Which keys a model takes is read from its builder's signature (a key applies to a model
    when the builder has a parameter of that name, less the data's arguments), so a model
    registered later is configured the same way, its own keys included. Setting a key the
    chosen model does not take is an error, because a silently ignored ``filters: [64]``
    next to ``name: mlp`` hides a mistake. Keys left out take the builder's defaults, written
    out in the run's ``recipe.yaml``; the MLP's ``dropout`` default is the tutorial's (0.2
    after the first hidden layer). A dump holds the keys of the chosen model only.
    """

    model_config = ConfigDict(extra="allow", validate_assignment=True)

    name: str = Field("mlp", description="model builder (trainlab.models.registry): mlp, cnn, rnn, transformer")
    # mlp (and cnn: activation, batch_norm, kernel_regularizer, kernel_initializer)
    hidden: list[int] | None = Field(default_factory=lambda: [64, 32], description="mlp: units per hidden layer")
    activation: str | None = Field("relu", description="the activation of the hidden, conv and dense layers")
    dropout: float | list[float] | None = Field(
        None, description="None: the model's default (mlp: the tutorial's 0.2 after the first hidden layer)"
    )
    batch_norm: bool | None = False
    kernel_regularizer: RegularizerConfig | None = Field(default_factory=RegularizerConfig)
    kernel_initializer: str | None = "glorot_uniform"
    output: Literal["auto", "sigmoid", "softmax", "linear", "logits"] = "auto"
    # cnn
    filters: list[int] | None = Field(default_factory=lambda: [32, 64], description="cnn: filters per conv block")
    kernel_size: int | None = Field(3, gt=0, description="cnn: the convolutions' kernel size")
    pool: Literal["max", "avg", "none"] | None = Field("max", description="cnn: 2x2 pooling after each block")
    global_pool: bool | None = Field(True, description="cnn: average the feature maps (false: flatten them)")
    dense: list[int] | None = Field(None, description="cnn, rnn, transformer: units per dense layer; None: the model's")
    # rnn
    cell: Literal["lstm", "gru"] | None = Field("lstm", description="rnn: the recurrent layer")
    units: list[int] | None = Field(default_factory=lambda: [64], description="rnn: units per recurrent layer")
    bidirectional: bool | None = Field(False, description="rnn: read sequences both ways")
    embedding_dim: int | None = Field(32, gt=0, description="rnn: token embedding size (token ids)")
    # transformer
    dim: int | None = Field(64, gt=0, description="transformer: width of the token vectors")
    layers: int | None = Field(2, gt=0, description="transformer: encoder blocks")
    heads: int | None = Field(4, gt=0, description="transformer: attention heads (must divide dim)")
    ff_dim: int | None = Field(128, gt=0, description="transformer: feed-forward width")
    pooling: Literal["mean", "max", "first"] | None = Field("mean", description="transformer: sequence pooling")

    @field_validator("name")
    @classmethod
    def _canonical_name(cls, name: str) -> str:
        return _models().registry.canonical(name, "model.name")

    @field_validator("hidden", "filters", "units", "dense")
    @classmethod
    def _positive_units(cls, units: list[int] | None) -> list[int] | None:
        for width in units or []:
            if width <= 0:
                raise ValueError(f"every layer needs > 0 units, got {width}")
        return units

    @field_validator("filters", "units")
    @classmethod
    def _one_layer(cls, units: list[int] | None) -> list[int] | None:
        if units is not None and not units:  # a cnn needs a conv block, an rnn a recurrent layer
            raise ValueError(f"needs at least 1 layer, got {units}")
        return units

    @field_validator("dropout")
    @classmethod
    def _rates(cls, dropout: float | list[float] | None) -> float | list[float] | None:
        for rate in [] if dropout is None else [dropout] if isinstance(dropout, (int, float)) else dropout:
            if not 0.0 <= rate < 1.0:
                raise ValueError(f"dropout rates must be in [0, 1), got {rate}")
        return dropout

    @model_validator(mode="after")
    def _fit_the_model(self) -> ModelConfig:
        self._check_keys_apply()
        self._fill_defaults()
        self._check_transformer()
        self._check_dropout_per_layer()
        return self

    @model_serializer(mode="wrap")
    def _dump_resolved(self, handler: Any) -> dict[str, Any]:
        # The resolved section shows only the keys the chosen model takes (as DataConfig does for sources),
        # in the builder's order.
        data = handler(self)
        return {k: data[k] for k in ("name", *self.model_keys()) if k in data}

    def model_keys(self) -> list[str]:
        """The keys of this section that the chosen model's builder takes (``name`` aside), in its order."""
        keys = _models().recipe_keys(self.name)
        if _models().accepts_any_key(self.name):  # its named keys, and every other key the recipe sets
            keys += [k for k in (*type(self).model_fields, *(self.model_extra or {}))
                     if k in self.model_fields_set and k not in keys and k != "name"]
        return keys

    def builder_arguments(self) -> dict[str, Any]:
        """The keyword arguments for the builder (its keys; the data's arguments are added by the caller).

        Example:
            >>> ModelConfig(name="cnn", filters=[16]).builder_arguments()["filters"]
            [16]
        """
        return {k: v for k, v in self.model_dump().items() if k != "name"}

    # -- checks -------------------------------------------------------------------------

    def _check_keys_apply(self) -> None:
        models = _models()
        keys = models.recipe_keys(self.name)
        any_key = models.accepts_any_key(self.name)
        for key in type(self).model_fields:  # in declaration order, for a stable first error
            if key in self.model_fields_set and key != "name" and key not in keys and not any_key:
                raise TrainlabError(
                    f"model.{key}",
                    f"does not apply to model {self.name!r} (its keys: {', '.join(keys) or 'none'}); remove it",
                    getattr(self, key),
                )
        for key in self.model_extra or {}:
            if key in models.DATA_ARGUMENTS:
                raise TrainlabError(f"model.{key}", "is given by the data, not the recipe; remove it")
            if key not in keys and not any_key:
                valid = ["name", *keys]
                raise TrainlabError(
                    f"model.{key}",
                    f"unknown key{did_you_mean(key, valid)}; valid keys for model {self.name!r}: {', '.join(valid)}",
                )
        defaults = models.recipe_defaults(self.name)
        for key in keys:
            if key not in defaults and key not in self.model_fields_set and key not in (self.model_extra or {}):
                raise TrainlabError(f"model.{key}", f"is required by model {self.name!r}")

    def _fill_defaults(self) -> None:
        # Keys left out take the builder's defaults (one source of truth); keys of other models are cleared.
        keys, defaults = set(_models().recipe_keys(self.name)), _models().recipe_defaults(self.name)
        for key in type(self).model_fields:
            if key in self.model_fields_set or key in ("name", "output"):
                continue
            value = _field_value(key, defaults.get(key)) if key in keys else None
            object.__setattr__(self, key, value)
        if self.name == "mlp" and "dropout" not in self.model_fields_set:
            # The tutorial's dropout follows the layers: 0.2 after the first, none after the others.
            object.__setattr__(self, "dropout", [0.2] + [0.0] * (len(self.hidden) - 1) if self.hidden else 0.0)

    def _check_dropout_per_layer(self) -> None:
        if not isinstance(self.dropout, list):
            return
        keys = _models().recipe_keys(self.name)
        follows = next((k for k in ("hidden", "dense") if k in keys), None)
        layers = getattr(self, follows) if follows else None
        if layers is not None and len(self.dropout) != len(layers):
            kind = "hidden layer" if follows == "hidden" else "dense layer"
            raise TrainlabError(
                "model.dropout", f"needs one rate per {kind} ({len(layers)}) or a single number", self.dropout
            )

    def _check_transformer(self) -> None:
        # The transformer builder's own rules, checked here too so that `trainlab check` finds them.
        if self.name != "transformer":
            return
        if self.dim % self.heads:
            raise TrainlabError("model.heads", f"must divide model.dim ({self.dim})", self.heads)
        if isinstance(self.dropout, list):
            raise TrainlabError(
                "model.dropout", "the transformer takes one rate, for its blocks and dense layers", self.dropout
            )


def _field_value(key: str, default: Any) -> Any:
    """A builder's default in the form of the recipe's field (tuples as lists, no regularizer as zero factors)."""
    if key == "kernel_regularizer" and default is None:
        return RegularizerConfig()
    return list(default) if isinstance(default, tuple) else default


def _models() -> Any:
    # The models' registry says which keys a model takes. Imported when a model section is validated,
    # not when the config package is: it loads Keras and TensorFlow, which the readers of a run
    # directory (show, report) never need.
    import trainlab.models  # noqa: PLC0415

    return trainlab.models


class OptimizerConfig(Section):
    """``name`` and ``learning_rate`` plus any argument of the chosen optimizer (checked by name)."""

    model_config = ConfigDict(extra="allow", validate_assignment=True)

    name: str = "adam"
    learning_rate: float | dict[str, Any] = 0.001
    clip_norm: float | None = Field(None, gt=0, description="clip each gradient tensor to this norm")
    global_clip_norm: float | None = Field(None, gt=0, description="clip all gradients to this global norm")
    clip_value: float | None = Field(None, gt=0, description="clip each gradient element to +-value")

    @field_validator("learning_rate", mode="before")
    @classmethod
    def _positive(cls, lr: Any) -> Any:
        # Before coercion, so the message shows the value as written (0, not 0.0); catches NaN too.
        if isinstance(lr, (int, float)) and not isinstance(lr, bool) and not lr > 0:
            raise ValueError(f"must be > 0, got {lr}")
        return lr

    @model_validator(mode="after")
    def _one_clip(self) -> OptimizerConfig:
        # Keras takes one of clipnorm, global_clipnorm and clipvalue; it rejects two at once.
        clips = {k: getattr(self, k) for k in ("clip_norm", "global_clip_norm", "clip_value")}
        first, second, *_ = [k for k, v in clips.items() if v is not None] + [None, None]
        if second is not None:
            raise ValueError(
                f"set {first} or {second}, not both (Keras clips gradients one way),"
                f" got {first}={clips[first]} and {second}={clips[second]}"
            )
        return self

    def spec(self) -> dict[str, Any]:
        """The mapping :func:`trainlab.optimizers.build` takes."""
        return {k: v for k, v in self.model_dump().items() if v is not None}


class EarlyStoppingConfig(Section):
    monitor: str = "val_loss"
    patience: int = Field(15, ge=0)
    min_delta: float = Field(0.0, ge=0.0)
    mode: Literal["auto", "min", "max"] = "auto"
    restore_best_weights: bool = True
    start_from_epoch: int = Field(0, ge=0)


class PlateauConfig(Section):
    monitor: str = "val_loss"
    factor: float = Field(0.5, gt=0.0, lt=1.0)
    patience: int = Field(5, ge=0)
    min_lr: float = Field(0.0, ge=0.0)
    min_delta: float = Field(1e-4, ge=0.0)
    cooldown: int = Field(0, ge=0)
    mode: Literal["auto", "min", "max"] = "auto"


class TensorBoardConfig(Section):
    enabled: bool = True
    histogram_freq: int = Field(0, ge=0, description="weight histograms every N epochs (0: none)")
    steps: bool = Field(True, description="per-step loss, gradient norm and learning rate scalars")


class CheckpointConfig(Section):
    enabled: bool = True
    every_steps: int | None = Field(
        None, gt=0, description="also checkpoint every N batches (None: at epoch ends only)"
    )
    keep: int = Field(3, gt=0, description="how many checkpoints to keep (the newest)")


class RollbackConfig(Section):
    lr_factor: float = Field(0.5, gt=0.0, lt=1.0, description="multiply the learning rate by this on a rollback")
    max_rollbacks: int = Field(5, ge=0, description="give up (status failed) after this many rollbacks")


class ProfileConfig(Section):
    epoch: int = Field(2, gt=0, description="the epoch (1-based) to trace with TensorFlow's profiler (default the"
                       " second: the first also traces and compiles the programs)")


def _batch_limit(value: Any) -> Any:
    """A batch limit: a count (a whole number >= 1) or a fraction of the batches (0 < f <= 1.0)."""
    if value is None or isinstance(value, bool):
        return value  # (a bool is refused by Section's check, with its usual message)
    if isinstance(value, int):
        if value < 1:
            raise ValueError(f"a count of batches must be >= 1 (or a fraction 0 < f <= 1.0), got {value}")
    elif isinstance(value, float) and not 0.0 < value <= 1.0:
        raise ValueError(f"must be a count of batches (a whole number >= 1) or a fraction 0 < f <= 1.0, got {value}")
    return value


#: ``training.precision``: the Keras dtype policies a recipe can train in.
PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")
_PRECISION_ALIASES = {
    "16": "mixed_float16", "16-mixed": "mixed_float16", "fp16": "mixed_float16", "float16": "mixed_float16",
    "mixed-float16": "mixed_float16", "bf16": "mixed_bfloat16", "bf16-mixed": "mixed_bfloat16",
    "bfloat16": "mixed_bfloat16", "32": "float32", "32-true": "float32", "fp32": "float32",
}


class TrainingConfig(Section):
    epochs: int = Field(100, gt=0)
    batch_size: int = Field(32, gt=0)
    shuffle: bool = True
    validation_freq: int = Field(1, gt=0, description="validate every N epochs (and at the last)")
    early_stopping: EarlyStoppingConfig | None = None
    reduce_lr_on_plateau: PlateauConfig | None = None
    tensorboard: TensorBoardConfig | bool = Field(default_factory=TensorBoardConfig)
    callbacks: list[str | dict[str, Any]] = Field(
        default_factory=list, description="stock Keras callbacks by name (trainlab.callbacks.registry)"
    )
    jit_compile: bool = Field(False, description="compile the epoch with XLA")
    threads: int | None = Field(
        None, gt=0, description="TensorFlow's intra- and inter-op threads (None: TensorFlow's default)"
    )
    eval_batch_size: int | None = Field(None, gt=0)
    train_eval_samples: int = Field(
        2048, ge=0, description="re-evaluate up to N training samples in inference mode each epoch (0: off)"
    )
    verbose: int = Field(1, ge=0, le=2, description="0 silent, 1 progress bar, 2 one line per epoch")
    checkpoint: CheckpointConfig | bool = Field(
        default_factory=CheckpointConfig, description="checkpoints of the whole training state, for resume"
    )
    on_nonfinite: Literal["rollback", "stop"] = Field(
        "rollback", description="on a NaN/inf loss or gradient: roll back to the last good state, or stop"
    )
    rollback: RollbackConfig = Field(default_factory=RollbackConfig)
    distribute: Literal["none", "mirrored", "multi_worker"] = Field(
        "none", description="data-parallel training: mirrored (this machine's GPUs or CPU devices) or multi_worker"
        " (several hosts, TF_CONFIG); see docs/distributed.md",
    )
    distribute_timeout_s: float = Field(
        60.0, gt=0, description="multi_worker: how long to wait for every worker of TF_CONFIG's cluster to start",
    )
    precision: Literal["float32", "mixed_float16", "mixed_bfloat16"] = Field(
        "float32", description="the Keras dtype policy the recipe's model is built under: float32, or mixed_float16"
        " (float16 compute, float32 weights, dynamic loss scaling) or mixed_bfloat16 (bfloat16 compute, float32"
        " weights); a model given from Python trains in the policy it was built with",
    )
    accumulate_grad_batches: int = Field(
        1, gt=0, description="batches per optimizer step: their mean gradient is applied once (1: every batch)",
    )
    class_weight: Literal["balanced"] | dict[str | int, float] | None = Field(
        None, description="weigh the training loss by class (classification): balanced (n_samples / (n_classes x"
        " count) on the training split, scikit-learn's rule) or {class name or code: weight}, others 1; as Keras'"
        " fit(class_weight=...), training samples only (times their sample weights)",
    )
    fast_dev_run: bool = Field(
        False, description="a sanity run: 1 epoch of 2 training and 2 validation batches through every code path"
        " (sets epochs, limit_train_batches, limit_val_batches in the resolved recipe)",
    )
    limit_train_batches: int | float | None = Field(
        None, description="train on the first N batches of each epoch's order (a count), or a fraction of them"
        " (0 < f <= 1.0); schedules count the limited steps per epoch",
    )
    limit_val_batches: int | float | None = Field(
        None, description="validate on the first N batches of the validation split (batches of eval_batch_size), or a"
        " fraction of them",
    )
    overfit_batches: int | None = Field(
        None, gt=0, description="train on the same N batches every epoch (the first N x batch_size training samples,"
        " unshuffled) and validate on them too; the diagnosis names a run that cannot drive that loss near zero",
    )
    profile: ProfileConfig | None = Field(
        None, description="trace one epoch with TensorFlow's profiler into tensorboard/plugins/profile",
    )

    @field_validator("tensorboard")
    @classmethod
    def _tensorboard_flag(cls, value: TensorBoardConfig | bool) -> TensorBoardConfig:
        return TensorBoardConfig(enabled=value) if isinstance(value, bool) else value

    @field_validator("checkpoint")
    @classmethod
    def _checkpoint_flag(cls, value: CheckpointConfig | bool) -> CheckpointConfig:
        return CheckpointConfig(enabled=value) if isinstance(value, bool) else value

    @field_validator("precision", mode="before")
    @classmethod
    def _precision_name(cls, value: Any) -> Any:
        # Lightning's and fastai's names for the same policies, and near misses, get a suggestion.
        if isinstance(value, str) and value not in PRECISIONS:
            hint = _PRECISION_ALIASES.get(value.lower().replace("_", "-"))
            hint = f" (did you mean {hint!r}?)" if hint else did_you_mean(value, PRECISIONS)
            listed = f"{', '.join(map(repr, PRECISIONS[:-1]))} or {PRECISIONS[-1]!r}"  # as the Literal's own error
            raise ValueError(f"must be one of {listed}{hint}, got {value!r}")
        return value

    @field_validator("class_weight", mode="before")
    @classmethod
    def _class_weights(cls, value: Any) -> Any:
        for key, weight in (value.items() if isinstance(value, Mapping) else ()):
            if isinstance(weight, bool) or (isinstance(weight, (int, float)) and not 0 <= weight < float("inf")):
                raise ValueError(f"the weight of class {key!r} must be a finite number >= 0, got {weight!r}")
        return value

    @field_validator("limit_train_batches", "limit_val_batches", mode="before")
    @classmethod
    def _limits(cls, value: Any) -> Any:
        return _batch_limit(value)

    @model_validator(mode="after")
    def _sanity_modes(self) -> TrainingConfig:
        if self.overfit_batches is not None and not self.fast_dev_run:
            for key in ("limit_train_batches", "limit_val_batches"):
                if getattr(self, key) is not None:
                    raise TrainlabError(f"training.{key}", "does not combine with training.overfit_batches (which"
                                        " trains and validates on its own fixed batches); remove one",
                                        getattr(self, key))
        if self.profile is not None and not self.fast_dev_run and self.profile.epoch > self.epochs:
            raise TrainlabError("training.profile.epoch", f"must be <= training.epochs ({self.epochs})",
                                self.profile.epoch)
        return self

    @model_validator(mode="after")
    def _one_device_jit(self) -> TrainingConfig:
        if self.jit_compile and self.distribute != "none":
            raise TrainlabError(
                "training.jit_compile", f"compiles the epoch for one device; turn it off with training.distribute:"
                f" {self.distribute}", True,
            )
        return self


class Recipe(Section):
    """A whole training recipe. See ``docs/recipes.md`` for every key."""

    name: str | None = Field(None, description="run name (default: the recipe file's name)")
    seed: int = 42
    deterministic: bool = Field(False, description="turn on TensorFlow's op determinism")
    data: DataConfig = Field(default_factory=DataConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    loss: str | dict[str, Any] = "auto"
    optimizer: OptimizerConfig = Field(default_factory=OptimizerConfig)
    training: TrainingConfig = Field(default_factory=TrainingConfig)
    metrics: Literal["auto"] | list[str] = "auto"
    tracking: TrackingConfig = Field(default_factory=TrackingConfig, description="experiment tracking (MLflow)")

    @field_validator("optimizer", mode="before")
    @classmethod
    def _optimizer_name(cls, value: Any) -> Any:
        return {"name": value} if isinstance(value, str) else value


def load_recipe(
    recipe: str | Path | Mapping[str, Any] | Recipe | None = None,
    overrides: Mapping[str, Any] | Iterable[str] | None = None,
) -> tuple[Recipe, Path | None, str]:
    """Load and validate a recipe from a file, a mapping or an object, with overrides.

    Only the recipe's shape and values are checked here (pydantic); the components it names
    (losses, optimizers, callbacks, ...) are checked by :func:`trainlab.training.prepare.load_recipe`,
    which training and ``trainlab check`` use.

    Returns:
        ``(recipe, base_dir, name)``: the validated recipe, the folder relative data
        paths resolve against (the recipe file's folder), and the default run name.

    Raises:
        TrainlabError: any problem, worded ``<file or key>: <rule>, got <value>``.
    """
    base_dir: Path | None = None
    name = "run"
    if isinstance(recipe, Recipe):
        data = recipe.model_dump()
    elif recipe is None:
        data = {}
    elif isinstance(recipe, Mapping):
        data = dict(recipe)
    elif isinstance(recipe, (str, Path)):
        path = Path(recipe)
        data = read_yaml(path)
        base_dir, name = path.parent, path.stem
    else:
        raise TrainlabError("recipe", "must be a YAML path, a mapping or a Recipe", type(recipe).__name__)
    if overrides:
        data = apply_overrides(data, overrides)
    source = str(recipe) if isinstance(recipe, (str, Path)) else None
    validated = validate(Recipe, data, source)
    return validated, base_dir, validated.name or name
