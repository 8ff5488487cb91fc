"""Sources read from the user's files: CSV, NPZ and a local Keras-format MNIST.

Relative paths are resolved against ``base_dir`` (the recipe file's folder), or the
current directory when there is none. Every problem with a file raises a
:class:`~trainlab.errors.TrainlabError` naming the file as the user wrote it, the
line and column where there is one, and the offending value.
"""

from __future__ import annotations

import math
import zipfile
from pathlib import Path

import numpy as np

from trainlab.data.sources import RawData, _source, sources
from trainlab.data.table import Table, missing_cells, text_columns
from trainlab.errors import TrainlabError, did_you_mean

_MNIST_ARRAYS = ("x_train", "y_train", "x_test", "y_test")


def resolve_path(path: str, base_dir: str | Path | None = None) -> Path:
    """Return ``path`` resolved against ``base_dir`` (or the current directory).

    Raises:
        TrainlabError: ``data.path`` when there is no such file.
    """
    file = Path(path).expanduser()
    if not file.is_absolute():
        file = (Path(base_dir) if base_dir is not None else Path.cwd()) / file
    if file.is_dir():
        raise TrainlabError("data.path", f"is a folder, expected a file: {file}", path)
    if not file.is_file():
        raise TrainlabError("data.path", f"file not found: {file}", path)
    return file


@sources.register("csv")
def csv_file(
    path: str,
    target: str | None = None,
    delimiter: str = ",",
    categorical: str | list[str] = "auto",
    missing: str = "error",
    max_categories: int = 50,
    weight: str | None = None,
    base_dir: str | Path | None = None,
) -> RawData:
    """A CSV file with a header row: numeric and categorical feature columns, any target.

    The features stay a :class:`~trainlab.data.table.Table` of text cells here; they are
    encoded as numbers (categories one-hot, gaps filled) by a
    :class:`~trainlab.data.table.TableEncoder` fitted on the training split when the data is
    split (:func:`trainlab.data.load`).

    Args:
        path: the file, relative to ``base_dir``.
        target: the target column's name; default: the last column.
        delimiter: the cell separator.
        categorical: "auto" (the columns holding text) or the categorical columns' names.
        missing: what a missing feature cell becomes: "error", "mean", "median" or "most_frequent".
        max_categories: the most frequent training categories kept per categorical column.
        weight: a column of per-sample weights (numbers >= 0), not a feature; None: no weights.
        base_dir: the folder relative paths start from (default: the current directory).

    Returns:
        The feature columns as a table (``encoding`` holds the options above, ``categorical``
        resolved to names), the target column as numbers, or as text when any of its cells
        is not a number (text labels are classes), and the weights.

    Raises:
        TrainlabError: an unreadable file; a target, weight or categorical column that is not
            there; a missing target cell; a weight that is not a number >= 0.
    """
    file = resolve_path(path, base_dir)
    table = Table.from_csv(file, delimiter, origin=path)
    header = table.names
    target = header[-1] if target is None else target
    _check_column("data.target", target, header, path)
    if weight is not None:
        _check_column("data.weight", weight, header, path)
        if weight == target:
            raise TrainlabError("data.weight", "must be another column than the target (data.target)", weight)
    features = table.drop(target, *([] if weight is None else [weight]))
    if not features.columns:
        besides = "the target column" if weight is None else "the target and weight columns"
        raise TrainlabError(path, f"needs at least one feature column besides {besides}", ", ".join(header))
    encoding = {
        "categorical": _categorical_columns(categorical, features, target, weight, path),
        "missing": missing,
        "max_categories": max_categories,
    }
    y = _target_column(table, target)
    w = None if weight is None else _weight_column(table, weight)
    return RawData(features, y, origin=path, w=w, encoding=encoding)


def _check_column(key: str, name: str, header: list[str], path: str) -> None:
    if name not in header:
        raise TrainlabError(
            key, f"column not found in {path}{did_you_mean(name, header)}; columns: {', '.join(header)}", name
        )


def _categorical_columns(
    categorical: str | list[str], features: Table, target: str, weight: str | None, path: str
) -> list[str]:
    """``data.categorical`` as column names: ``auto`` is the text columns of the whole file."""
    if isinstance(categorical, str):
        return text_columns(features)
    for name in categorical:
        if name == target:
            raise TrainlabError("data.categorical", "lists the target column (data.target); it is not a feature", name)
        if name == weight:
            raise TrainlabError("data.categorical", "lists the weight column (data.weight); it is not a feature", name)
        if name not in features.columns:
            raise TrainlabError(
                "data.categorical",
                f"column not found in {path}{did_you_mean(name, features.names)}; feature columns: "
                f"{', '.join(features.names)}",
                name,
            )
    return list(categorical)


def _target_column(table: Table, target: str) -> np.ndarray:
    cells = table.column(target)
    gaps = np.flatnonzero(missing_cells(cells))
    if len(gaps):
        i = int(gaps[0])
        raise TrainlabError(
            table.origin, f"{table.where(i)}, column {target!r}: the target cell is missing (empty or NA)", cells[i]
        )
    try:
        y = cells.astype(np.float64)
    except ValueError:
        return cells.astype(str)  # text labels
    bad = np.flatnonzero(~np.isfinite(y))
    if len(bad):
        i = int(bad[0])
        raise TrainlabError(
            table.origin, f"{table.where(i)}, column {target!r}: the target must be finite (no NaN or inf)", cells[i]
        )
    return y


def _weight_column(table: Table, weight: str) -> np.ndarray:
    cells = table.column(weight)
    w = np.empty(len(cells))
    for i, cell in enumerate(cells):
        try:
            w[i] = float(cell)
        except ValueError:
            w[i] = math.nan
        if not (math.isfinite(w[i]) and w[i] >= 0):
            raise TrainlabError(
                table.origin, f"{table.where(i)}, column {weight!r}: a weight must be a finite number >= 0", cell
            )
    return w


@sources.register("npz")
def npz_file(path: str, base_dir: str | Path | None = None) -> RawData:
    """A NumPy ``.npz`` archive with ``x`` (or ``X``) and ``y``, or ``x_train`` and ``y_train``.

    When it also holds ``x_test`` and ``y_test``, those are the test split.
    Inputs keep their shape: images ``(N, H, W, C)``, sequences ``(N, T[, F])``; an
    optional ``w`` (or ``sample_weight``) array holds per-sample weights.

    Args:
        path: the file, relative to ``base_dir``.
        base_dir: the folder relative paths start from (default: the current directory).
    """
    arrays = read_npz(resolve_path(path, base_dir), path)
    names = sorted(arrays)
    if "x_train" in arrays and "y_train" in arrays:
        x, y = arrays["x_train"], arrays["y_train"]
        if ("x_test" in arrays) != ("y_test" in arrays):
            raise TrainlabError(path, "a given test split needs both x_test and y_test; arrays", ", ".join(names))
        x_test, y_test = arrays.get("x_test"), arrays.get("y_test")
    elif ("x" in arrays or "X" in arrays) and "y" in arrays:
        x, y = arrays["x"] if "x" in arrays else arrays["X"], arrays["y"]
        x_test = y_test = None
    else:
        raise TrainlabError(
            path,
            "needs arrays 'x' and 'y' (or 'X' and 'y', or 'x_train' and 'y_train' with optional 'x_test' and"
            " 'y_test'); it has",
            ", ".join(names) or "no arrays",
        )
    w = arrays.get("w", arrays.get("sample_weight"))
    return RawData(x, y, x_test=x_test, y_test=y_test, origin=path, w=w)


def read_npz(file: str | Path, path: str | None = None) -> dict[str, np.ndarray]:
    """Every array of a NumPy ``.npz`` archive, by name (never unpickling Python objects).

    Args:
        file: the archive.
        path: the file as the user wrote it, for messages; default ``str(file)``.

    Returns:
        The archive's arrays, by name.

    Raises:
        TrainlabError: naming the file: it is empty, not a zip of arrays (or a single ``.npy``
            array), or an array holds Python objects.

    Example:
        >>> sorted(read_npz("mnist.npz"))
        ['x_test', 'x_train', 'y_test', 'y_train']
    """
    file = Path(file)
    path = str(file) if path is None else path
    if file.stat().st_size == 0:
        raise TrainlabError(path, "file is empty; expected a NumPy .npz archive")
    with open(file, "rb") as fh:
        head = fh.read(6)
    if not head.startswith((b"PK", b"\x93NUMPY")):
        # Not a zip (nor a .npy): numpy would try to unpickle it and talk about allow_pickle.
        raise TrainlabError(path, "is not a readable NumPy .npz archive (a zip of arrays, as numpy.savez writes)")
    try:
        archive = np.load(file, allow_pickle=False)
        if not isinstance(archive, np.lib.npyio.NpzFile):
            raise TrainlabError(path, "must be a .npz archive of named arrays (np.savez), not a single .npy array")
        with archive:
            arrays = {}
            for name in archive.files:
                try:
                    arrays[name] = archive[name]
                except ValueError as exc:  # object arrays need pickle, which is unsafe
                    raise TrainlabError(path, f"array {name!r} holds Python objects; save numbers or strings") from exc
            return arrays
    except TrainlabError:
        raise
    except (ValueError, OSError, zipfile.BadZipFile) as exc:
        raise TrainlabError(path, "is not a readable NumPy .npz archive", str(exc)) from exc


@_source("mnist", "classification")
def mnist(path: str, n_train: int | None = None, n_test: int | None = None, base_dir: str | Path | None = None) -> RawData:
    """MNIST from a local Keras-format ``mnist.npz`` (``x_train``, ``y_train``, ``x_test``, ``y_test``).

    Images are ``(N, 28, 28, 1)`` scaled to [0, 1] (the recipe's ``mlp`` flattens them
    itself); the file's test images are the test split. Nothing is downloaded.

    Args:
        path: the file, relative to ``base_dir``.
        n_train: use the first ``n_train`` training images (the tutorial: 5000).
        n_test: use the first ``n_test`` test images (the tutorial: 1000).
        base_dir: the folder relative paths start from (default: the current directory).
    """
    try:
        file = resolve_path(path, base_dir)
    except TrainlabError as exc:
        raise TrainlabError(
            "data.path",
            f"MNIST file not found ({exc.rule}); it cannot be downloaded here: copy a Keras-format mnist.npz"
            " (arrays x_train, y_train, x_test, y_test; Keras caches it as ~/.keras/datasets/mnist.npz) to that"
            " path, or use source: digits (scikit-learn's bundled 8x8 digits)",
            path,
        ) from None
    arrays = read_npz(file, path)
    missing = [name for name in _MNIST_ARRAYS if name not in arrays]
    if missing:
        raise TrainlabError(
            path, f"a Keras-format MNIST file needs arrays {', '.join(_MNIST_ARRAYS)}; it has", ", ".join(sorted(arrays))
        )
    x_train, y_train = _first("n_train", n_train, arrays["x_train"], arrays["y_train"], path)
    x_test, y_test = _first("n_test", n_test, arrays["x_test"], arrays["y_test"], path)
    return RawData(
        _pixels(x_train),
        y_train,
        None,
        task="classification",
        x_test=_pixels(x_test),
        y_test=y_test,
        origin=path,
        meta={"image": {"size": list(x_train.shape[1:3]), "color": "grayscale", "scale": 1 / 255}},
    )


def _first(key: str, n: int | None, x: np.ndarray, y: np.ndarray, path: str) -> tuple[np.ndarray, np.ndarray]:
    if n is None:
        return x, y
    if n > len(x):
        raise TrainlabError(f"data.{key}", f"must be <= {len(x)} (the images in {path})", n)
    return x[:n], y[:n]


def _pixels(images: np.ndarray) -> np.ndarray:
    """Grey images ``(N, H, W)`` as ``(N, H, W, 1)`` floats in [0, 1]."""
    images = images if images.ndim == 4 else images[..., None]
    return images.astype(np.float32) / np.float32(255.0)
