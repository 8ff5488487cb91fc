"""Train/validation/test splits and the feature scaling fitted on the training split."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from trainlab.errors import TrainlabError


@dataclass(frozen=True, eq=False)
class Splits:
    """The data a run trains, validates and tests on, ready for a model.

    Features are float32 ``(N, n_features)`` (images flattened), standardized with
    the training split's mean and std when ``mean`` is set. Classification targets
    are int64 codes ``0..K-1`` of shape ``(N,)``; regression targets are float32
    ``(N,)`` for one target or ``(N, T)``. An empty split is None.

    Attributes:
        task: "binary", "multiclass" or "regression".
        n_classes: the number of classes; None for regression.
        n_outputs: the width of the model's output layer: 1 for binary, the number
            of classes for multiclass, the number of targets for regression.
        feature_names: one name per feature column.
        class_names: the original label of each code, as text; None for regression.
        source: the data source's name ("arrays" for :func:`trainlab.data.from_arrays`).
        mean: per-feature mean of the raw training split (float64), or None when
            the features are not standardized.
        std: per-feature standard deviation (ddof 0) of the raw training split,
            with 1 for constant features; None when not standardized.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray | None
    y_val: np.ndarray | None
    x_test: np.ndarray | None
    y_test: np.ndarray | None
    task: str
    n_classes: int | None
    n_outputs: int
    feature_names: list[str]
    class_names: list[str] | None
    source: str
    mean: np.ndarray | None = None
    std: np.ndarray | None = None

    @property
    def n_features(self) -> int:
        return int(self.x_train.shape[1])

    @property
    def standardized(self) -> bool:
        return self.mean is not None

    def transform(self, x: Any) -> np.ndarray:
        """Scale new raw features as the splits were scaled (for predictions).

        Example:
            >>> probabilities = model.predict(splits.transform(new_rows))
        """
        return scale(np.asarray(x, dtype=np.float64).reshape(len(x), -1), self.mean, self.std)

    def describe(self) -> dict[str, Any]:
        """A JSON-ready summary for reports: sizes and class counts of each split.

        Example:
            >>> splits.describe()["splits"]["train"]
            {'n': 800, 'class_counts': {'0': 401, '1': 399}}
        """
        return {
            "source": self.source,
            "task": self.task,
            "n_features": self.n_features,
            "n_classes": self.n_classes,
            "n_outputs": self.n_outputs,
            "class_names": self.class_names,
            "standardized": self.standardized,
            "splits": {
                "train": self._summary(self.y_train),
                "val": self._summary(self.y_val),
                "test": self._summary(self.y_test),
            },
        }

    def _summary(self, y: np.ndarray | None) -> dict[str, Any]:
        summary: dict[str, Any] = {"n": 0 if y is None else int(len(y))}
        if self.class_names is not None:
            counts = np.zeros(len(self.class_names), dtype=np.int64) if y is None else np.bincount(
                y, minlength=len(self.class_names)
            )
            summary["class_counts"] = {name: int(c) for name, c in zip(self.class_names, counts, strict=True)}
        return summary


def split_indices(
    n: int,
    validation_split: float,
    test_split: float,
    seed: int,
    labels: np.ndarray | None = None,
    class_names: Sequence[str] | None = None,
    origin: str = "data",
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Split ``range(n)`` into training, validation and test indices.

    The test split is taken off the whole first, then the validation split off the
    rest; both sizes are fractions of the whole ``n``, rounded up as scikit-learn
    rounds a float ``test_size``. Each step is ``train_test_split(...,
    random_state=seed, stratify=labels)``, so with ``test_split == 0`` the split is
    exactly ``train_test_split(x, y, test_size=validation_split, random_state=seed,
    stratify=y)``.

    Args:
        n: the number of samples.
        validation_split: fraction of ``n`` for validation (0: no validation split).
        test_split: fraction of ``n`` for testing (0: no test split).
        seed: the random state of both splits.
        labels: class codes to stratify by; None: a plain shuffled split.
        class_names: the codes' names, for messages.
        origin: where the data comes from, for messages.

    Returns:
        ``(train, val, test)`` index arrays; val and test are None when empty.

    Raises:
        TrainlabError: a split would be smaller than one sample (one per class
            when stratified), or a class has fewer than 2 samples to stratify.
    """
    n_test = math.ceil(test_split * n) if test_split > 0 else 0
    n_val = math.ceil(validation_split * n) if validation_split > 0 else 0
    if n_test == 0 and n_val == 0:
        return np.arange(n), None, None
    _check_sizes(n, n_val, n_test, validation_split, test_split, labels, origin)
    if labels is not None:
        _check_class_sizes(labels, class_names, origin)
    try:
        rest, test = _split(np.arange(n), n_test, seed, labels)
        train, val = _split(rest, n_val, seed, None if labels is None else labels[rest])
    except ValueError as exc:  # a stratified split scikit-learn cannot make
        raise TrainlabError(
            origin, "cannot make this stratified split; use more data or set data.stratify: false", str(exc)
        ) from exc
    return train, val, test


def _split(
    indices: np.ndarray, size: int, seed: int, labels: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray | None]:
    if size == 0:
        return indices, None
    from sklearn.model_selection import train_test_split  # noqa: PLC0415 (loaded when data is split)

    kept, taken = train_test_split(indices, test_size=size, random_state=seed, stratify=labels)
    return kept, taken


def _check_sizes(
    n: int, n_val: int, n_test: int, validation_split: float, test_split: float, labels: np.ndarray | None, origin: str
) -> None:
    need = 1 if labels is None else int(labels.max()) + 1
    n_train = n - n_val - n_test
    if n_train < need or 0 < n_val < need or 0 < n_test < need:
        each = "at least one sample" if labels is None else f"at least {need} samples (one per class, stratified)"
        raise TrainlabError(
            origin,
            f"too few samples for the split (validation_split {validation_split}, test_split {test_split}):"
            f" they give {n_train} training, {n_val} validation and {n_test} test samples, and each split needs"
            f" {each}; samples in the data",
            n,
        )


def _check_class_sizes(labels: np.ndarray, class_names: Sequence[str] | None, origin: str) -> None:
    counts = np.bincount(labels)
    names = list(class_names) if class_names is not None else [str(i) for i in range(len(counts))]
    rare = {names[i]: int(c) for i, c in enumerate(counts) if c < 2}
    if rare:
        raise TrainlabError(
            origin,
            "a stratified split needs at least 2 samples of every class (or set data.stratify: false);"
            " classes with fewer",
            rare,
        )


def fit_scaler(x_train: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the per-feature mean and std (ddof 0) of ``x_train``; std 1 for constant features.

    The same statistics as scikit-learn's ``StandardScaler().fit(x_train)``
    (``mean_``, ``scale_``).
    """
    x = np.asarray(x_train, dtype=np.float64)
    mean = x.mean(axis=0)
    std = x.std(axis=0)
    std[(std == 0) | (x == x[:1]).all(axis=0)] = 1.0  # constant columns: rounding can leave a tiny std
    return mean, std


def scale(x: np.ndarray, mean: np.ndarray | None, std: np.ndarray | None) -> np.ndarray:
    """Return ``(x - mean) / std`` as float32, or ``x`` as float32 when there is no scaler."""
    if mean is None or std is None:
        return x.astype(np.float32)
    return ((x - mean) / std).astype(np.float32)
