"""``trainlab.train``: a recipe in, a run directory and a trained model out; ``trainlab.resume``: a run continued.

Reads top to bottom: the recipe loaded and checked (:mod:`trainlab.training.prepare`), a
:class:`~trainlab.training.trainer.Trainer` prepared from it (seed, data, the ``auto`` choices
resolved against the data, the model, loss, optimizer and metrics), then the epoch loop driven
by Keras' callback protocol (:mod:`trainlab.training.loop`: checkpoints, rollbacks,
interruptions), writing records as it goes, then the summary.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import keras

from trainlab import rundir
from trainlab.config import Recipe, parse_set
from trainlab.errors import TrainlabError
from trainlab.training import checkpoint
from trainlab.training.sessions import fit_together
from trainlab.training.prepare import load_recipe
from trainlab.training.trainer import Run, Trainer

__all__ = ["Run", "resume", "train"]


def train(
    recipe: str | Path | Mapping[str, Any] | Recipe | None = None,
    out: str | Path | None = None,
    callbacks: Sequence[keras.callbacks.Callback] | None = None,
    *,
    model: keras.Model | None = None,
    data: Any = None,
    overrides: Mapping[str, Any] | Sequence[str] | None = None,
    **kw_overrides: Any,
) -> Run:
    """Train a model as a recipe says and write its run directory.

    Args:
        recipe: a YAML path, a mapping shaped like the YAML, a :class:`Recipe`, or ``None``
            for the defaults (the tutorial's basic loop).
        out: the run directory (default ``runs/<name>-<timestamp>``); must be new or empty.
        callbacks: extra ``keras.callbacks.Callback`` objects (any stock or custom one).
        model: a ``keras.Model`` to train instead of the recipe's model.
        data: your own data instead of the recipe's source: :func:`trainlab.data.from_arrays`
            or :func:`trainlab.data.from_datasets`.
        overrides: ``{"optimizer.learning_rate": 0.01}`` or ``["training.epochs=5"]``.
        **kw_overrides: the same with ``__`` for dots: ``training__epochs=5``.

    Returns:
        A :class:`Run`.

    Raises:
        TrainlabError: the recipe, data or files are wrong (a user's mistake).

    Example:
        >>> run = trainlab.train("examples/basic.yaml", training__epochs=5)
        >>> run.history[-1]["val_accuracy"], run.dir
    """
    all_overrides = dict(
        overrides.items() if isinstance(overrides, Mapping) else (parse_set(s) for s in overrides or ())
    )
    all_overrides.update({k.replace("__", "."): v for k, v in kw_overrides.items()})
    recipe_obj, base_dir, name = load_recipe(recipe, all_overrides, connect=True)
    return Trainer(recipe_obj, name=name, base_dir=base_dir, model=model, data=data).fit(out, callbacks)


def resume(
    run_dir: str | Path,
    callbacks: Sequence[keras.callbacks.Callback] | None = None,
    *,
    model: keras.Model | None = None,
    data: Any = None,
    verbose: int | None = None,
) -> Run:
    """Continue a run that stopped (killed, interrupted, failed) from its newest valid checkpoint.

    The run goes on in its own directory, with the recipe it ran (its ``recipe.yaml``): the
    records are cut back to the checkpoint and continued, so that the finished run directory
    equals that of a run never stopped. A checkpoint that is damaged or cut short (or whose
    records are) is passed over, with a warning, for the one before; with none, the run starts
    again from its first epoch.

    Args:
        run_dir: the run directory ``trainlab run`` or :func:`train` wrote.
        callbacks: the extra callbacks the run was given (their state is restored when they
            define ``get_state``/``set_state``).
        model: the ``keras.Model`` the run was given, when it came from Python (built afresh).
        data: the data the run was given, when it came from Python.
        verbose: the progress display (0, 1, 2) instead of the recipe's ``training.verbose``.

    Returns:
        The :class:`Run`, as :func:`train` returns it.

    Raises:
        TrainlabError: not a run directory, a run that completed, or one whose model or data
            came from Python and are not given.

    Example:
        >>> run = trainlab.resume("runs/basic-20250101-120000")
        >>> run.summary["status"]
        'completed'
    """
    path = Path(run_dir)
    summary = _resumable(path)
    given = _given_from_python(path / rundir.RECIPE)
    missing = [what for what, obj in (("model", model), ("data", data)) if what in given and obj is None]
    if missing:
        raise TrainlabError(
            str(path), f"this run's {' and '.join(missing)} came from Python; pass it again: trainlab.resume("
            f"run_dir, {', '.join(m + '=...' for m in missing)})",
        )
    overrides = {"training.verbose": verbose} if verbose is not None else None
    recipe_obj, _, name = load_recipe(path / rundir.RECIPE, overrides)
    if recipe_obj.training.distribute == "multi_worker":
        raise TrainlabError("training.distribute", "a multi-worker run cannot be resumed yet (the chief alone holds"
                            " its checkpoints)", "multi_worker")
    trainer = Trainer(recipe_obj, name=summary.get("name") or name, base_dir=path, model=model, data=data)
    found, passed_over = checkpoint.newest_valid(path, check=trainer.usable)
    for note in passed_over:
        warnings.warn(f"{path / checkpoint.FOLDER / note}; trying an earlier checkpoint", stacklevel=2)
    return fit_together([trainer], [path], [callbacks], resume=[checkpoint.Resume(path.resolve(), found)])[0]


def _resumable(path: Path) -> dict[str, Any]:
    """The summary of a run directory that can be resumed."""
    if path.is_file():
        raise TrainlabError(str(path), "is a file, not a run directory (give the folder trainlab run wrote)")
    if not path.is_dir():
        raise TrainlabError(str(path), "is not a run directory (no such folder)")
    missing = [name for name in (rundir.RECIPE, rundir.SUMMARY) if not (path / name).is_file()]
    if missing:
        raise TrainlabError(str(path), f"is not a run directory (no {' and no '.join(missing)})")
    try:
        summary = json.loads((path / rundir.SUMMARY).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise TrainlabError(str(path / rundir.SUMMARY), f"is not valid JSON ({exc})") from None
    if not isinstance(summary, dict):
        raise TrainlabError(str(path / rundir.SUMMARY), "must hold a JSON object", type(summary).__name__)
    if summary.get("status") == "completed":
        raise TrainlabError(str(path), "the run has completed; there is nothing to resume", "completed")
    return summary


def _given_from_python(recipe_path: Path) -> list[str]:
    """What :class:`Trainer`'s recipe note says came from Python (``model``, ``data``), from the recipe's header."""
    try:
        first = recipe_path.read_text(encoding="utf-8").splitlines()[:1]
    except (OSError, UnicodeDecodeError):
        return []
    head = first[0] if first else ""
    if not head.startswith("# This run's "):
        return []
    what = head.removeprefix("# This run's ").split(" came from Python")[0]
    return [w for w in ("model", "data") if w in what.split(" and ")]

