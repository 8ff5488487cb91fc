"""A study directory's files: ``study.json`` and ``results.csv`` read back, and the CSV tables written and read.

The statistics (:mod:`trainlab.studies.stats`) write ``summary.csv`` and ``comparisons.csv``
with :func:`write_csv`; every reader of a study (figures, report, terminal, tracking, the tour)
reads the files with :func:`read_study` and :func:`read_table`.
"""

from __future__ import annotations

import csv
import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trainlab.errors import TrainlabError

STUDY = "study.json"
RESULTS = "results.csv"
SUMMARY = "summary.csv"
COMPARISONS = "comparisons.csv"
MODES = ("max", "min")
NAN = math.nan


@dataclass
class Study:
    """A study directory's ``study.json`` and ``results.csv``, read back.

    Attributes:
        dir: the study directory.
        name, metric, mode: from ``study.json``.
        variants: variant label -> its overrides, in ``study.json`` order (then any label
            only ``results.csv`` names).
        seeds: the seeds, in ``study.json`` order.
        executors: variant label -> the executor that ran it.
        wall_time_s: the whole study's wall time, or None.
        results: the rows of ``results.csv``.
    """

    dir: Path
    name: str
    metric: str
    mode: str
    variants: dict[str, Any]
    seeds: list[Any]
    executors: dict[str, str] = field(default_factory=dict)
    wall_time_s: float | None = None
    results: list[dict[str, Any]] = field(default_factory=list)

    def values(self, column: str = "best_value") -> dict[str, list[float]]:
        """Per variant (in order), a ``results.csv`` column's values, seed order; blanks become NaN."""
        out: dict[str, list[float]] = {label: [] for label in self.variants}
        for row in self._sorted_results():
            out.setdefault(str(row["variant"]), []).append(to_float(row.get(column)))
        return out

    def runs(self, variant: str) -> list[tuple[Any, Path]]:
        """``(seed, run directory)`` of each of a variant's runs in ``results.csv``, seed order."""
        return [(row.get("seed"), self.run_dir(variant, row.get("seed")))
                for row in self._sorted_results() if str(row["variant"]) == variant]

    def run_dir(self, variant: str, seed: Any) -> Path:
        return self.dir / "runs" / variant / f"seed{seed}"

    def _sorted_results(self) -> list[dict[str, Any]]:
        rank = {s: k for k, s in enumerate(self.seeds)}
        return sorted(self.results, key=lambda r: rank.get(r.get("seed"), len(rank)))


def read_study(study_dir: str | Path) -> Study:
    """Read ``study.json`` and ``results.csv`` of a study directory.

    Raises:
        TrainlabError: either file is missing or unreadable, ``mode`` is not max/min, or
            ``results.csv`` has no ``variant`` column.
    """
    path = Path(study_dir)
    spec_path, results_path = path / STUDY, path / RESULTS
    for needed in (spec_path, results_path):
        if not needed.is_file():
            raise TrainlabError(str(needed), "is missing: not a study directory, or the study has not finished")
    try:
        spec = json.loads(spec_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise TrainlabError(str(spec_path), f"cannot be read as JSON ({e})") from e
    try:
        results = _read_csv(results_path)
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise TrainlabError(str(results_path), f"cannot be read as CSV ({e})") from e
    if not isinstance(spec, dict):
        raise TrainlabError(str(spec_path), "must hold a JSON object", type(spec).__name__)
    mode = spec.get("mode", "max")
    if mode not in MODES:
        raise TrainlabError(f"{spec_path}: mode", "must be max or min", mode)
    if results and "variant" not in results[0]:
        raise TrainlabError(str(results_path), "has no variant column")
    variants = dict(spec.get("variants") or {})
    for row in results:
        variants.setdefault(str(row["variant"]), {})
    wall = spec.get("wall_time_s")
    return Study(dir=path, name=str(spec.get("name") or path.name), metric=str(spec.get("metric") or "best_value"),
                 mode=mode, variants=variants, seeds=list(spec.get("seeds") or []),
                 executors=dict(spec.get("executors") or {}),
                 wall_time_s=float(wall) if isinstance(wall, (int, float)) else None, results=results)

def read_table(path: str | Path) -> list[dict[str, Any]]:
    """A table written by :func:`~trainlab.studies.stats.write_tables`, read back: labels and notes as text, ``distinguishable`` as bool,
    counts as ints, every other cell a float (``nan`` included)."""
    return _read_csv(Path(path))


def _read_csv(path: Path) -> list[dict[str, Any]]:
    with open(path, newline="", encoding="utf-8") as f:
        return [{k: _typed(k, v) for k, v in row.items()} for row in csv.DictReader(f)]


_TEXT = {"variant", "reference", "reference_chosen", "test", "note", "executor", "status", "error"}
_INTS = {"seed", "n", "n_failed", "n_reference", "n_comparisons", "best_epoch", "epochs_run"}


def _typed(column: str, text: str | None) -> Any:
    if column in _TEXT:
        return text or ""
    if column == "distinguishable":
        return str(text).lower() == "true"
    value = to_float(text)
    if column in _INTS and math.isfinite(value) and value.is_integer():
        return int(value)
    if column == "seed" and not math.isfinite(value):
        return text  # a seed that is not a number is still a seed label
    return value


def write_csv(path: Path, columns: Sequence[str], rows: Sequence[Mapping[str, Any]]) -> None:
    """Write ``rows`` (their ``columns``) atomically: floats with every digit, booleans as ``true``/``false``."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(columns))
        writer.writeheader()
        for row in rows:
            writer.writerow({k: _csv_cell(row[k]) for k in columns})
    os.replace(tmp, path)


def _csv_cell(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return value


def to_float(value: Any) -> float:
    """A cell as a float: blanks and text that is not a number become NaN."""
    if value is None or value == "":
        return NAN
    try:
        return float(value)
    except (TypeError, ValueError):
        return NAN
