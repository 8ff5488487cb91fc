"""Resuming a search that stopped (killed, even by SIGKILL, or interrupted): keep ``trials.csv``, go on from there.

``tune.json`` keeps the search's ``source`` (its keys with the base recipe inline, and the folder
its relative paths resolve against), from which the spec is rebuilt. Then:

- **The trials in ``trials.csv`` are kept**, never trained again (rows are appended a whole
  population at a time, so the file holds whole populations).
- **The sampler's history is rebuilt by replaying the search**: the populations are asked again
  from a sampler seeded as before, and told what ``trials.csv`` and each trial's ``history.csv``
  say (its status, value and per-epoch values). Asking is deterministic given the seed and the
  history, so the replayed asks give the very values of ``trials.csv`` (checked, value by value),
  and the sampler ends in the state it had when the search stopped: the resumed search asks what
  the uninterrupted one would have asked (every sampler, TPE included). Should the replay differ
  (another Optuna version, an edited ``trials.csv``), the history is added trial by trial instead
  (Optuna's ``add_trial``), with a warning: the same history, but from a fresh random state, so
  the next values differ from an uninterrupted search's (a grid still visits no point twice).
- **The pruner's state is rebuilt** from the kept trials' run directories: each one's metric by
  epoch (``history.csv``), finished, pruned where ``trials.csv`` says.
- **The population in flight is trained again** from its first epoch, with the same trial
  numbers and values (the replay asks it again): its rows were not written, its run directories
  are removed. Not resumed from checkpoints: its trials train fused and are pruned against each
  other at the same epochs (synchronous halving), fused runs keep no checkpoint files, and
  retraining the same values with the same seeds gives what the uninterrupted search got.
- **A search stopped while confirming** (``confirming``, or interrupted then) continues the study
  in ``confirm/`` (:func:`trainlab.studies.resume_study`).
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trainlab import rundir
from trainlab.errors import TrainlabError
from trainlab.tune.population import curve
from trainlab.tune.records import TRIALS, TUNE, read_history, trial_dir
from trainlab.tune.run import Tune, new_pruner, preflight_tracking, search, trial_columns
from trainlab.tune.spec import TuneSpec, tune_from_json

if TYPE_CHECKING:
    from trainlab.tune.sampler import Sampler  # Optuna: loaded when a tune runs

FINISHED = ("completed", "time budget spent")  # tune.json statuses of a search that ended as it should
STATUSES = ("completed", "pruned", "failed")  # a trials.csv row's
_TRIAL_DIR = re.compile(r"trial-(\d+)")


@dataclass
class TuneResume:
    """What resuming a search keeps and trains again.

    Attributes:
        dir: the tune directory.
        spec: the search, rebuilt from ``tune.json``.
        status: ``tune.json``'s status when the search stopped.
        total: how many trials the search trains.
        rows: the kept rows of ``trials.csv`` (whole populations).
        in_flight: the trial numbers with a run directory but no row (the population in flight), trained again.
    """

    dir: Path
    spec: TuneSpec
    status: str
    total: int
    rows: list[dict[str, Any]] = field(default_factory=list)
    in_flight: list[int] = field(default_factory=list)

    def lines(self) -> list[str]:
        """What the resume keeps and trains, for the terminal."""
        total = self.total
        lines = [f"tune {self.dir}: {len(self.rows)} of {total} trials kept (trials.csv); status was {self.status}"]
        if self.in_flight:
            lines.append(f"  trained again (the population in flight): trials {_span(self.in_flight)}")
        if len(self.rows) < total:
            lines.append(f"  to train: trials {_span(list(range(len(self.rows), total)))}")
        elif self.spec.config.confirm is not None:
            lines.append(f"  the confirmation study ({self.dir / 'confirm'}) continues")
        return lines


def resume_tune(tune_dir: str | Path, *, echo: Callable[[str], None] | None = None) -> Tune:
    """Continue a search that stopped (killed, even by SIGKILL, or interrupted) in its own directory.

    Trials in ``trials.csv`` are kept, never trained again; the sampler and pruner are restored
    from them; the population that was training when the search stopped is trained again; trial
    numbers go on without gaps (see the module docstring). A search stopped while confirming
    continues its confirmation study.

    Args:
        tune_dir: the tune directory ``trainlab tune`` (or :func:`trainlab.tune`) wrote.
        echo: called with each line saying what the resume keeps and trains, before it trains.

    Returns:
        The finished :class:`Tune`, as :func:`trainlab.tune` returns it.

    Raises:
        TrainlabError: not a tune directory, one written before searches could resume (no
            ``source`` in ``tune.json``), or a search that has finished.

    Example:
        >>> result = trainlab.tune.resume_tune("runs/basic-search-20250101-120000")  # doctest: +SKIP
    """
    from trainlab.tune.remote import open_executor  # a pool or a Dask cluster: loaded when a tune runs
    from trainlab.tune.sampler import Sampler  # Optuna, as above

    plan = plan_resume(tune_dir)
    spec, path = plan.spec, plan.dir
    preflight_tracking(spec)
    if echo is not None:
        for line in plan.lines():
            echo(line)
    sampler = Sampler(spec)
    curves = {r["trial"]: curve(read_history(trial_dir(path, r["trial"])), spec.config.metric) for r in plan.rows}
    rows = _replay(sampler, spec, plan.rows, curves)
    if rows is None:
        warnings.warn(f"{path / TRIALS}: the sampler does not ask these trials again (another Optuna version?); its "
                      "history is added from trials.csv, and the next trials differ from those the search would have "
                      "asked", stacklevel=2)
        sampler = Sampler(spec)
        rows = _added(sampler, spec, plan.rows, curves)
    pruner = new_pruner(spec)
    for r in rows:
        if trial_dir(path, r["trial"]).is_dir():  # a trial whose recipe was refused never trained
            pruner.restore(r["trial"], curves[r["trial"]], r["pruned_at_epoch"])
    for number in plan.in_flight:
        rundir.discard(trial_dir(path, number))
    try:
        records = rundir.CsvRecords(path / TRIALS, trial_columns(spec), keep=len(rows)) if rows else \
            rundir.CsvRecords(path / TRIALS, trial_columns(spec))
    except ValueError as exc:
        raise TrainlabError(str(path / TRIALS), f"cannot be continued ({exc})") from None
    earlier = rundir.read_json(path / TUNE).get("wall_time_s")
    try:
        executor = open_executor(spec)  # processes, dask: a pool or a cluster for the rest of the search
    except BaseException:
        records.close()
        raise
    return search(spec, path, sampler, pruner, records, rows, executor,
                  earlier_s=float(earlier) if isinstance(earlier, (int, float)) else 0.0)


def plan_resume(tune_dir: str | Path) -> TuneResume:
    """Read a stopped tune directory: the search, the rows kept, the population in flight. Nothing is changed.

    Raises:
        TrainlabError: see :func:`resume_tune`.
    """
    path = Path(tune_dir)
    if not (path / TUNE).is_file():
        raise TrainlabError(str(path), f"is not a tune directory (no {TUNE})")
    saved = rundir.read_json(path / TUNE)
    status = str(saved.get("status"))
    if status in FINISHED:
        ended = "completed" if status == "completed" else "ended (its time budget is spent)"
        raise TrainlabError(str(path), f"the search has {ended}; there is nothing to resume", status)
    if not isinstance(saved.get("source"), dict):
        raise TrainlabError(str(path / TUNE), "has no source (written before searches could resume); run the search "
                            "again")
    from trainlab.tune.sampler import Sampler  # Optuna, as above

    spec = tune_from_json(saved["source"])
    total = Sampler(spec).total()
    rows = _kept_rows(path / TRIALS, spec, total)
    started = sorted(int(m.group(1)) for d in (path / "runs").glob("trial-*")
                     if d.is_dir() and (m := _TRIAL_DIR.fullmatch(d.name)))
    return TuneResume(path, spec, status, total, rows, [n for n in started if n >= len(rows)])


def _kept_rows(path: Path, spec: TuneSpec, total: int) -> list[dict[str, Any]]:
    """The rows of ``trials.csv`` that whole populations wrote: trials 0, 1, ... in order, each finished."""
    if not path.is_file():
        return []  # stopped before the file was made: no trial finished
    try:
        complete = rundir.count_rows(path, trial_columns(spec))
    except ValueError as exc:
        raise TrainlabError(str(path), f"cannot be continued ({exc})") from None
    rows = []
    for number, row in enumerate(rundir.read_csv(path)[:complete]):
        if row.get("trial") != number or row.get("status") not in STATUSES:
            break
        rows.append(row)
    whole, done = 0, 0  # the populations' ends: a trial past the last one's is trained again
    while 0 < len(rows) - done and done < total:
        done += min(spec.population, total - done)
        whole = done if done <= len(rows) else whole
    return rows[:whole]


def _replay(sampler: Sampler, spec: TuneSpec, rows: list[dict[str, Any]],
            curves: dict[int, dict[int, float]]) -> list[dict[str, Any]] | None:
    """Ask the kept populations again and tell their results, as the search did; the rows with the values as
    asked (a choice's value, not its text); None when an asked value is not the one ``trials.csv`` holds."""
    out: list[dict[str, Any]] = []
    while len(out) < len(rows):
        asked = sampler.ask(min(spec.population, sampler.total() - len(out)))
        for a, row in zip(asked, rows[len(out):]):
            if a.number != row["trial"] or any(str(a.values[k]) != str(row[k]) for k in a.values):
                return None
            out.append({**row, **a.values})
            sampler.tell(a, row["status"], row["value"], curves[row["trial"]])
    return out


def _added(sampler: Sampler, spec: TuneSpec, rows: list[dict[str, Any]],
           curves: dict[int, dict[int, float]]) -> list[dict[str, Any]]:
    """The rows added to the sampler's history one by one; the rows with their values as the recipe takes them."""
    out = []
    for row in rows:
        try:
            values = {dim.key: dim.value(dim.drawn(row[dim.key])) for dim in spec.space}
        except (KeyError, ValueError, TypeError) as exc:
            raise TrainlabError(TRIALS, f"trial {row['trial']} does not fit the space ({exc})") \
                from None
        sampler.add(values, row["status"], row["value"], curves[row["trial"]])
        out.append({**row, **values})
    sampler.queue_unvisited()
    return out




def _span(numbers: list[int]) -> str:
    return f"{numbers[0]} to {numbers[-1]}" if len(numbers) > 1 else str(numbers[0])
