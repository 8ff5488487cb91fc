"""Train/validation/test splits and the feature scaling fitted on the training split."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from trainlab.data.preprocessing import Preprocessing
from trainlab.errors import TrainlabError


@dataclass(frozen=True, eq=False)
class Splits:
    """The data a run trains, validates and tests on, ready for a model.

    Inputs keep their shape ``(N, ...)``: tables ``(N, F)``, images ``(N, H, W, C)``,
    sequences ``(N, T)`` of token ids or ``(N, T, F)``. They are float32, standardized per
    feature (the last axis) with the training split's mean and std when
    ``preprocessing.mean`` is set, or int32 token ids, never standardized. Classification
    targets are int64 codes ``0..K-1`` of shape ``(N,)``; regression targets are float32
    ``(N,)`` for one target or ``(N, T)``. An empty split is None; so are absent sample weights.

    Attributes:
        task: "binary", "multiclass" or "regression".
        n_classes: the number of classes; None for regression.
        n_outputs: the width of the model's output layer: 1 for binary, the number
            of classes for multiclass, the number of targets for regression.
        feature_names: one name per feature (the last axis of the inputs).
        class_names: the original label of each code, as text; None for regression.
        source: the data source's name ("arrays" for :func:`trainlab.data.from_arrays`).
        preprocessing: what the inputs went through, fitted on the training split
            (written to the run directory as ``preprocessing.json``).
        w_train, w_val, w_test: per-sample weights (float32 ``(N,)``), or None.
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
    preprocessing: Preprocessing
    w_train: np.ndarray | None = None
    w_val: np.ndarray | None = None
    w_test: np.ndarray | None = None

    @property
    def input_shape(self) -> tuple[int, ...]:
        """One sample's shape (no batch axis)."""
        return tuple(int(d) for d in self.x_train.shape[1:])

    @property
    def input_dtype(self) -> str:
        """"float32", or "int32" for token ids."""
        return self.preprocessing.input_dtype

    @property
    def vocab_size(self) -> int | None:
        """For token ids, the largest id in any split + 1; None for float inputs."""
        if self.input_dtype != "int32":
            return None
        return 1 + max(int(x.max()) for x in (self.x_train, self.x_val, self.x_test) if x is not None and len(x))

    @property
    def n_features(self) -> int:
        """Numbers per sample (the product of :attr:`input_shape`)."""
        return int(np.prod(self.input_shape))

    @property
    def mean(self) -> np.ndarray | None:
        """Per-feature mean of the raw training split (float64), or None when not standardized."""
        return self.preprocessing.mean

    @property
    def std(self) -> np.ndarray | None:
        """Per-feature standard deviation (ddof 0) of the raw training split, 1 for constant features."""
        return self.preprocessing.std

    @property
    def standardized(self) -> bool:
        return self.preprocessing.standardized

    def transform(self, x: Any) -> np.ndarray:
        """Prepare new raw inputs as the splits were prepared (for predictions).

        Example:
            >>> probabilities = model.predict(splits.transform(new_rows))
        """
        return self.preprocessing.transform(x)

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
            "input_shape": list(self.input_shape),
            "input_dtype": self.input_dtype,
            "n_classes": self.n_classes,
            "n_outputs": self.n_outputs,
            "class_names": self.class_names,
            "standardized": self.standardized,
            "weighted": self.w_train is not None,
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
