"""New raw inputs, as the run's data source had them, turned into what its model takes.

What a run takes depends on its data (its ``preprocessing.json``, :class:`~trainlab.data.Preprocessing`):

- a **table** (``(N, F)`` features): a CSV file, a pandas ``DataFrame``, a mapping of column name to
  values, or an array whose columns are the run's raw columns in its order (``feature_names``, or
  the table encoding's columns). Columns are found by
  name, in any order; other columns (an id, the target) are ignored. A run whose table had text
  categories or gaps (``preprocessing.table``) encodes them as it did in training.
- **images** (``preprocessing.meta["image"]``): arrays of raw pixel values as the source had them
  (0-255 for MNIST and image folders, 0-16 for scikit-learn's digits), ``(N, H, W, C)`` or
  ``(N, H, W)``; or image files (a file, or a folder walked recursively), read with Pillow as 8-bit
  pixels and resized (bilinear) only when the run resized its images.
- **token ids** (``(N, T)`` integers) and other arrays (sequences ``(N, T, F)``): arrays, or an ``.npz``.

Files are read by the data package's own readers, the ones the sources read the training data
with: :meth:`Table.from_csv <trainlab.data.table.Table.from_csv>`,
:func:`~trainlab.data.files.read_npz`, :func:`~trainlab.data.images.read_image` and
:func:`~trainlab.data.images.image_files`. Everything here is NumPy (and Pillow for images): no
TensorFlow. Each problem raises a :class:`~trainlab.errors.TrainlabError` naming the file, column or row.

Example:
    >>> batch = read("new_rows.csv", preprocessing)       # ids, model inputs
    >>> model.predict(batch.x)
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from trainlab.data.files import read_npz
from trainlab.data.images import FORMATS_TEXT, IMAGE_FORMATS, image_files, read_image
from trainlab.data.preprocessing import Preprocessing
from trainlab.data.table import Table
from trainlab.errors import TrainlabError, did_you_mean

_READS = f"a .csv (tables), an .npz (arrays 'x', or 'x_test'), an image ({FORMATS_TEXT}) or a folder of images"


@dataclass(frozen=True, eq=False)
class Batch:
    """Inputs read from a file, ready for the model.

    Attributes:
        x: the model's inputs: float32 (standardized as in training) or int32 token ids.
        ids: one per sample: its row number (from 0) or its image file's path in the folder.
        y: the labels or targets given with the inputs (``evaluate``), as the file holds them; else None.
        origin: the file as the user named it, for messages.
    """

    x: np.ndarray
    ids: list[str]
    y: np.ndarray | None
    origin: str


def kind(prep: Preprocessing) -> str:
    """What a run's inputs are: "table", "image", "tokens" or "array" (sequences and other shapes)."""
    if "image" in prep.meta:
        return "image"
    if prep.input_dtype == "int32":
        return "tokens"
    if len(prep.input_shape) == 1:
        return "table"
    return "array"


def model_inputs(x: Any, prep: Preprocessing, origin: str = "inputs") -> np.ndarray:
    """Raw inputs of any accepted form (see the module) as the model's inputs.

    Args:
        x: an array (raw values), a pandas DataFrame, a mapping of columns, a
            :class:`trainlab.data.table.Table`, or a path to a file or folder (see :func:`read`).
        prep: the run's preprocessing.
        origin: how messages name ``x`` when it is not a file.

    Raises:
        TrainlabError: inputs the run cannot take (naming the column, row or file).
    """
    if isinstance(x, (str, os.PathLike)):
        return read(x, prep).x
    if _is_columns(x):
        return table_inputs(x, prep, origin)
    return array_inputs(x, prep, origin)


# ---------------------------------------------------------------------------------- files
def read(path: str | os.PathLike, prep: Preprocessing, *, labelled: bool = False, target: str | None = None) -> Batch:
    """Read a file or a folder of inputs for the run.

    Args:
        path: a CSV file (tables), an ``.npz`` archive (arrays ``x`` or ``X``, else ``x_test``;
            labels ``y`` or ``y_test``), an image file, or a folder of images.
        prep: the run's preprocessing.
        labelled: read labels too (for ``evaluate``): a CSV's target column, an npz's ``y``,
            the class sub-folder of each image in a folder (``folder/<class>/...``).
        target: a CSV's target column; default: the one column that is not a feature.

    Returns:
        The :class:`Batch`.

    Raises:
        TrainlabError: a missing or unreadable file, a file of a kind the run cannot take,
            a missing column or array, a value of the wrong type, an image of another size.
    """
    shown = os.fspath(path)
    file = Path(shown).expanduser()
    if file.is_dir():
        return _image_folder(file, shown, prep, labelled)
    if not file.exists():
        raise TrainlabError(shown, "file not found")
    suffix = file.suffix.lower()
    if suffix == ".csv":
        return _csv(file, shown, prep, labelled, target)
    if suffix == ".npz":
        return _npz(file, shown, prep, labelled)
    if suffix in IMAGE_FORMATS:
        if labelled:
            raise TrainlabError(shown, "is one image without a label; to evaluate, give a folder with one"
                                       " sub-folder of images per class")
        return Batch(_images([file], [shown], prep), [file.name], None, shown)
    raise TrainlabError(shown, f"is not an input trainlab reads; give {_READS}")


def _csv(file: Path, shown: str, prep: Preprocessing, labelled: bool, target: str | None) -> Batch:
    if kind(prep) != "table":
        raise TrainlabError(shown, f"a CSV holds a table, but this run takes {_what(prep)}; give {_wanted(prep)}")
    table = Table.from_csv(file, origin=shown)
    y = None
    if labelled:
        y = table.columns[_target_column(table.names, _feature_columns(prep), target, shown)]
    x = table_inputs(table, prep, shown)
    return Batch(x, [str(i) for i in range(len(x))], y, shown)


def _npz(file: Path, shown: str, prep: Preprocessing, labelled: bool) -> Batch:
    arrays = read_npz(file, shown)
    names = sorted(arrays)
    key = next((k for k in ("x", "X", "x_test") if k in arrays), None)
    if key is None:
        raise TrainlabError(shown, "needs an array 'x' (or 'X', or 'x_test'); it has", ", ".join(names) or "no arrays")
    y = None
    if labelled:
        wanted = "y_test" if key == "x_test" else "y"
        if wanted not in arrays:
            raise TrainlabError(shown, f"needs the labels of '{key}' as an array {wanted!r}; it has", ", ".join(names))
        y = arrays[wanted]
        if len(y) != len(arrays[key]):
            raise TrainlabError(shown, f"needs one label per sample in {wanted!r} ({len(arrays[key])})", len(y))
    x = array_inputs(arrays[key], prep, f"{shown}: array {key!r}")
    return Batch(x, [str(i) for i in range(len(x))], y, shown)


def _target_column(header: list[str], features: list[str], target: str | None, shown: str) -> str:
    if target is not None:
        if target not in header:
            raise TrainlabError(shown, f"has no target column{did_you_mean(target, header)}; columns:"
                                       f" {', '.join(header)}", target)
        return target
    others = [name for name in header if name not in features]
    if len(others) == 1:
        return others[0]
    if not others:
        raise TrainlabError(shown, "has no target column (every column is a feature); add the labels as a column",
                            ", ".join(header))
    raise TrainlabError(shown, "has several columns that are not features; name the target (--target)",
                        ", ".join(others))


# ---------------------------------------------------------------------------------- tables
def _is_columns(x: Any) -> bool:
    return isinstance(x, Mapping) or hasattr(x, "columns") and not isinstance(x, np.ndarray)


def _feature_columns(prep: Preprocessing) -> list[str]:
    """The raw columns the run's table needs: its encoding's columns, else its feature names."""
    if prep.table is not None:
        return [column.name for column in prep.table.columns]
    return list(prep.feature_names or [])


def table_inputs(columns: Any, prep: Preprocessing, origin: str = "inputs") -> np.ndarray:
    """A table given by column name (a mapping, a DataFrame or a ``Table``) as the model's inputs.

    Columns are matched by name, in any order; others are ignored. A ``Table`` read from a file
    names its rows by line in messages.

    Raises:
        TrainlabError: the run does not take a table, a column is missing, or a cell is not a number
            (for a column the run encoded as numbers), naming the column and the line or row.
    """
    if kind(prep) != "table":
        raise TrainlabError(origin, f"a table of named columns, but this run takes {_what(prep)}; give"
                                    f" {_wanted(prep)}")
    names = _columns_of(columns)
    for name in _feature_columns(prep):
        if name not in names:
            raise TrainlabError(origin, f"column not found{did_you_mean(name, names)}; the model needs it (columns:"
                                        f" {', '.join(names)})", name)
    if prep.table is not None:
        return prep.transform(columns if isinstance(columns, Table) else Table.from_frame(columns, origin))
    return prep.transform(_numbers(columns, _feature_columns(prep), origin))


def _columns_of(columns: Any) -> list[str]:
    if isinstance(columns, Table):
        return columns.names
    return [str(name) for name in (columns.columns if hasattr(columns, "columns") else columns)]


def _numbers(columns: Any, names: Sequence[str], origin: str) -> np.ndarray:
    """The named columns as float64 ``(N, F)``, each cell a finite number."""
    lines = columns.lines if isinstance(columns, Table) else None
    values = []
    for name in names:
        cells = columns.columns[name] if isinstance(columns, Table) else columns[name]
        cells = np.asarray(cells.to_numpy() if hasattr(cells, "to_numpy") else cells)
        values.append(_number_column(cells.reshape(-1), name, origin, lines))
    lengths = {len(v) for v in values}
    if len(lengths) > 1:
        raise TrainlabError(origin, "columns need one value per row each; lengths", sorted(lengths))
    return np.stack(values, axis=1) if values else np.zeros((0, 0))


def _number_column(cells: np.ndarray, name: str, origin: str, lines: np.ndarray | None) -> np.ndarray:
    where = (lambda i: f"line {int(lines[i])}") if lines is not None else (lambda i: f"row {i}")
    if cells.dtype.kind in "iufb":
        column = cells.astype(np.float64)
    else:
        column = np.empty(len(cells))
        for i, cell in enumerate(cells):
            try:
                column[i] = float(cell) if not (isinstance(cell, str) and not cell.strip()) else np.nan
            except (TypeError, ValueError):
                raise TrainlabError(origin, f"{where(i)}, column {name!r}: must be a number (the model was trained"
                                            " on numbers in this column)", cell) from None
    bad = np.flatnonzero(~np.isfinite(column))
    if len(bad):
        i = int(bad[0])
        cell = cells[i]
        raise TrainlabError(origin, f"{where(i)}, column {name!r}: must be a finite number (no gap, NaN or inf:"
                                    " this run's data had none)", cell if isinstance(cell, str) else float(column[i]))
    return column


# ---------------------------------------------------------------------------------- arrays
def array_inputs(x: Any, prep: Preprocessing, origin: str = "inputs") -> np.ndarray:
    """Raw arrays, shaped as the run's samples (one sample, or ``(N, ...)``), as the model's inputs.

    Images are raw pixel values as the source had them: the run's scale is applied here
    (``preprocessing.meta["image"]["scale"]``); ``(N, H, W)`` gains the channel axis of
    one-channel images. Token ids must be integers.

    Raises:
        TrainlabError: another shape than the run's samples, values that are not numbers or not
            finite, token ids that are not integers.
    """
    x = np.asarray(x)
    if prep.table is not None:  # the table's raw columns, in its order: by name, as a table
        names = _feature_columns(prep)
        x = x[None] if x.ndim == 1 else x
        if x.ndim != 2 or x.shape[1] != len(names):
            raise TrainlabError(origin, f"needs one column per raw column of the run's table ({len(names)}: "
                                        f"{', '.join(names)}); or give a CSV, a DataFrame or a mapping of columns",
                                f"shape {x.shape}")
        return table_inputs({name: x[:, j] for j, name in enumerate(names)}, prep, origin)
    shape = tuple(prep.input_shape)
    if x.dtype.kind not in "iufb":
        try:
            x = x.astype(np.float64)
        except (TypeError, ValueError):
            raise TrainlabError(origin, "must hold numbers", str(x.dtype)) from None
    if "image" in prep.meta and shape[-1] == 1 and x.ndim in (2, 3) and x.shape[-2:] == shape[:2]:
        x = x[..., None]  # grey images without their channel axis: (H, W) or (N, H, W)
    if x.ndim == len(shape):
        x = x[None]  # one sample
    if tuple(x.shape[1:]) != shape:
        raise TrainlabError(origin, f"needs samples shaped as the run's, ({', '.join(map(str, shape))}) each",
                            f"shape {x.shape}")
    if len(x) == 0:
        raise TrainlabError(origin, "holds no samples", f"shape {x.shape}")
    if prep.input_dtype == "int32":
        return prep.transform(_token_ids(x, origin))
    x = x.astype(np.float64)
    bad = np.argwhere(~np.isfinite(x))
    if len(bad):
        raise TrainlabError(origin, f"must be finite (no NaN or inf); sample {int(bad[0][0])}, index"
                                    f" {tuple(int(v) for v in bad[0][1:])}", float(x[tuple(bad[0])]))
    image = prep.meta.get("image")
    if image is not None:
        x = scaled_pixels(x, float(image.get("scale", 1.0)))
    return prep.transform(x)


def scaled_pixels(x: np.ndarray, scale: float) -> np.ndarray:
    """Raw pixels times the source's ``scale``, computed as the sources compute it (float32 ``x / (1 / scale)``)."""
    divisor = 1.0 / scale
    if abs(divisor - round(divisor)) < 1e-9:  # 255, 16: the sources divide float32 pixels by it
        return np.asarray(x, np.float32) / np.float32(round(divisor))
    return (np.asarray(x, np.float64) * scale).astype(np.float32)


def _token_ids(x: np.ndarray, origin: str) -> np.ndarray:
    if x.dtype.kind == "f":
        whole = np.isfinite(x) & (x == np.round(x))
        if not whole.all():
            i = tuple(int(v) for v in np.argwhere(~whole)[0])
            raise TrainlabError(origin, f"token ids must be integers; sample {i[0]}, step {i[1:]}", float(x[i]))
    x = x.astype(np.int64)
    if (x < 0).any():
        i = tuple(int(v) for v in np.argwhere(x < 0)[0])
        raise TrainlabError(origin, f"token ids must be >= 0; sample {i[0]}, step {i[1:]}", int(x[i]))
    return x


# ---------------------------------------------------------------------------------- images
def _image_folder(folder: Path, shown: str, prep: Preprocessing, labelled: bool) -> Batch:
    if kind(prep) != "image":
        raise TrainlabError(shown, f"is a folder (of images?), but this run takes {_what(prep)}; give {_wanted(prep)}")
    files = image_files(folder)  # in the order the image_folder source reads a folder
    if not files:
        raise TrainlabError(shown, f"holds no images ({FORMATS_TEXT})")
    ids = [f.relative_to(folder).as_posix() for f in files]
    y = None
    if labelled:
        loose = [i for i in ids if "/" not in i]
        if loose:
            raise TrainlabError(shown, "to evaluate, put each image in the sub-folder of its class"
                                       " (folder/<class>/...); an image outside one", loose[0])
        y = np.array([i.split("/", 1)[0] for i in ids], dtype=object)
    shown_files = [os.path.join(shown, i) for i in ids]
    return Batch(_images(files, shown_files, prep), ids, y, shown)


def _images(files: Sequence[Path], shown: Sequence[str], prep: Preprocessing) -> np.ndarray:
    image = prep.meta["image"] if "image" in prep.meta else None
    if image is None:
        raise TrainlabError(shown[0], f"is an image, but this run takes {_what(prep)}; give {_wanted(prep)}")
    height, width = (int(v) for v in image.get("size", prep.input_shape[:2]))
    color = image.get("color", "rgb" if prep.input_shape[-1] == 3 else "grayscale")
    resize = bool(image.get("resize"))
    x = np.empty((len(files), height, width, 1 if color == "grayscale" else 3), np.float32)
    for i, (file, name) in enumerate(zip(files, shown)):
        # Files hold 8-bit pixels, read to [0, 1] as the image sources read them (whatever the run's own raw range).
        x[i] = read_image(file, (height, width), color, name, resize=resize)
    return prep.transform(x)


# ---------------------------------------------------------------------------------- words
def _what(prep: Preprocessing) -> str:
    shape = "x".join(map(str, prep.input_shape))
    return {"table": f"a table of {prep.input_shape[0]} features", "image": f"images ({shape})",
            "tokens": f"token id sequences ({shape})", "array": f"arrays shaped ({shape})"}[kind(prep)]


def _wanted(prep: Preprocessing) -> str:
    return {"table": "a .csv, a DataFrame or an array", "image": "images, a folder of images or an .npz",
            "tokens": "an .npz (array 'x') or an array", "array": "an .npz (array 'x') or an array"}[kind(prep)]


# ---------------------------------------------------------------------------------- labels
def labels(y: Any, prep: Preprocessing, origin: str = "y", n: int | None = None) -> np.ndarray:
    """Labels as the data had them, encoded as the run encoded them.

    Classification: each label is a class name (numbers compare as numbers: ``3.0`` is the
    class ``3``); when none of them is a name, codes ``0..K-1`` are read as codes. Regression:
    finite numbers, ``(N,)`` or ``(N, T)``.

    Returns:
        int64 codes ``(N,)``, or float32 targets ``(N,)`` / ``(N, T)``.

    Raises:
        TrainlabError: not one label per sample (``n``), a label that is no class of the run,
            a target that is not a finite number.
    """
    y = np.asarray(y.to_numpy() if hasattr(y, "to_numpy") else y)
    if y.ndim == 0:
        y = y.reshape(1)
    if n is not None and len(y) != n:
        raise TrainlabError(origin, f"needs one label per sample ({n})", len(y))
    if prep.class_names is None:
        return _targets(y, origin)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise TrainlabError(origin, "class labels must be one column", f"shape {y.shape}")
    names = {name: code for code, name in enumerate(prep.class_names)}
    texts = [_label_text(v) for v in y.tolist()]
    codes = np.fromiter((names.get(t, names.get(_number_text(t), -1)) for t in texts), dtype=np.int64,
                        count=len(texts))
    if len(texts) and (codes < 0).all():  # no label is a class name: codes 0..K-1?
        as_codes = [_number_text(t) for t in texts]
        if all(c.isdigit() and int(c) < len(names) for c in as_codes):
            return np.asarray([int(c) for c in as_codes], np.int64)
    if (codes < 0).any():
        i = int(np.flatnonzero(codes < 0)[0])
        raise TrainlabError(origin, f"row {i} holds a class that is not among the run's classes"
                                    f" ({', '.join(prep.class_names)})", texts[i])
    return codes


def _label_text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace").strip()
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value).strip()


def _number_text(text: str) -> str:
    """A label's text as a number's class name: ``3.0`` -> ``3`` (the run names whole-number classes so)."""
    try:
        number = float(text)
    except ValueError:
        return text
    return str(int(number)) if number.is_integer() else text


def _targets(y: np.ndarray, origin: str) -> np.ndarray:
    try:
        values = y.astype(np.float64)
    except (TypeError, ValueError):
        for i, v in enumerate(y.reshape(len(y), -1)):
            try:
                v.astype(np.float64)
            except (TypeError, ValueError):
                raise TrainlabError(origin, f"regression targets must be numbers; row {i}", v.tolist()[0]) from None
        raise
    bad = np.argwhere(~np.isfinite(values))
    if len(bad):
        raise TrainlabError(origin, f"targets must be finite (no NaN or inf); row {int(bad[0][0])}",
                            float(values[tuple(bad[0])]))
    return values.astype(np.float32)
