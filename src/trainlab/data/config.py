"""The recipe's ``data:`` section.

Which keys a source takes is read from its loader's signature in
:data:`trainlab.data.sources` (a key applies to a source when the loader has a
parameter of that name), so a source registered later is configured the same way.
Setting a key that the chosen source does not take is an error, because a silently
ignored ``n_samples: 500`` next to ``source: digits`` hides a mistake.

Example (YAML)::

    data:
      source: synthetic_classification   # the tutorial's section 4
      n_samples: 1000
      n_features: 20
      validation_split: 0.2
"""

from __future__ import annotations

import os
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
from trainlab.data import augment
from trainlab.data import files, images, sequences  # noqa: F401  (register csv, npz, mnist, image_folder, synthetic_sequences)
from trainlab.data.sources import sources
from trainlab.data.targets import check_task_fits_source
from trainlab.errors import TrainlabError

Task = Literal["auto", "binary", "multiclass", "regression"]

#: Keys that apply to every source; all other fields are passed to the source's loader.
GENERAL_KEYS = frozenset(
    {"source", "task", "validation_split", "test_split", "stratify", "standardize", "seed", "augment"}
)

_WHERE = "data"


class DataConfig(BaseModel):
    """Where the data comes from, which task it poses, and how it is split and scaled.

    The defaults are the tutorial's section 4: ``make_classification(n_samples=1000,
    n_features=20, random_state=seed)``, 20% held out for validation, standardized
    with the training split's statistics.

    Splitting (see :func:`trainlab.data.load`): ``test_split`` is taken off the whole
    data first, then ``validation_split`` off the rest, both as fractions of the whole
    (rounded up, as scikit-learn does); classification splits are stratified unless
    ``stratify`` is false.

    Validation errors are :class:`~trainlab.errors.TrainlabError` naming the key path,
    the rule and the value; a value of the wrong type is pydantic's ``ValidationError``.
    """

    model_config = ConfigDict(extra="forbid")

    source: str = Field(
        "synthetic_classification",
        description="a name in trainlab.data.sources: synthetic_classification, synthetic_regression, "
        "digits, breast_cancer, wine, iris, diabetes, csv, npz, mnist, image_folder (and arrays, for from_arrays)",
    )
    task: Task = Field(
        "auto",
        description="auto infers it from the source or the target values (see trainlab.data); "
        "set it to override the inference for csv/npz data",
    )

    # Files (csv, npz, mnist) and folders (image_folder).
    path: str | None = Field(None, description="data file (image_folder: folder), relative to the recipe's folder")
    target: str | None = Field(None, description="csv: the target column's name; default: the last column")
    delimiter: str = Field(",", description="csv: the cell separator")
    categorical: Literal["auto"] | list[str] = Field(
        "auto", description="csv: the categorical feature columns, one-hot encoded: auto (the columns holding text) "
        "or a list of column names (a numeric column listed is categorical too, e.g. zip codes)",
    )
    missing: Literal["error", "mean", "median", "most_frequent"] = Field(
        "error", description="csv: what a missing feature cell (empty, NA, nan, ...) becomes: error refuses it; "
        "otherwise a numeric gap gets the training split's mean, median or most frequent value and a categorical "
        "gap the most frequent training category",
    )
    max_categories: int = Field(
        50, description="csv: the most frequent training categories kept per categorical column; the others, and "
        "values unseen in training, share one '<other>' column",
    )
    weight: str | None = Field(None, description="csv: a column of per-sample weights (numbers >= 0), not a feature")

    # Synthetic data (scikit-learn's make_classification / make_regression).
    n_samples: int = Field(1000, description="synthetic: number of samples")
    n_features: int = Field(20, description="synthetic: number of features")
    n_informative: int | None = Field(None, description="synthetic: informative features; None: scikit-learn's default")
    n_redundant: int | None = Field(
        None, description="synthetic_classification: redundant features; None: scikit-learn's default (2)"
    )
    n_classes: int = Field(2, description="synthetic_classification: number of classes")
    weights: list[float] | None = Field(
        None, description="synthetic_classification: class proportions (n_classes or n_classes - 1 values)"
    )
    flip_y: float | None = Field(
        None, description="synthetic_classification: fraction of labels flipped at random; None: 0.01"
    )
    noise: float = Field(
        0.0, description="synthetic_regression: the target noise's standard deviation; synthetic_sequences: the"
        " waves' noise (0: 0.5) or the share of wrong token motifs",
    )
    n_targets: int = Field(1, description="synthetic_regression: number of regression targets")

    # Sequences generated on the fly (synthetic_sequences).
    kind: Literal["waves", "tokens"] = Field(
        "waves", description="synthetic_sequences: noisy waves (N, T, 1) or token ids (N, T) with a motif per class"
    )
    length: int = Field(32, description="synthetic_sequences: steps per sequence")
    vocab_size: int = Field(50, description="synthetic_sequences (tokens): the number of token ids")

    # Images from a built-in source.
    images: bool = Field(False, description="digits: give the 8x8 images (N, 8, 8, 1) in [0, 1] instead of 64 pixels")

    # MNIST subsets.
    n_train: int | None = Field(None, description="mnist: use the first n_train training images (None: all)")
    n_test: int | None = Field(None, description="mnist: use the first n_test test images (None: all)")

    # Image folders.
    image_size: list[int] = Field(
        [64, 64], description="image_folder: [height, width] every image is resized to (bilinear)"
    )
    color: Literal["rgb", "grayscale"] = Field(
        "rgb", description="image_folder: rgb (3 channels) or grayscale (1 channel)"
    )

    seed: int | None = Field(
        None, description="the seed of the data's generation, splits and batch order; None: the recipe's seed "
        "(a study fixes it so its seeds vary the initial weights and dropout, not the data)",
    )

    # Splitting and scaling.
    validation_split: float = Field(0.2, description="fraction of the whole data held out for validation")
    test_split: float = Field(0.0, description="fraction of the whole data held out for testing")
    stratify: bool = Field(True, description="keep the class proportions in every split (classification)")
    standardize: bool = Field(True, description="scale features with the training split's mean and std")

    # Augmentation of the training batches.
    augment: list[str | dict[str, Any]] = Field(
        [], description="augmentations of the training batches, in order: names in trainlab.data.augment "
        "(random_flip, random_rotation, ..., gaussian_noise) or mappings {name: ..., **arguments}",
    )

    @field_validator("*", mode="before")
    @classmethod
    def _no_bool_for_number(cls, value: Any, info: ValidationInfo) -> Any:
        return reject_bool_for_number(cls, info.field_name, value)

    @field_validator("path", mode="before")
    @classmethod
    def _path_to_str(cls, value: Any) -> Any:
        return os.fspath(value) if isinstance(value, os.PathLike) else value

    @field_validator("image_size", mode="before")
    @classmethod
    def _image_size_pair(cls, value: Any) -> Any:
        return list(images.check_size(value))

    @field_validator("augment")
    @classmethod
    def _known_augmentations(cls, value: list[str | dict[str, Any]]) -> list[str | dict[str, Any]]:
        augment.check(value, f"{_WHERE}.augment")  # names, argument names and values; the shape needs the data
        return value

    @field_validator("categorical", mode="before")
    @classmethod
    def _categorical_names(cls, value: Any) -> Any:
        if isinstance(value, str) and value != "auto":
            raise TrainlabError(f"{_WHERE}.categorical", "must be 'auto' or a list of column names", value)
        if isinstance(value, (list, tuple)):
            for name in value:
                if not isinstance(name, str) or not name:
                    raise TrainlabError(f"{_WHERE}.categorical", "column names must be non-empty text", name)
            twice = sorted({name for name in value if value.count(name) > 1})
            if twice:
                raise TrainlabError(f"{_WHERE}.categorical", "lists a column twice", twice[0])
        return value

    @field_validator("source")
    @classmethod
    def _canonical_source(cls, value: str) -> str:
        return sources.canonical(value, f"{_WHERE}.source")

    @model_validator(mode="after")
    def _check(self) -> DataConfig:
        self._check_keys_apply()
        self._check_splits()
        self._check_synthetic()
        self._check_files()
        check_task_fits_source(self.source, self.task, self.n_classes if "n_classes" in self.source_keys() else None)
        return self

    @model_serializer(mode="wrap")
    def _dump_resolved(self, handler: Any) -> dict[str, Any]:
        # The resolved section shows only the keys the chosen source uses.
        data = handler(self)
        applies = self.source_keys()
        return {k: v for k, v in data.items() if k in GENERAL_KEYS or k in applies}

    def source_keys(self) -> set[str]:
        """The keys of this model that the chosen source's loader takes."""
        entry = sources.entry(self.source, f"{_WHERE}.source")
        if entry.accepts_any_keyword():
            return set(type(self).model_fields) - GENERAL_KEYS
        return set(entry.parameters()) & (set(type(self).model_fields) - GENERAL_KEYS)

    def source_arguments(self) -> dict[str, Any]:
        """The keyword arguments for the source's loader (explicit keys only for ``**kwargs`` loaders)."""
        entry = sources.entry(self.source, f"{_WHERE}.source")
        keys = self.source_keys()
        if entry.accepts_any_keyword():
            keys &= self.model_fields_set
        return {k: getattr(self, k) for k in sorted(keys)}

    # -- checks -------------------------------------------------------------------------

    def _check_keys_apply(self) -> None:
        applies = self.source_keys()
        for key in type(self).model_fields:  # in declaration order, for a stable first error
            if key in self.model_fields_set and key not in GENERAL_KEYS and key not in applies:
                raise TrainlabError(
                    f"{_WHERE}.{key}",
                    f"does not apply to data source {self.source!r} (its keys: {', '.join(sorted(applies)) or 'none'});"
                    " remove it",
                    getattr(self, key),
                )
        entry = sources.entry(self.source)
        for name, param in entry.parameters().items():
            if name in applies and param.default is param.empty and getattr(self, name) is None:
                raise TrainlabError(f"{_WHERE}.{name}", f"is required for data source {self.source!r}")

    def _check_splits(self) -> None:
        for key in ("validation_split", "test_split"):
            value = getattr(self, key)
            if not 0.0 <= value < 1.0:  # also catches NaN
                raise TrainlabError(f"{_WHERE}.{key}", "must be in [0, 1)", value)
        if self.validation_split + self.test_split >= 1.0:
            raise TrainlabError(
                f"{_WHERE}.test_split",
                f"validation_split + test_split must be < 1 to leave data for training;"
                f" validation_split is {self.validation_split}",
                self.test_split,
            )

    def _check_synthetic(self) -> None:
        _at_least("n_samples", self.n_samples, 10)
        _at_least("n_features", self.n_features, 1)
        _at_least("n_classes", self.n_classes, 2)
        _at_least("n_targets", self.n_targets, 1)
        _at_least("length", self.length, 8)
        if "kind" in self.source_keys() and self.noise > 1.0 and self.kind == "tokens":
            raise TrainlabError(f"{_WHERE}.noise", "is the share of wrong motifs for kind: tokens; must be <= 1",
                                self.noise)
        for key, low in (("n_informative", 1), ("n_redundant", 0), ("n_train", 1), ("n_test", 1)):
            if getattr(self, key) is not None:
                _at_least(key, getattr(self, key), low)
        if not self.noise >= 0.0:
            raise TrainlabError(f"{_WHERE}.noise", "must be >= 0", self.noise)
        if self.flip_y is not None and not 0.0 <= self.flip_y <= 1.0:
            raise TrainlabError(f"{_WHERE}.flip_y", "must be in [0, 1]", self.flip_y)
        applies = self.source_keys()
        if "n_redundant" in applies:
            self._check_classification_shape()
        elif "n_informative" in applies and self.n_informative is not None and self.n_informative > self.n_features:
            raise TrainlabError(
                f"{_WHERE}.n_informative", f"must be <= n_features ({self.n_features})", self.n_informative
            )

    def _check_classification_shape(self) -> None:
        # make_classification's own constraints, checked here to name the keys.
        informative = 2 if self.n_informative is None else self.n_informative
        redundant = 2 if self.n_redundant is None else self.n_redundant
        if informative + redundant > self.n_features:
            defaults = " (None means scikit-learn's default, 2)" if None in (self.n_informative, self.n_redundant) else ""
            raise TrainlabError(
                f"{_WHERE}.n_features",
                f"must be >= n_informative + n_redundant = {informative} + {redundant}{defaults}",
                self.n_features,
            )
        if self.n_classes * 2 > 2**informative:
            raise TrainlabError(
                f"{_WHERE}.n_classes",
                f"make_classification needs n_classes * 2 (clusters per class) <= 2 ** n_informative"
                f" = {2**informative}; raise data.n_informative",
                self.n_classes,
            )
        if self.weights is not None:
            if len(self.weights) not in (self.n_classes, self.n_classes - 1):
                raise TrainlabError(
                    f"{_WHERE}.weights",
                    f"needs n_classes ({self.n_classes}) or n_classes - 1 values",
                    self.weights,
                )
            if any(not 0.0 <= w <= 1.0 for w in self.weights):
                raise TrainlabError(f"{_WHERE}.weights", "every proportion must be in [0, 1]", self.weights)

    def _check_files(self) -> None:
        if "delimiter" in self.source_keys() and len(self.delimiter) != 1:
            raise TrainlabError(f"{_WHERE}.delimiter", "must be one character", self.delimiter)
        _at_least("max_categories", self.max_categories, 1)
        if self.weight is not None and self.weight == self.target:
            raise TrainlabError(f"{_WHERE}.weight", "must be another column than the target (data.target)", self.weight)


def _at_least(key: str, value: int, low: int) -> None:
    if value < low:
        raise TrainlabError(f"{_WHERE}.{key}", f"must be >= {low}", value)

