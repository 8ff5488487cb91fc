"""Sources read from the user's files: CSV, NPZ and a local Keras-format MNIST.

Relative paths are resolved against ``base_dir`` (the recipe file's folder), or the
current directory when there is none. Every problem with a file raises a
:class:`~trainlab.errors.TrainlabError` naming the file as the user wrote it, the
line and column where there is one, and the offending value.
"""

from __future__ import annotations

import csv
import zipfile
from pathlib import Path

import numpy as np

from trainlab.data.sources import RawData, _source, sources
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
def csv_file(path: str, target: str | None = None, delimiter: str = ",", base_dir: str | Path | None = None) -> RawData:
    """A CSV file with a header row; numeric features, any target.

    Args:
        path: the file, relative to ``base_dir``.
        target: the target column's name; default: the last column.
        delimiter: the cell separator.
        base_dir: the folder relative paths start from (default: the current directory).

    Returns:
        The feature columns as floats and the target column as numbers, or as text
        when any of its cells is not a number (text labels are classes).
    """
    file = resolve_path(path, base_dir)
    header, rows, lines = _read_rows(file, path, delimiter)
    target = header[-1] if target is None else target
    if target not in header:
        raise TrainlabError(
            "data.target",
            f"column not found in {path}{did_you_mean(target, header)}; columns: {', '.join(header)}",
            target,
        )
    if len(header) < 2:
        raise TrainlabError(path, "needs at least one feature column besides the target column", target)
    t = header.index(target)
    features = [name for j, name in enumerate(header) if j != t]
    x = _numeric_features(rows, lines, header, t, path)
    y = _target_column([row[t] for row in rows], lines, target, path)
    return RawData(x, y, features, origin=path)


def _read_rows(file: Path, path: str, delimiter: str) -> tuple[list[str], list[list[str]], list[int]]:
    header: list[str] | None = None
    rows: list[list[str]] = []
    lines: list[int] = []
    try:
        with open(file, newline="", encoding="utf-8-sig") as fh:
            reader = csv.reader(fh, delimiter=delimiter)
            for row in reader:
                if not any(cell.strip() for cell in row):
                    continue  # blank lines carry no sample
                if header is None:
                    header = _check_header([cell.strip() for cell in row], path)
                elif len(row) != len(header):
                    raise TrainlabError(
                        path, f"line {reader.line_num}: every row needs as many cells as the header ({len(header)})",
                        len(row),
                    )
                else:
                    rows.append(row)
                    lines.append(reader.line_num)
    except UnicodeDecodeError as exc:
        raise TrainlabError(path, "must be a UTF-8 text file (a CSV with a header row)", str(exc)) from exc
    except csv.Error as exc:
        raise TrainlabError(path, "is not a readable CSV file", str(exc)) from exc
    if header is None:
        raise TrainlabError(path, "file is empty; a CSV needs a header row and data rows")
    if not rows:
        raise TrainlabError(path, "has a header row but no data rows", ", ".join(header))
    return header, rows, lines


def _check_header(header: list[str], path: str) -> list[str]:
    for j, name in enumerate(header):
        if not name:
            raise TrainlabError(path, f"line 1: column {j + 1} of the header row has no name", ", ".join(header))
        if name in header[:j]:
            raise TrainlabError(path, "line 1: column names must be unique", name)
    return header


def _numeric_features(rows: list[list[str]], lines: list[int], header: list[str], t: int, path: str) -> np.ndarray:
    columns = [j for j in range(len(header)) if j != t]
    cells = [[row[j] for j in columns] for row in rows]
    try:
        x = np.array(cells, dtype=np.float64)
    except ValueError:
        for i, row in enumerate(cells):  # find the cell to name it
            for k, cell in enumerate(row):
                try:
                    float(cell)
                except ValueError:
                    raise TrainlabError(
                        path,
                        f"line {lines[i]}, column {header[columns[k]]!r}: features must be numbers"
                        " (missing values are not supported)",
                        cell,
                    ) from None
        raise  # numpy refused a cell that float() accepts: not expected
    bad = np.argwhere(~np.isfinite(x))
    if len(bad):
        i, k = bad[0]
        raise TrainlabError(
            path, f"line {lines[i]}, column {header[columns[k]]!r}: features must be finite (no NaN or inf)",
            cells[i][k].strip(),
        )
    return x


def _target_column(cells: list[str], lines: list[int], target: str, path: str) -> np.ndarray:
    cells = [cell.strip() for cell in cells]
    for i, cell in enumerate(cells):
        if not cell:
            raise TrainlabError(path, f"line {lines[i]}, column {target!r}: the target cell is empty", cell)
    try:
        y = np.array(cells, dtype=np.float64)
    except ValueError:
        return np.array(cells)  # text labels
    bad = np.flatnonzero(~np.isfinite(y))
    if len(bad):
        i = bad[0]
        raise TrainlabError(
            path, f"line {lines[i]}, column {target!r}: the target must be finite (no NaN or inf)", cells[i]
        )
    return y


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
    arrays = _read_npz(resolve_path(path, base_dir), path)
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


def _read_npz(file: Path, path: str) -> dict[str, np.ndarray]:
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
    arrays = _read_npz(file, path)
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
