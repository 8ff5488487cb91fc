"""Tables of named columns, and their encoding as the numbers a model takes.

A :class:`Table` is a table as read: named columns of text cells (stripped of surrounding
spaces) and, for a file, each row's line for messages. A :class:`TableEncoder` turns a
table into a float64 matrix ``(N, F)``. It is fitted on the training rows only and then
applied to every split, and to new rows at prediction time:

- a numeric column stays one column under its own name;
- a categorical column becomes one-hot columns: one per kept training category, in sorted
  order, then one for every other value: ``color=blue``, ``color=red``, ``color=<other>``.
  The kept categories are the ``max_categories`` most frequent in the training rows (ties
  go to the earlier in sorted order); the rest, and values never seen in training, are
  ``<other>``;
- a missing cell is empty or one of :data:`MISSING_VALUES` (a subset of pandas' default NA
  markers). With ``missing="error"`` it is refused; otherwise a numeric gap gets the
  training rows' mean, median or most frequent value, and a categorical gap the most
  frequent training category, whichever the strategy.

The encoder finds columns by name, so new rows may have their columns in any order (and
extra columns, such as the target, which it ignores).

Example:
    >>> table = Table.from_csv("examples/data/table.csv").drop("segment")
    >>> encoder = TableEncoder.fit(table.rows(train_rows), missing="median")
    >>> x = encoder.transform(table)          # float64 (N, len(encoder.feature_names))
    >>> TableEncoder.from_dict(encoder.to_dict()).feature_names == encoder.feature_names
    True
"""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from trainlab.errors import TrainlabError, did_you_mean

#: Cells read as missing (after stripping spaces): the empty cell and common NA markers.
MISSING_VALUES = ("", "NA", "N/A", "n/a", "NaN", "nan", "NULL", "null", "None")

#: The category of every value a categorical column did not keep (rare, or unseen in training).
OTHER = "<other>"

#: What a missing feature cell becomes (``data.missing``).
MISSING_STRATEGIES = ("error", "mean", "median", "most_frequent")

Strategy = Literal["error", "mean", "median", "most_frequent"]

#: The version of :meth:`TableEncoder.to_dict`'s layout; a reader refuses a newer one.
FORMAT = 1


@dataclass(frozen=True, eq=False)
class Table:
    """Named columns of text cells, one row per sample.

    Attributes:
        columns: column name to an object array of ``str`` cells, in the file's column order.
        lines: each row's line in its file (for messages), or None (rows are then named by index).
        origin: where the table came from, for messages (a file as the user wrote it).
    """

    columns: Mapping[str, np.ndarray]
    lines: np.ndarray | None = None
    origin: str = "inputs"

    def __len__(self) -> int:
        return len(next(iter(self.columns.values()))) if self.columns else 0

    @property
    def names(self) -> list[str]:
        """The column names, in order."""
        return list(self.columns)

    def column(self, name: str) -> np.ndarray:
        """The cells of column ``name``.

        Raises:
            TrainlabError: there is no such column (naming the table's columns).
        """
        if name not in self.columns:
            raise TrainlabError(
                self.origin,
                f"column not found{did_you_mean(name, self.names)}; columns: {', '.join(self.names)}",
                name,
            )
        return self.columns[name]

    def rows(self, indices: Sequence[int] | np.ndarray) -> Table:
        """The table of the rows ``indices`` (in that order), e.g. the training split's."""
        indices = np.asarray(indices, dtype=np.int64)
        lines = None if self.lines is None else self.lines[indices]
        return Table({name: cells[indices] for name, cells in self.columns.items()}, lines, self.origin)

    def drop(self, *names: str) -> Table:
        """The table without the columns ``names`` (the target, a weight column)."""
        return Table({n: cells for n, cells in self.columns.items() if n not in names}, self.lines, self.origin)

    def where(self, row: int) -> str:
        """Row ``row`` as a message names it: ``line 12`` in a file, else ``row 3`` (counting from 0)."""
        return f"line {int(self.lines[row])}" if self.lines is not None else f"row {row}"

    @classmethod
    def from_columns(cls, columns: Mapping[str, Any], origin: str = "inputs") -> Table:
        """A table from a mapping of column name to values (a list, an array, a pandas Series).

        Cells become text as a CSV file would hold them: numbers with no fractional part as
        integers (pandas makes an integer column with gaps float), None and NaN as missing.
        A mapping of single values is one row.

        Raises:
            TrainlabError: columns of different lengths.

        Example:
            >>> Table.from_columns({"color": ["red", None], "size": [3, 4.5]}).columns["size"]
            array(['3', '4.5'], dtype=object)
        """
        cells: dict[str, np.ndarray] = {}
        for name, values in columns.items():
            values = [values] if isinstance(values, str) or np.ndim(values) == 0 else _as_list(values)
            cells[str(name)] = np.array([_cell_text(v) for v in values], dtype=object)
        if not cells:
            raise TrainlabError(origin, "needs at least one column", "none")
        first, n = next(iter(cells)), len(next(iter(cells.values())))
        for name, column in cells.items():
            if len(column) != n:
                raise TrainlabError(origin, f"column {name!r} needs as many values as column {first!r} ({n})", len(column))
        return cls(cells, None, origin)

    @classmethod
    def from_frame(cls, frame: Any, origin: str = "inputs") -> Table:
        """A table from a pandas ``DataFrame`` (or any mapping of column name to values).

        Raises:
            TrainlabError: two columns with the same name, or columns of different lengths.
        """
        names = list(frame.columns) if hasattr(frame, "columns") else list(frame)
        seen: set[str] = set()
        for name in names:
            if str(name) in seen:
                raise TrainlabError(origin, "column names must be unique", str(name))
            seen.add(str(name))
        return cls.from_columns({str(name): frame[name] for name in names}, origin)

    @classmethod
    def from_csv(cls, path: str | Path, delimiter: str = ",", origin: str | None = None) -> Table:
        """Read a UTF-8 CSV file with a header row; blank lines are skipped, a byte-order mark ignored.

        Args:
            path: the file.
            delimiter: the cell separator.
            origin: the file as the user wrote it, for messages; default ``str(path)``.

        Raises:
            TrainlabError: naming the file and line: no header, no data rows, a header cell
                without a name or twice, a row with another number of cells, not UTF-8 text.
        """
        origin = str(path) if origin is None else origin
        header, rows, lines = _read_rows(Path(path), origin, delimiter)
        cells = np.empty((len(rows), len(header)), dtype=object)
        cells[:] = rows
        return cls({name: cells[:, j] for j, name in enumerate(header)}, np.asarray(lines, np.int64), origin)


def missing_cells(cells: np.ndarray, missing_values: Sequence[str] = MISSING_VALUES) -> np.ndarray:
    """A boolean mask of the cells that are missing (empty or an NA marker)."""
    markers = frozenset(missing_values)
    return np.fromiter((cell in markers for cell in cells), dtype=bool, count=len(cells))


def text_columns(table: Table) -> list[str]:
    """The columns where some non-missing cell is not a number (``data.categorical: auto``)."""
    found = []
    for name, cells in table.columns.items():
        present = cells[~missing_cells(cells)]
        try:
            present.astype(np.float64)
        except ValueError:
            found.append(name)
    return found


@dataclass(frozen=True)
class Column:
    """How one column of a table is encoded.

    Attributes:
        name: the column's name.
        kind: "numeric" or "categorical".
        fill: what a missing cell becomes (a number, or a kept category); None: it is refused.
        categories: the kept training categories, sorted (categorical columns).
    """

    name: str
    kind: Literal["numeric", "categorical"]
    fill: float | str | None = None
    categories: tuple[str, ...] = ()

    @property
    def feature_names(self) -> list[str]:
        if self.kind == "numeric":
            return [self.name]
        return [f"{self.name}={c}" for c in (*self.categories, OTHER)]

    def encode(self, table: Table, missing: np.ndarray) -> np.ndarray:
        """This column of ``table`` as float64 ``(N, 1)`` (numeric) or one-hot ``(N, K + 1)``."""
        cells = table.column(self.name)
        if self.kind == "numeric":
            values = _numbers(table, self.name, cells, missing)
            values[missing] = np.nan if self.fill is None else self.fill
            return values[:, None]
        index = {category: k for k, category in enumerate(self.categories)}
        other = len(self.categories)
        codes = np.fromiter((index.get(cell, other) for cell in cells), dtype=np.int64, count=len(cells))
        if self.fill is not None:
            codes[missing] = index[self.fill]
        onehot = np.zeros((len(cells), other + 1))
        onehot[np.arange(len(cells)), codes] = 1.0
        return onehot


@dataclass(frozen=True, eq=False)
class TableEncoder:
    """A table's columns as numbers: the encoding fitted on the training rows (see the module).

    Attributes:
        columns: how each feature column is encoded, in the fitted table's order.
        missing: the strategy for missing cells (``data.missing``).
        max_categories: the categories kept per categorical column.
        missing_values: the cells read as missing.
    """

    columns: tuple[Column, ...]
    missing: Strategy = "error"
    max_categories: int = 50
    missing_values: tuple[str, ...] = MISSING_VALUES

    @classmethod
    def fit(
        cls,
        table: Table,
        categorical: str | Sequence[str] = "auto",
        missing: Strategy = "error",
        max_categories: int = 50,
        origin: str | None = None,
    ) -> TableEncoder:
        """Fit the encoding on ``table`` (the training rows).

        Every column of ``table`` is a feature. Under ``missing="error"`` fitting accepts gaps
        (the statistics use the present cells) and :meth:`transform` refuses them.

        Args:
            table: the training rows' feature columns.
            categorical: "auto" (the text columns: :func:`text_columns`) or the categorical
                columns' names (a numeric column listed is categorical too, e.g. zip codes).
            missing: "error", "mean", "median" or "most_frequent" (see the module).
            max_categories: the categories kept per categorical column (>= 1).
            origin: where the table came from, for messages; default ``table.origin``.

        Returns:
            The fitted encoder.

        Raises:
            TrainlabError: an unknown strategy, ``max_categories < 1``, a listed column that
                is not in the table, a non-number in a numeric column, or a column with no
                value to fill its gaps with.

        Example:
            >>> TableEncoder.fit(Table.from_columns({"c": ["a", "b", "a"], "x": ["1", "", "3"]}),
            ...                  missing="mean").transform(Table.from_columns({"x": [""], "c": ["z"]}))
            array([[0., 0., 1., 2.]])
        """
        origin = table.origin if origin is None else origin
        if missing not in MISSING_STRATEGIES:
            raise TrainlabError("data.missing", f"must be one of {', '.join(MISSING_STRATEGIES)}", missing)
        if isinstance(max_categories, bool) or not isinstance(max_categories, int) or max_categories < 1:
            raise TrainlabError("data.max_categories", "must be an integer >= 1", max_categories)
        chosen = _categorical(table, categorical, origin)
        columns = []
        for name, cells in table.columns.items():
            gaps = missing_cells(cells)
            if name in chosen:
                columns.append(_fit_categorical(name, cells[~gaps], missing, max_categories, origin))
            else:
                values = _numbers(table, name, cells, gaps)[~gaps]
                columns.append(Column(name, "numeric", _numeric_fill(name, values, missing, origin)))
        return cls(tuple(columns), missing, max_categories)

    @property
    def feature_names(self) -> list[str]:
        """One name per output column: numeric columns' own, ``name=category`` for one-hot ones."""
        return [feature for column in self.columns for feature in column.feature_names]

    def transform(self, table: Table | Any) -> np.ndarray:
        """Encode ``table`` (a :class:`Table`, a pandas DataFrame or a mapping of columns) as float64 ``(N, F)``.

        Columns are found by name, in any order; columns the encoder does not know are ignored.

        Raises:
            TrainlabError: a missing column, a non-number in a numeric column, or (under
                ``missing="error"``) a missing cell: naming the column and the line or row.
        """
        table = table if isinstance(table, Table) else Table.from_frame(table)
        gaps = {c.name: missing_cells(table.column(c.name), self.missing_values) for c in self.columns}
        if self.missing == "error":
            _refuse_gaps(table, gaps)
        blocks = [column.encode(table, gaps[column.name]) for column in self.columns]
        return np.concatenate(blocks, axis=1) if blocks else np.zeros((len(table), 0))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (the ``table`` entry of ``preprocessing.json``)."""
        return {
            "format": FORMAT,
            "missing": self.missing,
            "max_categories": self.max_categories,
            "missing_values": list(self.missing_values),
            "columns": [
                {"name": c.name, "kind": c.kind, "fill": c.fill,
                 **({"categories": list(c.categories)} if c.kind == "categorical" else {})}
                for c in self.columns
            ],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], origin: str = "preprocessing.json") -> TableEncoder:
        """Read what :meth:`to_dict` wrote.

        Raises:
            TrainlabError: a newer format, or a dict that is not a table encoding.
        """
        version = data.get("format") if isinstance(data, Mapping) else None
        if not isinstance(version, int) or version > FORMAT:
            raise TrainlabError(origin, f"table: is not a table encoding this trainlab reads (format <= {FORMAT})",
                                version)
        try:
            columns = tuple(
                Column(str(c["name"]), c["kind"], c.get("fill"), tuple(str(v) for v in c.get("categories", ())))
                for c in data["columns"]
            )
            for c in columns:
                if c.kind == "numeric" and not (c.fill is None or isinstance(c.fill, (int, float))):
                    raise ValueError(f"column {c.name!r}: a numeric fill must be a number")
                if c.kind == "categorical" and not (c.fill is None or c.fill in c.categories):
                    raise ValueError(f"column {c.name!r}: the fill must be one of its categories")
                if c.kind not in ("numeric", "categorical"):
                    raise ValueError(f"column {c.name!r}: kind must be numeric or categorical")
            if data["missing"] not in MISSING_STRATEGIES:
                raise ValueError(f"missing must be one of {', '.join(MISSING_STRATEGIES)}")
            missing_values = tuple(str(v) for v in data["missing_values"])
            return cls(columns, data["missing"], int(data["max_categories"]), missing_values)
        except (KeyError, TypeError, ValueError) as exc:
            raise TrainlabError(origin, "table: is not a table encoding this trainlab reads", str(exc)) from None


# -- fitting -------------------------------------------------------------------------------------


def _categorical(table: Table, categorical: str | Sequence[str], origin: str) -> set[str]:
    if isinstance(categorical, str):
        if categorical != "auto":
            raise TrainlabError("data.categorical", "must be 'auto' or a list of column names", categorical)
        return set(text_columns(table))
    for name in categorical:
        if name not in table.columns:
            raise TrainlabError(
                "data.categorical",
                f"column not found in {origin}{did_you_mean(name, table.names)}; feature columns: "
                f"{', '.join(table.names)}",
                name,
            )
    return set(categorical)


def _fit_categorical(name: str, present: np.ndarray, missing: str, max_categories: int, origin: str) -> Column:
    values, counts = np.unique(present.astype(str), return_counts=True)
    ranked = sorted(zip(values.tolist(), counts.tolist()), key=lambda vc: (-vc[1], vc[0]))  # ties: sorted order
    kept = tuple(sorted(value for value, _ in ranked[:max_categories]))
    if missing == "error":
        return Column(name, "categorical", None, kept)
    if not ranked:
        raise _nothing_to_fill(name, missing, origin)
    return Column(name, "categorical", ranked[0][0], kept)  # the most frequent category, whatever the strategy


def _numeric_fill(name: str, values: np.ndarray, missing: str, origin: str) -> float | None:
    if missing == "error":
        return None
    if not len(values):
        raise _nothing_to_fill(name, missing, origin)
    if missing == "mean":
        return float(values.mean())
    if missing == "median":
        return float(np.median(values))
    distinct, counts = np.unique(values, return_counts=True)
    return float(distinct[np.argmax(counts)])  # ties: the smallest, as scikit-learn's SimpleImputer


def _nothing_to_fill(name: str, missing: str, origin: str) -> TrainlabError:
    return TrainlabError(
        origin, f"column {name!r} has no value in the training rows to fill its gaps with (data.missing: {missing})",
        "only missing cells",
    )


# -- encoding ------------------------------------------------------------------------------------


def _numbers(table: Table, name: str, cells: np.ndarray, gaps: np.ndarray) -> np.ndarray:
    """The column as float64, NaN where a cell is missing.

    Raises:
        TrainlabError: a present cell that is not a finite number (naming its line).
    """
    values = np.full(len(cells), np.nan)
    present = ~gaps
    try:
        values[present] = cells[present].astype(np.float64)
    except ValueError:
        for i in np.flatnonzero(present):  # find the cell to name it
            try:
                float(cells[i])
            except ValueError:
                raise TrainlabError(
                    table.origin,
                    f"{table.where(i)}, column {name!r}: must be a number (a numeric column; list it in"
                    " data.categorical to treat its values as categories)",
                    cells[i],
                ) from None
        raise  # numpy refused a cell that float() accepts: not expected
    bad = np.flatnonzero(present & ~np.isfinite(values))
    if len(bad):
        i = int(bad[0])
        raise TrainlabError(
            table.origin, f"{table.where(i)}, column {name!r}: features must be finite (no NaN or inf)", cells[i]
        )
    return values


def _refuse_gaps(table: Table, gaps: Mapping[str, np.ndarray]) -> None:
    """Under ``missing="error"``: the first missing cell, in row order, is an error."""
    rows = [int(np.argmax(mask)) if mask.any() else len(table) for mask in gaps.values()]
    if not rows or min(rows) == len(table):
        return
    row = min(rows)
    name = list(gaps)[rows.index(row)]
    raise TrainlabError(
        table.origin,
        f"{table.where(row)}, column {name!r}: missing value; set data.missing to mean, median or most_frequent"
        " to fill gaps",
        table.columns[name][row],
    )


# -- reading -------------------------------------------------------------------------------------


def _as_list(values: Any) -> list[Any]:
    return values.tolist() if hasattr(values, "tolist") else list(values)


def _cell_text(value: Any) -> str:
    """One value as a CSV cell would hold it."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        number = float(value)
        if math.isnan(number):
            return ""
        return str(int(number)) if number.is_integer() else repr(number)
    text = str(value).strip()
    return "" if text in ("<NA>", "NaT") else text  # pandas' missing markers


def _read_rows(file: Path, path: str, delimiter: str) -> tuple[list[str], list[list[str]], list[int]]:
    header: list[str] | None = None
    rows: list[list[str]] = []
    lines: list[int] = []
    try:
        with open(file, newline="", encoding="utf-8-sig") as fh:
            reader = csv.reader(fh, delimiter=delimiter)
            for row in reader:
                cells = [cell.strip() for cell in row]
                if not any(cells):
                    continue  # blank lines carry no sample
                if header is None:
                    header = _check_header(cells, path)
                elif len(cells) != len(header):
                    raise TrainlabError(
                        path, f"line {reader.line_num}: every row needs as many cells as the header ({len(header)})",
                        len(cells),
                    )
                else:
                    rows.append(cells)
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
