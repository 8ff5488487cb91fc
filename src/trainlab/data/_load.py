"""From a ``data:`` section or the user's arrays to checked, split and scaled :class:`Splits`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from trainlab.data.config import DataConfig
from trainlab.data.sources import RawData, as_raw, sources
from trainlab.data._splits import Splits, split_indices
from trainlab.data.preprocessing import Preprocessing, fit_scaler, is_token_ids
from trainlab.data.table import Table, TableEncoder
from trainlab.data.targets import Target, resolve_target
from trainlab.errors import TrainlabError


def load(config: DataConfig | Mapping[str, Any], seed: int, base_dir: str | Path | None = None) -> Splits:
    """Load the data a recipe's ``data:`` section describes, split and scaled.

    Steps: the source's loader reads the raw arrays (synthetic ones use
    ``random_state=seed``), or a table (csv: :class:`~trainlab.data.table.Table`), whose
    columns are encoded by a :class:`~trainlab.data.table.TableEncoder` fitted on the
    training split's rows; inputs are checked (numbers, finite);
    the task is resolved and labels encoded (see :mod:`trainlab.data.targets`);
    ``test_split`` of the whole data is split off first, then ``validation_split`` of
    the whole from the rest, stratified for classification, both with
    ``random_state=seed``; a test split that comes with the data (npz ``x_test``,
    MNIST) is used as the test split. Finally the inputs are standardized per feature
    (the last axis) with the training split's mean and std; token ids (integer arrays
    ``(N, T)``) never are. Inputs keep their shape.

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
    sample_weight: Any = None,
    sample_weight_val: Any = None,
    sample_weight_test: Any = None,
) -> Splits:
    """Split and scale the user's own arrays, with the same checks as :func:`load`.

    Only the general keys of ``config`` are used: ``task``, ``validation_split``,
    ``test_split``, ``stratify`` and ``standardize`` (a mapping of them is read with
    ``source: arrays``, the source that takes no other key). Given validation or
    test arrays are used as those splits instead of splitting them off ``x``.

    Args:
        x: inputs, one per sample, of any shape: a table ``(N, F)``, images ``(N, H, W, C)``,
            token ids ``(N, T)`` (integers: never standardized) or sequences ``(N, T, F)``; or a
            :class:`~trainlab.data.table.Table` of named columns (encoded with the encoder's
            defaults, fitted on the training rows; ``x_val`` and ``x_test`` may be tables too).
        y: targets: labels of any kind (classification) or numbers (regression).
        config: the splitting and scaling options; None: the defaults.
        seed: the random state of the splits.
        x_val: validation features; with ``y_val``.
        y_val: validation targets.
        x_test: test features; with ``y_test``.
        y_test: test targets.
        feature_names: one name per feature (the last axis); default ``x0, x1, ...``.
        sample_weight: one weight per sample of ``x`` (the loss and the metrics use them,
            as Keras' ``fit(sample_weight=...)``); split with ``x``.
        sample_weight_val: weights of ``x_val``.
        sample_weight_test: weights of ``x_test``.

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
    raw = RawData(x, y, feature_names, x_test=x_test, y_test=y_test, origin=origin, w=sample_weight,
                  w_test=sample_weight_test)
    return _prepare(raw, config, seed, "arrays", (x_val, y_val, sample_weight_val) if given_val else None)


def _given_pair(x: Any, y: Any, x_name: str, y_name: str, origin: str) -> bool:
    if (x is None) != (y is None):
        missing, given = (x_name, y_name) if x is None else (y_name, x_name)
        raise TrainlabError(origin, f"{given} needs {missing} too; missing", missing)
    return x is not None


def _prepare(
    raw: RawData, config: DataConfig, seed: int, source: str, validation: tuple[Any, Any, Any] | None = None
) -> Splits:
    encoder = None
    if isinstance(raw.x, Table):
        raw, validation, encoder = _encode_table(raw, config, seed, validation)
    origin = raw.origin
    x = features_array(raw.x, origin, "x", raw.feature_names)
    names = _feature_names(raw.feature_names, x, origin)
    target = resolve_target(raw.y, config.task, raw.task, _names(raw.class_names), origin)
    y = _encoded(target, x, raw.y, "x", "y")
    w = _weights(raw.w, len(x), origin, "sample_weight")

    given: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray | None]] = {}
    if raw.x_test is not None:
        if config.test_split > 0 and "test_split" in config.model_fields_set:
            raise TrainlabError(
                "data.test_split", f"must be 0: {origin} comes with its own test split (x_test, y_test)",
                config.test_split,
            )
        given["test"] = _given(raw.x_test, raw.y_test, raw.w_test, "test", x, names, target, origin)
    if validation is not None:
        given["val"] = _given(*validation, "val", x, names, target, origin)

    train, val, test = _split(len(x), y, target, config, seed, origin, "val" in given, "test" in given)
    parts = {"train": _rows(x, y, w, train)}
    for split, rows in (("val", val), ("test", test)):
        if split in given:
            parts[split] = given[split]
        elif rows is not None:
            parts[split] = _rows(x, y, w, rows)

    tokens = is_token_ids(x)
    mean, std = fit_scaler(parts["train"][0]) if config.standardize and not tokens else (None, None)
    prep = Preprocessing(
        source=source, task=target.task, input_shape=tuple(int(d) for d in x.shape[1:]),
        input_dtype="int32" if tokens else "float32", feature_names=names, class_names=target.class_names,
        mean=mean, std=std, table=encoder, meta=dict(raw.meta or {}),
    )
    out = {f"{what}_{split}": None for what in ("x", "y", "w") for split in ("val", "test")}
    for split, (xs, ys, ws) in parts.items():
        out[f"x_{split}"], out[f"y_{split}"], out[f"w_{split}"] = prep.scale(xs), ys, ws
    return Splits(
        **out, task=target.task, n_classes=target.n_classes, n_outputs=target.n_outputs,
        feature_names=names, class_names=target.class_names, source=source, preprocessing=prep,
    )


def _split(
    n: int, y: np.ndarray, target: Target, config: DataConfig, seed: int, origin: str, given_val: bool,
    given_test: bool,
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    stratify = target.classes is not None and config.stratify
    return split_indices(
        n,
        0.0 if given_val else config.validation_split,
        0.0 if given_test else config.test_split,
        seed,
        labels=y if stratify else None,
        class_names=target.class_names,
        origin=origin,
    )


def _encode_table(
    raw: RawData, config: DataConfig, seed: int, validation: tuple[Any, Any, Any] | None
) -> tuple[RawData, tuple[Any, Any, Any] | None, TableEncoder]:
    """A table's columns as numbers, by a :class:`TableEncoder` fitted on the training split's rows only.

    The split is the one :func:`_prepare` then makes (same size, labels and seed), so the rows
    fitted on are exactly the training rows. The whole table is encoded at once, so a refused
    cell is the first in the file. Given test or validation tables are encoded the same way.
    """
    target = resolve_target(raw.y, config.task, raw.task, _names(raw.class_names), raw.origin)
    y = _encoded(target, raw.x, raw.y, "x", "y")
    train, _, _ = _split(len(raw.x), y, target, config, seed, raw.origin, validation is not None,
                         raw.x_test is not None)
    encoder = TableEncoder.fit(raw.x.rows(np.sort(train)), origin=raw.origin, **dict(raw.encoding or {}))

    def encode(x: Any) -> Any:
        return encoder.transform(x) if isinstance(x, Table) else x

    raw = replace(raw, x=encoder.transform(raw.x), feature_names=encoder.feature_names, x_test=encode(raw.x_test))
    return raw, None if validation is None else (encode(validation[0]), *validation[1:]), encoder


def _rows(x: np.ndarray, y: np.ndarray, w: np.ndarray | None, rows: np.ndarray):
    return x[rows], y[rows], None if w is None else w[rows]


def _given(x: Any, y: Any, w: Any, split: str, x_train: np.ndarray, names: list[str], target: Target, origin: str):
    """A split that comes with the data (npz ``x_test``, MNIST's test images, ``from_arrays(x_val=...)``)."""
    xs = _matching(features_array(x, origin, f"x_{split}", names), x_train, f"x_{split}", origin)
    return xs, _encoded(target, xs, y, f"x_{split}", f"y_{split}"), _weights(w, len(xs), origin, f"sample_weight_{split}")


def _feature_names(given: Sequence[str] | None, x: np.ndarray, origin: str) -> list[str]:
    width = 1 if x.ndim == 1 else x.shape[-1]
    if given is None:
        return [f"x{i}" for i in range(width)]
    names = [str(n) for n in given]
    if x.ndim <= 2 and len(names) != width:
        raise TrainlabError(origin, f"needs one feature name per feature column ({width})", len(names))
    return names if len(names) == width else [f"x{i}" for i in range(width)]  # pixel names of flattened images


def _weights(w: Any, n: int, origin: str, name: str) -> np.ndarray | None:
    """Per-sample weights as float32 ``(N,)``: finite, >= 0, one per sample, not all 0.

    Raises:
        TrainlabError: another length, a negative or non-finite weight, or only zeros.
    """
    if w is None:
        return None
    try:
        w = np.asarray(w, dtype=np.float64).reshape(-1) if np.ndim(w) else np.asarray([w], np.float64)
    except (TypeError, ValueError):
        raise TrainlabError(origin, f"{name} must hold numbers", type(w).__name__) from None
    if len(w) != n:
        raise TrainlabError(origin, f"{name} needs one weight per sample ({n})", len(w))
    bad = np.flatnonzero(~np.isfinite(w) | (w < 0))
    if len(bad):
        raise TrainlabError(origin, f"{name} must be finite and >= 0; row {int(bad[0])}", float(w[bad[0]]))
    if not w.any():
        raise TrainlabError(origin, f"{name} must not be all zeros (nothing would be learned)")
    return w.astype(np.float32)


def features_array(x: Any, origin: str, name: str = "x", feature_names: Sequence[str] | None = None) -> np.ndarray:
    """Return inputs as an array of shape ``(N, ...)``: float64, or int64 for integer arrays (token ids).

    A 1-D array is one feature per sample, ``(N, 1)``. Other shapes are kept: images stay
    ``(N, H, W, C)`` (``(N, H, W)`` gains a channel axis) and sequences ``(N, T)`` or ``(N, T, F)``.
    Integer arrays of rank 2 are token ids, kept as integers; other integer arrays (images
    as bytes) become floats.

    Raises:
        TrainlabError: not numbers, no samples or features, or a NaN/inf (naming its row and column).
    """
    x = np.asarray(x)
    if x.ndim == 0 or x.size == 0:
        raise TrainlabError(origin, f"{name} needs at least one sample and one feature", f"shape {x.shape}")
    if x.ndim == 1:
        x = x.reshape(-1, 1)
    if x.dtype == bool:
        x = x.astype(np.float64)
    if x.dtype.kind not in "iuf":
        x = _numbers(x, origin, name)
    if x.dtype.kind in "iu":
        return x.astype(np.int64, copy=False) if x.ndim == 2 else x.astype(np.float64)
    x = x.astype(np.float64, copy=False)
    bad = np.argwhere(~np.isfinite(x))
    if len(bad):
        i, j = int(bad[0][0]), int(bad[0][-1])
        column = feature_names[j] if feature_names is not None and j < len(feature_names) else f"x{j}"
        where = f"row {i}, column {j} ({column!r})" if x.ndim == 2 else f"sample {i}, index {tuple(int(v) for v in bad[0][1:])}"
        raise TrainlabError(origin, f"{name} must be finite (no NaN or inf); {where}", float(x[tuple(bad[0])]))
    return x


def _numbers(x: np.ndarray, origin: str, name: str) -> np.ndarray:
    try:
        return x.astype(np.float64)
    except (TypeError, ValueError):
        for index, cell in np.ndenumerate(x.reshape(len(x), -1)):  # find the cell to name it
            i, j = index
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
    if x.shape[1:] != x_train.shape[1:]:
        if x.ndim == x_train.ndim == 2:
            raise TrainlabError(origin, f"{name} needs as many features as x ({x_train.shape[1]})", x.shape[1])
        raise TrainlabError(origin, f"{name} needs samples shaped as x's, {x_train.shape[1:]}", f"shape {x.shape[1:]}")
    return x.astype(x_train.dtype, copy=False)


def _names(names: Sequence[str] | None) -> list[str] | None:
    return None if names is None else [str(n) for n in names]
