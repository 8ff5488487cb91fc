"""The run directory: the contract between training and everything after it.

Files (see README.md): ``recipe.yaml`` (resolved), ``history.csv`` (one row per
epoch), ``steps.csv`` (one row per step), ``layers.csv`` (per-layer norms per epoch),
``events.csv`` (non-finite values met and what was done), ``summary.json``, ``model.keras``,
``weights.npz`` (kernel values after the first and the last epoch), ``tensorboard/`` and
``state/`` (checkpoints, for ``trainlab resume``). Records are plain CSV/JSON so
figures, diagnosis and reports can be rebuilt from them without a model.
"""

from __future__ import annotations

import csv
import json
import math
import os
import re
import shutil
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from trainlab.errors import TrainlabError

HISTORY = "history.csv"
STEPS = "steps.csv"
LAYERS = "layers.csv"
SUMMARY = "summary.json"
RECIPE = "recipe.yaml"
PREPROCESSING = "preprocessing.json"  # what the inputs went through (trainlab.data.Preprocessing)
MODEL = "model.keras"
TENSORBOARD = "tensorboard"
WEIGHTS = "weights.npz"
EVENTS = "events.csv"
STATE = "state"


def new_run_dir(name: str, out: str | Path | None = None, root: str | Path = "runs") -> Path:
    """Create the run directory, never reusing one that holds files.

    Args:
        name: the recipe's name, used for the default folder ``runs/<name>-<timestamp>``.
        out: an explicit folder; it may exist only if it is empty.
        root: where default folders go.

    Raises:
        TrainlabError: ``out`` is empty text, exists and is not an empty folder, or cannot be created.
    """
    if out is not None:
        if not str(out).strip():
            raise TrainlabError("--out", "must name a folder (it is empty)", str(out))
        path = Path(out)
        if path.exists() and not path.is_dir():
            raise TrainlabError(str(path), "is a file, not a folder; choose a new --out folder")
        if path.exists() and any(path.iterdir()):
            raise TrainlabError(str(path), "already exists and is not empty; choose a new --out folder")
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:  # under a file, no permission, a read-only file system
            raise TrainlabError(str(path), f"cannot create the folder ({exc.strerror}); choose another --out") from None
        return path.resolve()
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-") or "run"
    base = Path(root) / f"{stem}-{time.strftime('%Y%m%d-%H%M%S')}"
    path, n = base, 1
    while True:
        try:
            path.mkdir(parents=True, exist_ok=False)
            return path.resolve()
        except FileExistsError:
            n += 1
            path = base.with_name(f"{base.name}-{n}")


def discard(path: Path) -> None:
    """Remove a run directory that training never started in (only trainlab's own files were written)."""
    shutil.rmtree(path, ignore_errors=True)


def write_json(path: Path, data: Mapping[str, Any]) -> None:
    """Write JSON atomically (temporary file, fsync, rename): a crash never leaves half a file."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(_finite(data), f, indent=2)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def write_npz(path: Path, arrays: Mapping[str, Any]) -> None:
    """Write NumPy arrays to ``path`` (.npz) atomically, like :func:`write_json`."""
    import numpy as np

    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        np.savez(f, **arrays)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def write_yaml(path: Path, data: Mapping[str, Any], header: str | None = None) -> None:
    """Write ``data`` as YAML, with ``header`` as a leading comment."""
    with open(path, "w", encoding="utf-8") as f:
        if header:
            f.write("".join(f"# {line}\n" for line in header.splitlines()))
        yaml.safe_dump(dict(data), f, sort_keys=False)


def read_csv(path: str | Path) -> list[dict[str, Any]]:
    """Read a records CSV back as dicts of floats (ints for whole-number columns, None for blanks)."""
    with open(path, newline="", encoding="utf-8") as f:
        return [{k: _number(v) for k, v in row.items()} for row in csv.DictReader(f)]


class CsvRecords:
    """An append-only CSV with a fixed header, flushed after every write.

    Args:
        path: the file to create.
        columns: the header; rows may omit columns (blank cells).
        keep: continue an existing file after its first ``keep`` rows (a resumed run): the
            rows after them are dropped (the file is rewritten atomically) and new rows appended.
            None: a new file.

    Raises:
        ValueError: with ``keep``, the file's header differs or it has fewer rows (see :func:`count_rows`).
    """

    def __init__(self, path: Path, columns: Sequence[str], keep: int | None = None) -> None:
        self.path = path
        self.columns = list(columns)
        self.kept: list[dict[str, Any]] = []
        if keep is None:
            self._file = open(path, "w", newline="", encoding="utf-8")
            self._writer = csv.DictWriter(self._file, fieldnames=self.columns, extrasaction="ignore")
            self._writer.writeheader()
        else:
            lines = _record_lines(path, self.columns, keep)
            tmp = path.with_name(path.name + ".tmp")
            with open(tmp, "w", newline="", encoding="utf-8") as f:
                f.writelines(lines)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
            self.kept = [{k: _number(v) for k, v in row.items()} for row in csv.DictReader(lines)]
            self._file = open(path, "a", newline="", encoding="utf-8")
            self._writer = csv.DictWriter(self._file, fieldnames=self.columns, extrasaction="ignore")
        self._file.flush()

    def write(self, rows: Iterable[Mapping[str, Any]]) -> None:
        self._writer.writerows(rows)
        self._file.flush()

    def close(self) -> None:
        if not self._file.closed:
            self._file.close()


def count_rows(path: Path, columns: Sequence[str]) -> int:
    """The complete rows of a records CSV written with ``columns`` (a last line cut short is not counted).

    Raises:
        ValueError: the file is missing or its header is not ``columns``.
    """
    return len(_record_lines(path, columns, None)) - 1


def _record_lines(path: Path, columns: Sequence[str], keep: int | None) -> list[str]:
    """The header and the first ``keep`` complete rows (all, for None) of a records CSV, as lines."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ValueError(f"{path.name} is missing") from None
    lines = text.splitlines(keepends=True)
    if not lines or next(csv.reader(lines[:1])) != list(columns):
        raise ValueError(f"{path.name} does not have the header this run writes")
    complete = [line for line in lines[1:] if line.endswith("\n")]  # a row cut short by a crash is dropped
    if keep is not None and len(complete) < keep:
        raise ValueError(f"{path.name} has {len(complete)} rows, fewer than the {keep} the checkpoint counts")
    return [lines[0], *(complete if keep is None else complete[:keep])]


def _number(text: str | None) -> Any:
    if text is None or text == "":
        return None
    try:
        value = float(text)
    except ValueError:
        return text
    return int(value) if value.is_integer() and "." not in text and "e" not in text.lower() else value


def _finite(data: Any) -> Any:
    """JSON has no NaN/inf: write them as strings so the file stays standard JSON."""
    if isinstance(data, float) and not math.isfinite(data):
        return str(data)
    if isinstance(data, Mapping):
        return {k: _finite(v) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [_finite(v) for v in data]
    return data
