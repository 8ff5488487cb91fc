"""A tune directory read back: ``tune.json``, the rows of ``trials.csv`` and each trial's ``history.csv``.

    from trainlab.tune.records import read_tune
    tune = read_tune("runs/basic-search-20260101-120000")
    tune.best["trial"], tune.with_status("pruned"), tune.history(7)

The figures, the importances and the report read a search through :class:`TuneRecords`, never
from a live search: a search that was interrupted, or is still running, reads the same way. A
choice's value is written to ``trials.csv`` as its text; :func:`choice_index` finds it again among
the space's choices and :func:`choice_label` writes it as a label. No TensorFlow, no matplotlib.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from trainlab import rundir
from trainlab.checks import finite
from trainlab.errors import TrainlabError
from trainlab.tune.space import Dimension, parse_space

TUNE, TRIALS, BEST = "tune.json", "trials.csv", "best.yaml"
CONFIRM = "confirm"  # the confirmation study's folder


def trial_dir(tune_dir: Path, number: int) -> Path:
    """Where a trial's run directory is: ``runs/trial-NNN``."""
    return tune_dir / "runs" / f"trial-{number:03d}"


def read_history(run_dir: Path) -> list[dict[str, Any]]:
    """A trial's ``history.csv`` rows (none when it has not ended an epoch)."""
    path = run_dir / rundir.HISTORY
    return rundir.read_csv(path) if path.is_file() else []


@dataclass
class TuneRecords:
    """A tune directory read back: ``tune.json`` and the rows of ``trials.csv``.

    Attributes:
        dir: the tune directory.
        settings: ``tune.json`` as written (the search's keys, ``status``, ``wall_time_s``, ``best_trial``, ...).
        space: the space's dimensions, parsed again from ``settings["space"]``.
        trials: the rows of ``trials.csv``, in trial order (none when the first population has not ended).
    """

    dir: Path
    settings: dict[str, Any]
    space: list[Dimension]
    trials: list[dict[str, Any]] = field(default_factory=list)

    @property
    def name(self) -> str:
        return str(self.settings.get("name") or self.dir.name)

    @property
    def metric(self) -> str:
        return str(self.settings.get("metric") or "val_loss")

    @property
    def mode(self) -> str:
        return "max" if self.settings.get("mode") == "max" else "min"

    @property
    def status(self) -> str:
        return str(self.settings.get("status") or "unknown")

    def with_status(self, status: str) -> list[dict[str, Any]]:
        """The rows of trials with ``status`` (``completed``, ``pruned``, ``failed``)."""
        return [r for r in self.trials if r.get("status") == status]

    @property
    def best(self) -> dict[str, Any] | None:
        """The best trial's row: ``tune.json``'s ``best_trial`` (the confirmation's pick, with ``confirm``), else the
        best completed trial of ``trials.csv`` (a search stopped before it wrote one); None when none completed."""
        number = self.settings.get("best_trial")
        chosen = next((r for r in self.trials if r.get("trial") == number), None) if number is not None else None
        if chosen is not None:
            return chosen
        done = [r for r in self.with_status("completed") if finite(r.get("value"))]
        if not done:
            return None
        return (max if self.mode == "max" else min)(done, key=lambda r: r["value"])

    def run_dir(self, trial: int) -> Path:
        """A trial's run directory, ``runs/trial-NNN``."""
        return trial_dir(self.dir, trial)

    def history(self, trial: int) -> tuple[np.ndarray, np.ndarray]:
        """A trial's metric per epoch from its ``history.csv`` (empty arrays when it wrote none)."""
        path = self.run_dir(trial) / rundir.HISTORY
        rows = rundir.read_csv(path) if path.is_file() else []
        rows = [r for r in rows if finite(r.get("epoch")) and isinstance(r.get(self.metric), (int, float))]
        return (np.array([r["epoch"] for r in rows], dtype=float),
                np.array([r[self.metric] for r in rows], dtype=float))

    def unfinished(self) -> list[int]:
        """Trials with a run directory but no row in ``trials.csv``: their population had not ended when the
        search stopped (interrupted, or still running)."""
        rows = {r.get("trial") for r in self.trials}
        found = sorted(int(p.name.removeprefix("trial-")) for p in (self.dir / "runs").glob("trial-[0-9]*")
                       if p.is_dir() and p.name.removeprefix("trial-").isdigit())
        return [t for t in found if t not in rows]


def read_tune(tune_dir: str | Path) -> TuneRecords:
    """Read ``tune.json`` and ``trials.csv`` of a tune directory.

    Args:
        tune_dir: the tune directory.

    Returns:
        The :class:`TuneRecords`; ``trials`` is empty when ``trials.csv`` is missing or has no row yet.

    Raises:
        TrainlabError: ``tune.json`` is missing, is not a JSON object, or its ``space`` is not a valid space.

    Example:
        >>> read_tune("runs/basic-search-20260101-120000").best["trial"]  # doctest: +SKIP
        7
    """
    path = Path(tune_dir)
    if not (path / TUNE).is_file():
        raise TrainlabError(str(path / TUNE), "is missing: not a tune directory")
    settings = rundir.read_json(path / TUNE)
    space = parse_space(settings.get("space") or {})
    trials_path = path / TRIALS
    rows = rundir.read_csv(trials_path) if trials_path.is_file() else []
    for row in rows:  # a failed trial's value is blank
        row["value"] = float(row["value"]) if isinstance(row.get("value"), (int, float)) else math.nan
    return TuneRecords(path, settings, space, sorted(rows, key=lambda r: r.get("trial", 0)))


def choice_index(dim: Dimension, cell: Any) -> int | None:
    """The index of a choice's value as ``trials.csv`` holds it (lists and text as their text), or None."""
    for k, choice in enumerate(dim.choices):
        if choice == cell or str(choice) == str(cell):
            return k
    return None


def choice_label(choice: Any) -> str:
    """A choice's value as a label: text as it is, anything else as JSON (``[64, 32]``)."""
    return choice if isinstance(choice, str) else json.dumps(choice)

