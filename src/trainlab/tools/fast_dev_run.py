"""``trainlab run RECIPE --fast-dev-run``: one short run through every code path a real run takes, part by part.

Lightning's ``fast_dev_run``, taken further: the recipe trains one epoch of 2 training and 2 validation
batches (``training.fast_dev_run``, :mod:`trainlab.training.sanity`), writing every record, a checkpoint,
the weights and the summary with its diagnosis; then the checkpoint is read back and checked against
the model, the records are read back, and the figures and ``report.html`` are drawn. Each part is timed.
The run directory is a temporary folder, removed at the end, unless ``out`` names one to keep.

A mistake in the recipe or the data stops it with the usual :class:`~trainlab.errors.TrainlabError`;
anything else that breaks (the model, the loss, a callback) is caught and reported as the part
that failed and its error, so that the first problem shows in one line.

Example:
    >>> result = fast_dev_run("examples/basic.yaml")
    >>> for line in result.lines():
    ...     print(line)
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trainlab import rundir
from trainlab.config import parse_set
from trainlab.errors import TrainlabError
from trainlab.training import Trainer, checkpoint, load_recipe

# The parts of summary.json's timings the run itself reports, shown under "train".
_TRAINING_PARTS = ("tracing", "training", "evaluation", "records", "checkpoints", "callbacks", "profiling",
                   "saving", "diagnosis", "other")


@dataclass
class Part:
    """One part of a fast dev run: its name, seconds, what it did (or the error that stopped it)."""

    name: str
    seconds: float
    what: str
    failed: bool = False


@dataclass
class DevRun:
    """What a fast dev run exercised.

    Attributes:
        name: the run's name.
        parts: the parts, in order; the last one failed when ``error`` is set.
        dir: the run directory when kept (``out``), else None (it was removed).
        summary: the run's ``summary.json`` (empty when training did not finish).
        error: ``"<part>: <error>"`` of the first part that broke, else None.
    """

    name: str
    parts: list[Part] = field(default_factory=list)
    dir: Path | None = None
    summary: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    @property
    def seconds(self) -> float:
        """All parts together."""
        return sum(p.seconds for p in self.parts)

    def lines(self) -> list[str]:
        """The terminal report: one line per part with its seconds, then the total and where the run is."""
        width = max((len(p.name) for p in self.parts), default=0)
        out = [f"fast dev run of {self.name}:"]
        out += [f"  {p.name:<{width}} {p.seconds:7.2f} s  {'FAILED: ' if p.failed else ''}{p.what}" for p in self.parts]
        where = f"run directory kept: {self.dir}" if self.dir is not None \
            else "run directory removed (keep it with --out)"
        how = "failed" if self.error else "every part ran"
        out.append(f"  {'total':<{width}} {self.seconds:7.2f} s  {how}; {where}")
        return out


def fast_dev_run(
    recipe: str | Path | Mapping[str, Any],
    out: str | Path | None = None,
    overrides: Mapping[str, Any] | Sequence[str] | None = None,
    *,
    figures: bool = True,
) -> DevRun:
    """Train a recipe for one epoch of 2 training and 2 validation batches and exercise everything after it.

    Args:
        recipe: a YAML path or a mapping shaped like it.
        out: keep the run directory here (new or empty); None: a temporary folder, removed at the end.
        overrides: ``{"training.batch_size": 8}`` or ``["training.batch_size=8"]``.
        figures: draw the figures and ``report.html`` (the last part).

    Returns:
        The :class:`DevRun`: each part with its seconds; ``error`` names the part that broke, if one did.

    Raises:
        TrainlabError: a mistake in the recipe, the data or ``out`` (as ``trainlab run`` reports it).

    Example:
        >>> fast_dev_run("examples/basic.yaml").error is None
        True
    """
    settings = dict(overrides.items() if isinstance(overrides, Mapping) else (parse_set(s) for s in overrides or ()))
    settings["training.fast_dev_run"] = True
    scratch = None if out is not None else Path(tempfile.mkdtemp(prefix="trainlab-fast-dev-run-"))
    result = DevRun(name=str(recipe))
    try:
        _exercise(result, recipe, settings, Path(out) if out is not None else scratch / "run", figures)
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
        elif (Path(out) / rundir.SUMMARY).is_file():
            result.dir = Path(out)
    return result


def _exercise(result: DevRun, recipe: Any, settings: dict[str, Any], out: Path, figures: bool) -> None:
    """The parts, in order, until one breaks."""
    with _part(result, "prepare") as note:
        recipe_obj, base_dir, name = load_recipe(recipe, settings, connect=True)
        result.name = name
        trainer = Trainer(recipe_obj, name=name, base_dir=base_dir)
        note.append(_prepared(trainer))
    if result.error:
        return
    with _part(result, "train") as note:
        run = trainer.fit(out)
        result.summary = run.summary
        if run.summary.get("status") != "completed":
            raise RuntimeError(f"the run {run.summary.get('status')}: {run.summary.get('error')}")
        note.append(_trained(run.summary))
    if result.error:
        return
    with _part(result, "checkpoint") as note:
        note.append(_read_back_checkpoint(trainer, out))
    if result.error:
        return
    with _part(result, "records") as note:
        records = rundir.load(out)
        board = sum(1 for p in (out / rundir.TENSORBOARD).rglob("*") if p.is_file())
        note.append(f"read back: history.csv {len(records.history)} row, steps.csv {len(records.steps)} rows,"
                    f" layers.csv {len(records.layers)} rows, weights.npz {len(records.weights)} layers,"
                    f" {board} TensorBoard files")
    if result.error:
        return
    findings = result.summary.get("diagnosis") or []
    rules = f" ({', '.join(f['rule'] for f in findings)})" if findings else ""
    # Diagnosed while the run closed: its seconds are the train part's (its timings show them).
    result.parts.append(Part("diagnosis", 0.0, f"{len(findings)} finding{'' if len(findings) == 1 else 's'}{rules},"
                             " written into summary.json (timed in train)"))
    if not figures:
        return
    with _part(result, "report") as note:
        from trainlab.report import write_report  # a reader: matplotlib loads only here

        page = write_report(out, save_figures=True)
        pngs = sorted(p.name for p in out.glob("*.png"))
        note.append(f"{', '.join(pngs)} and {page.name}")


@contextmanager
def _part(result: DevRun, name: str) -> Iterator[list[str]]:
    """Time a part; a failure other than a user's mistake ends the run with the part named."""
    note: list[str] = []
    tick = time.perf_counter()
    try:
        yield note
    except TrainlabError:
        raise
    except Exception as exc:  # the fast dev run's purpose: say which part broke, in one line
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        text = f"{type(exc).__name__}: {message}" if message else type(exc).__name__
        result.parts.append(Part(name, time.perf_counter() - tick, text, failed=True))
        result.error = f"{name}: {text}"
        return
    result.parts.append(Part(name, time.perf_counter() - tick, "; ".join(note)))


def _prepared(trainer: Trainer) -> str:
    training = trainer.recipe.training
    described = trainer.trained_data.describe()
    splits = described.get("splits") or {}
    evaluated = ", ".join(f"{k} {v['n']}" for k, v in splits.items() if k != "train" and v.get("n"))
    unit = "batches" if described.get("batched") else "samples"
    return (f"data {described.get('source', '?')} ({_or_none(evaluated)} {unit} evaluated), model"
            f" {trainer.recipe.model.name} ({trainer.model.count_params():,} weights),"
            f" {trainer.steps_per_epoch()} training batches of {training.batch_size}")


def _or_none(text: str) -> str:
    return text or "no validation or test"


def _trained(summary: dict[str, Any]) -> str:
    timings = summary.get("timings") or {}
    parts = [f"{k} {timings[k]:.3f} s" for k in _TRAINING_PARTS if isinstance(timings.get(k), (int, float))
             and timings[k] >= 0.0005]
    sanity = summary.get("sanity") or {}
    return (f"{summary.get('epochs_run')} epoch, {sanity.get('train_batches')} batches, loss"
            f" {summary.get('final', {}).get('loss', float('nan')):.4g}: {', '.join(parts)}")


def _read_back_checkpoint(trainer: Trainer, out: Path) -> str:
    if not trainer.recipe.training.checkpoint.enabled:
        return "off (training.checkpoint: false): nothing to read back"
    found, passed_over = checkpoint.newest_valid(out, check=trainer.usable)
    if found is None:
        raise RuntimeError(f"no checkpoint in {out / checkpoint.FOLDER} reads back"
                           + (f" ({passed_over[0]})" if passed_over else ""))
    size = found.path.stat().st_size
    return (f"{found.path.name} ({size / 1024:.0f} KiB, {len(found.arrays)} arrays) read back: checksum and"
            f" the model's {len(found.meta.get('variables', []))} variables check")
