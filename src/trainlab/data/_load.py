"""From a ``data:`` section or the user's arrays to checked, split and scaled :class:`Splits`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from trainlab.data.config import DataConfig
from trainlab.data.sources import RawData, as_raw, sources
from trainlab.data._splits import Splits, fit_scaler, scale, split_indices
from trainlab.data.targets import Target, resolve_target
from trainlab.errors import TrainlabError


def load(config: DataConfig | Mapping[str, Any], seed: int, base_dir: str | Path | None = None) -> Splits:
    """Load the data a recipe's ``data:`` section describes, split and scaled.

    Steps: the source's loader reads the raw arrays (synthetic ones use
    ``random_state=seed``); features are checked (numbers, finite) and flattened;
    the task is resolved and labels encoded (see :mod:`trainlab.data.targets`);
    ``test_split`` of the whole data is split off first, then ``validation_split`` of
    the whole from the rest, stratified for classification, both with
    ``random_state=seed``; a test split that comes with the data (npz ``x_test``,
    MNIST) is used as the test split. Finally the features are standardized with
    the training split's mean and std.

    Args:
        config: the ``data:`` section (a :class:`DataConfig` or a mapping of its keys).
        seed: the random state of the synthetic generators and of the splits.
        base_dir: the folder relative ``data.path`` values start from, normally the
            recipe file's folder; None: the current directory.

    Returns:
        The :class:`Splits`.

    Raises:
        TrainlabError: a missing or unreadable file, a missing column or array,
            values that are not finite numbers, too few samples for the split.

    Example:
        >>> splits = load(DataConfig(), seed=42)  # the tutorial's section 4 data
        >>> splits.x_train.shape, splits.x_val.shape
        ((800, 20), (200, 20))
    """
    config = config if isinstance(config, DataConfig) else DataConfig.model_validate(dict(config))
    spec = {"name": config.source, **config.source_arguments()}
    raw = as_raw(sources.build(spec, where="data", seed=seed, base_dir=base_dir), config.source)
    return _prepare(raw, config, seed, config.source)


def from_arrays(
    x: Any,
    y: Any,
    config: DataConfig | Mapping[str, Any] | None = None,
    seed: int = 0,
    *,
    x_val: Any = None,
    y_val: Any = None,
    x_test: Any = None,
    y_test: Any = None,
    feature_names: Sequence[str] | None = None,
) -> Splits:
    """Split and scale the user's own arrays, with the same checks as :func:`load`.

    Only the general keys of ``config`` are used: ``task``, ``validation_split``,
    ``test_split``, ``stratify`` and ``standardize`` (a mapping of them is read with
    ``source: arrays``, the source that takes no other key). Given validation or
    test arrays are used as those splits instead of splitting them off ``x``.

    Args:
        x: features, one row per sample (extra axes are flattened).
        y: targets: labels of any kind (classification) or numbers (regression).
        config: the splitting and scaling options; None: the defaults.
        seed: the random state of the splits.
        x_val: validation features; with ``y_val``.
        y_val: validation targets.
        x_test: test features; with ``y_test``.
        y_test: test targets.
        feature_names: one name per feature; default ``x0, x1, ...``.

    Returns:
        The :class:`Splits`, with ``source`` "arrays".

    Raises:
        TrainlabError: see :func:`load`; also a validation array without its pair,
            or ``data.validation_split`` set together with validation arrays.

    Example:
        >>> splits = from_arrays(x, y, {"task": "regression", "test_split": 0.1}, seed=0)
    """
    if not isinstance(config, DataConfig):
        config = DataConfig.model_validate({"source": "arrays", **(config or {})})
    origin = "from_arrays"
    given_val = _given_pair(x_val, y_val, "x_val", "y_val", origin)
    if given_val and config.validation_split > 0 and "validation_split" in config.model_fields_set:
        raise TrainlabError(
            "data.validation_split", "must be 0 when validation arrays (x_val, y_val) are given", config.validation_split
        )
    _given_pair(x_test, y_test, "x_test", "y_test", origin)
    raw = RawData(x, y, feature_names, x_test=x_test, y_test=y_test, origin=origin)
    return _prepare(raw, config, seed, "arrays", (x_val, y_val) if given_val else None)


def _given_pair(x: Any, y: Any, x_name: str, y_name: str, origin: str) -> bool:
    if (x is None) != (y is None):
        missing, given = (x_name, y_name) if x is None else (y_name, x_name)
        raise TrainlabError(origin, f"{given} needs {missing} too; missing", missing)
    return x is not None


def _prepare(
    raw: RawData, config: DataConfig, seed: int, source: str, validation: tuple[Any, Any] | None = None
) -> Splits:
    origin = raw.origin
    x = features_array(raw.x, origin, "x", raw.feature_names)
    names = list(raw.feature_names) if raw.feature_names is not None else [f"x{i}" for i in range(x.shape[1])]
    if len(names) != x.shape[1]:
        raise TrainlabError(origin, f"needs one feature name per feature column ({x.shape[1]})", len(names))
    target = resolve_target(raw.y, config.task, raw.task, _names(raw.class_names), origin)
    y = _encoded(target, x, raw.y, "x", "y")

    x_test = y_test = x_val = y_val = None
    if raw.x_test is not None:
        if config.test_split > 0 and "test_split" in config.model_fields_set:
            raise TrainlabError(
                "data.test_split", f"must be 0: {origin} comes with its own test split (x_test, y_test)",
                config.test_split,
            )
        x_test = _matching(features_array(raw.x_test, origin, "x_test", names), x, "x_test", origin)
        y_test = _encoded(target, x_test, raw.y_test, "x_test", "y_test")
    if validation is not None:
        x_val = _matching(features_array(validation[0], origin, "x_val", names), x, "x_val", origin)
        y_val = _encoded(target, x_val, validation[1], "x_val", "y_val")

    stratify = target.classes is not None and config.stratify
    train, val, test = split_indices(
        len(x),
        0.0 if validation is not None else config.validation_split,
        0.0 if raw.x_test is not None else config.test_split,
        seed,
        labels=y if stratify else None,
        class_names=target.class_names,
        origin=origin,
    )
    if val is not None:
        x_val, y_val = x[val], y[val]
    if test is not None:
        x_test, y_test = x[test], y[test]
    x_train, y_train = x[train], y[train]

    mean, std = fit_scaler(x_train) if config.standardize else (None, None)
    return Splits(
        x_train=scale(x_train, mean, std),
        y_train=y_train,
        x_val=None if x_val is None else scale(x_val, mean, std),
        y_val=y_val,
        x_test=None if x_test is None else scale(x_test, mean, std),
        y_test=y_test,
        task=target.task,
        n_classes=target.n_classes,
        n_outputs=target.n_outputs,
        feature_names=names,
        class_names=target.class_names,
        source=source,
        mean=mean,
        std=std,
    )


def features_array(x: Any, origin: str, name: str = "x", feature_names: Sequence[str] | None = None) -> np.ndarray:
    """Return features as a float64 ``(N, F)`` array, flattening extra axes.

    Raises:
        TrainlabError: not numbers, no samples or features, or a NaN/inf (naming its row and column).
    """
    x = np.asarray(x)
    if x.ndim == 0 or x.size == 0:
        raise TrainlabError(origin, f"{name} needs at least one sample and one feature", f"shape {x.shape}")
    x = x.reshape(-1, 1) if x.ndim == 1 else x.reshape(len(x), -1)
    if x.dtype.kind not in "biuf":
        x = _numbers(x, origin, name)
    x = x.astype(np.float64, copy=False)
    bad = np.argwhere(~np.isfinite(x))
    if len(bad):
        i, j = (int(v) for v in bad[0])
        column = feature_names[j] if feature_names is not None and j < len(feature_names) else f"x{j}"
        raise TrainlabError(
            origin, f"{name} must be finite (no NaN or inf); row {i}, column {j} ({column!r})", float(x[i, j])
        )
    return x


def _numbers(x: np.ndarray, origin: str, name: str) -> np.ndarray:
    try:
        return x.astype(np.float64)
    except (TypeError, ValueError):
        for (i, j), cell in np.ndenumerate(x):  # find the cell to name it
            try:
                float(cell)
            except (TypeError, ValueError):
                value = cell.item() if isinstance(cell, np.generic) else cell
                raise TrainlabError(origin, f"{name} must hold numbers; row {i}, column {j}", value) from None
        raise


def _encoded(target: Target, x: np.ndarray, y: Any, x_name: str, y_name: str) -> np.ndarray:
    rows = len(np.asarray(y)) if np.ndim(y) else 0
    if rows != len(x):
        raise TrainlabError(
            target.origin, f"{x_name} and {y_name} need one row per sample; {x_name} has {len(x)} rows, {y_name} has",
            rows,
        )
    return target.encode(y, y_name)


def _matching(x: np.ndarray, x_train: np.ndarray, name: str, origin: str) -> np.ndarray:
    if x.shape[1] != x_train.shape[1]:
        raise TrainlabError(origin, f"{name} needs as many features as x ({x_train.shape[1]})", x.shape[1])
    return x


def _names(names: Sequence[str] | None) -> list[str] | None:
    return None if names is None else [str(n) for n in names]
