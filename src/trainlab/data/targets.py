"""Which task the target poses, and the target in the form a model trains on.

Task inference (``data.task: auto``), for a source that does not say what it gives
(csv, npz, the Python API's arrays):

- classification when the target is text or boolean, or holds integer values only
  (``3`` or ``3.0``) with at most :data:`MAX_INFERRED_CLASSES` distinct values;
- regression otherwise: numbers with a fractional part, more than
  :data:`MAX_INFERRED_CLASSES` distinct integers, or several target columns.

Classification then becomes ``binary`` with 2 classes and ``multiclass`` with more.
``data.task`` overrides the inference (say ``regression`` for an integer count).

Class labels are encoded as ``0..K-1`` in the sorted order of their original values
(numbers numerically, text alphabetically); ``class_names`` keeps those values as text.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from trainlab.data.sources import SOURCE_TASKS
from trainlab.errors import TrainlabError

#: Integer-valued targets with more distinct values than this are inferred as regression.
MAX_INFERRED_CLASSES = 50


@dataclass(frozen=True, eq=False)
class Target:
    """The resolved task and the mapping from raw targets to training targets."""

    task: str
    n_classes: int | None
    n_outputs: int
    class_names: list[str] | None
    classes: np.ndarray | None  # the original label values, sorted; None for regression
    origin: str

    def encode(self, y: Any, name: str = "y") -> np.ndarray:
        """Return ``y`` as int64 codes ``0..K-1`` (classification) or float32 (regression).

        Raises:
            TrainlabError: a label that is not one of the training labels, or a
                regression target that is not a finite number.
        """
        y = target_array(y, self.origin, name)
        if self.classes is None:
            outputs = 1 if y.ndim == 1 else y.shape[1]
            if outputs != self.n_outputs:
                raise TrainlabError(self.origin, f"{name} needs {self.n_outputs} target column(s), as y has", outputs)
            return _regression_values(y, self.origin, name)
        if y.ndim != 1:
            raise TrainlabError(self.origin, f"class labels ({name}) must be one column", f"shape {y.shape}")
        try:
            codes = np.searchsorted(self.classes, y)
            known = (codes < len(self.classes)) & (self.classes[np.minimum(codes, len(self.classes) - 1)] == y)
        except TypeError:  # text labels against numbers
            known, codes = np.zeros(len(y), dtype=bool), np.zeros(len(y), dtype=np.int64)
        if not known.all():
            i = int(np.flatnonzero(~known)[0])
            raise TrainlabError(
                self.origin,
                f"{name} row {i} holds a class that is not among the training labels"
                f" ({', '.join(self.class_names or [])})",
                _label_text(y[i]),
            )
        return codes.astype(np.int64)


def check_task_fits_source(source: str, task: str, n_classes: int | None = None) -> None:
    """Raise when ``data.task`` contradicts what a built-in source gives.

    Raises:
        TrainlabError: ``data.task`` names a classification task for a regression
            source or the reverse, or ``binary`` with ``data.n_classes`` other than 2.
    """
    _check_task_fits_kind(SOURCE_TASKS.get(source), task, f"data source {source!r}")
    if task == "binary" and n_classes is not None and n_classes != 2:
        raise TrainlabError("data.task", f"'binary' needs 2 classes, but data.n_classes is {n_classes}", task)


def _check_task_fits_kind(kind: str | None, task: str, what: str) -> None:
    if kind == "regression" and task in ("binary", "multiclass"):
        raise TrainlabError("data.task", f"{what} gives a regression target; use 'auto' or 'regression'", task)
    if kind == "classification" and task == "regression":
        raise TrainlabError(
            "data.task", f"{what} gives class labels; use 'auto', 'binary' or 'multiclass'", task
        )


def target_array(y: Any, origin: str, name: str = "y") -> np.ndarray:
    """Return ``y`` as an array of numbers, text or booleans: ``(N,)`` or ``(N, T)``."""
    y = np.asarray(y)
    if y.dtype.kind == "O":
        try:
            y = y.astype(np.float64)
        except (TypeError, ValueError):
            y = y.astype(str)
    if y.dtype.kind not in "biufUSb":
        raise TrainlabError(origin, f"{name} must hold numbers, text or booleans", str(y.dtype))
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim not in (1, 2) or (y.ndim == 2 and y.shape[1] == 0):
        raise TrainlabError(origin, f"{name} must be 1-D, or 2-D for several regression targets", f"shape {y.shape}")
    if y.dtype.kind in "fc":
        bad = np.argwhere(~np.isfinite(y))
        if len(bad):
            row = int(bad[0][0])
            raise TrainlabError(origin, f"{name} must be finite (no NaN or inf); row {row}", float(y[tuple(bad[0])]))
    return y


def resolve_target(
    y: Any,
    task: str,
    kind: str | None = None,
    class_names: list[str] | None = None,
    origin: str = "y",
) -> Target:
    """Resolve the task of the training targets ``y`` and how to encode targets.

    Args:
        y: the training targets as the source gave them.
        task: ``data.task``: "auto", "binary", "multiclass" or "regression".
        kind: "classification" or "regression" when the source says; None: infer it.
        class_names: names of the codes ``0..K-1`` when ``y`` already holds such codes.
        origin: where the targets come from, for messages.

    Returns:
        The :class:`Target`; ``Target.encode(y)`` gives the arrays to train on.

    Raises:
        TrainlabError: the task contradicts the data, fewer than 2 classes, labels
            that are not one column, or regression targets that are not numbers.
    """
    y = target_array(y, origin)
    _check_task_fits_kind(kind, task, f"the data from {origin}")
    if task != "auto":
        kind = "regression" if task == "regression" else "classification"
    kind = kind or infer_kind(y)
    if kind == "regression":
        _regression_values(y, origin, "y")
        return Target("regression", None, 1 if y.ndim == 1 else y.shape[1], None, None, origin)
    if y.ndim != 1:
        raise TrainlabError(origin, "class labels (y) must be one column", f"shape {y.shape}")
    classes = np.unique(y)
    names = _class_names(classes, class_names)
    if len(classes) < 2:
        raise TrainlabError(origin, "the target needs at least 2 classes", ", ".join(names))
    if task == "binary" and len(classes) != 2:
        raise TrainlabError(
            "data.task", f"'binary' needs exactly 2 classes; the target in {origin} has {len(classes)}", task
        )
    if task == "auto":
        task = "binary" if len(classes) == 2 else "multiclass"
    return Target(task, len(classes), 1 if task == "binary" else len(classes), names, classes, origin)


def infer_kind(y: np.ndarray) -> str:
    """Return "classification" or "regression" for a target array (see the module's rule)."""
    if y.ndim == 2:
        return "regression"
    if y.dtype.kind in "USb":
        return "classification"
    integral = y.dtype.kind in "iu" or bool(np.all(np.mod(y, 1) == 0))
    return "classification" if integral and len(np.unique(y)) <= MAX_INFERRED_CLASSES else "regression"


def _regression_values(y: np.ndarray, origin: str, name: str) -> np.ndarray:
    if y.dtype.kind in "US":
        for i, value in enumerate(y.ravel()):
            try:
                float(value)
            except ValueError:
                raise TrainlabError(
                    origin, f"regression targets must be numbers; {name} row {i // max(1, y[0].size)}", str(value)
                ) from None
        y = target_array(y.astype(np.float64), origin, name)  # checks "nan" and "inf" given as text
    return y.astype(np.float32)


def _class_names(classes: np.ndarray, given: list[str] | None) -> list[str]:
    if given is not None and classes.dtype.kind in "iu" and classes.min() >= 0 and classes.max() < len(given):
        return [str(given[int(c)]) for c in classes]
    return [_label_text(c) for c in classes]


def _label_text(value: Any) -> str:
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value)
