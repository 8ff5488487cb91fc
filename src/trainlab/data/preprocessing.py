"""The preprocessing a run's data went through, fitted on the training split, as data.

:class:`Preprocessing` is what turns raw inputs, as the data source had them, into what
the model was trained on: for a table the encoding of its columns (categories one-hot,
gaps filled), then the standardization (per feature for tables, per channel, the last
axis, for images and sequences). It is fitted on the training split only, applied to
every split, and written to the run directory as ``preprocessing.json`` so a later step
(``trainlab predict``, an export) can apply the same to new raw inputs.

Example:
    >>> prep = Preprocessing.from_dict(json.loads(Path("runs/x/preprocessing.json").read_text()))
    >>> model.predict(prep.transform(raw_rows))
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from trainlab.errors import TrainlabError

#: The version of ``preprocessing.json``'s layout; a reader refuses a newer one.
FORMAT = 1


@dataclass(frozen=True, eq=False)
class Preprocessing:
    """What the model's inputs went through, and what it predicts.

    Attributes:
        source: the data source's name.
        task: "binary", "multiclass" or "regression".
        input_shape: one sample's shape as the model takes it (no batch axis).
        input_dtype: "float32", or "int32" for token ids.
        feature_names: one name per input column of a table (after encoding), or per last-axis
            feature; None where features have no names (images).
        class_names: the class of each output code (classification), else None.
        mean: per last-axis feature mean of the raw training split (float64), or None when the
            inputs are not standardized.
        std: the standard deviation (ddof 0), 1 for constant features; None when not standardized.
        table: the fitted encoding of a table's columns (see :mod:`trainlab.data.table`), or None.
        meta: what the source says about its raw inputs (an image folder's size and colour), or {}.
    """

    source: str
    task: str
    input_shape: tuple[int, ...]
    input_dtype: str
    feature_names: list[str] | None = None
    class_names: list[str] | None = None
    mean: np.ndarray | None = None
    std: np.ndarray | None = None
    table: Any = None
    meta: Mapping[str, Any] = field(default_factory=dict)

    @property
    def standardized(self) -> bool:
        return self.mean is not None

    def scale(self, x: np.ndarray) -> np.ndarray:
        """Standardize encoded inputs as the training split was (float32); token ids pass through as int32."""
        return scale(x, self.mean, self.std, self.input_dtype)

    def transform(self, x: Any) -> np.ndarray:
        """Raw inputs (a table's raw columns, or arrays shaped as the source gave them) to model inputs.

        Raises:
            TrainlabError: inputs of another shape than the training data's.
        """
        if self.table is not None:
            x = self.table.transform(x)
        x = np.asarray(x)
        if x.ndim == len(self.input_shape):  # one sample
            x = x[None]
        if tuple(x.shape[1:]) != tuple(self.input_shape):
            raise TrainlabError(
                "inputs", f"need the shape the model was trained on, (N, {', '.join(map(str, self.input_shape))})",
                f"shape {x.shape}",
            )
        return self.scale(x)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (``preprocessing.json``)."""
        return {
            "format": FORMAT,
            "source": self.source,
            "task": self.task,
            "input": {"shape": list(self.input_shape), "dtype": self.input_dtype},
            "feature_names": self.feature_names,
            "class_names": self.class_names,
            "standardize": None if self.mean is None or self.std is None else {
                "axis": "last", "mean": [float(v) for v in self.mean], "std": [float(v) for v in self.std],
            },
            "table": None if self.table is None else self.table.to_dict(),
            **({"meta": dict(self.meta)} if self.meta else {}),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], origin: str = "preprocessing.json") -> Preprocessing:
        """Read what :meth:`to_dict` wrote.

        Raises:
            TrainlabError: a newer format, or a dict that is not a preprocessing record.
        """
        version = data.get("format")
        if not isinstance(version, int) or version > FORMAT:
            raise TrainlabError(origin, f"is not a preprocessing record this trainlab reads (format <= {FORMAT})",
                                version)
        standardize = data.get("standardize")
        table = None
        if data.get("table") is not None:
            from trainlab.data.table import TableEncoder  # noqa: PLC0415 (only tables need it)

            table = TableEncoder.from_dict(data["table"])
        return cls(
            source=data["source"], task=data["task"], input_shape=tuple(data["input"]["shape"]),
            input_dtype=data["input"]["dtype"], feature_names=data.get("feature_names"),
            class_names=data.get("class_names"),
            mean=None if not standardize else np.asarray(standardize["mean"], np.float64),
            std=None if not standardize else np.asarray(standardize["std"], np.float64),
            table=table, meta=data.get("meta") or {},
        )


def is_token_ids(x: np.ndarray) -> bool:
    """Whether inputs are token ids: integers of shape ``(N, T)`` (never standardized, fed as int32)."""
    return x.dtype.kind in "iu" and x.ndim == 2


def fit_scaler(x_train: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the per-feature mean and std (ddof 0) of ``x_train``; std 1 for constant features.

    Features are the last axis: columns of a table, channels of images, features of a sequence;
    the statistics pool every other axis. For a table, the same statistics as scikit-learn's
    ``StandardScaler().fit(x_train)`` (``mean_``, ``scale_``).
    """
    x = np.asarray(x_train, dtype=np.float64)
    x = x.reshape(-1, 1) if x.ndim == 1 else x.reshape(-1, x.shape[-1])
    mean = x.mean(axis=0)
    std = x.std(axis=0)
    std[(std == 0) | (x == x[:1]).all(axis=0)] = 1.0  # constant columns: rounding can leave a tiny std
    return mean, std


def scale(x: np.ndarray, mean: np.ndarray | None, std: np.ndarray | None, dtype: str = "float32") -> np.ndarray:
    """Return ``(x - mean) / std`` as float32 (over the last axis), or ``x`` as ``dtype`` when there is no scaler."""
    if mean is None or std is None:
        return np.asarray(x).astype(dtype, copy=False)
    return ((np.asarray(x, np.float64) - mean) / std).astype(np.float32)
