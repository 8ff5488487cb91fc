"""``trainlab.train``: a recipe in, a run directory and a trained model out; ``trainlab.resume``: a run continued.

Reads top to bottom: seed, data, resolve the ``auto`` choices against the data,
build the model, loss, optimizer and metrics, then the epoch loop driven by Keras'
callback protocol (:mod:`trainlab.training.loop`: checkpoints, rollbacks, interruptions),
writing records as it goes, then the summary.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

import trainlab
from trainlab import callbacks as tl_callbacks
from trainlab import data as tl_data
from trainlab import losses, metrics, models, optimizers
from trainlab.config import Recipe, load_recipe, parse_set
from trainlab.errors import TrainlabError
from trainlab import rundir
from trainlab.training import checkpoint, distribute
from trainlab.training.engine import Engine, Member, steps_per_epoch
from trainlab.training.interrupt import Interrupts
from trainlab.training.loop import EpochLoop, Resume
from trainlab.training.record_writer import EVENT_COLUMNS, LAYER_COLUMNS, STEP_COLUMNS, RecordWriter


@dataclass
class Run:
    """A finished (or stopped) run.

    Attributes:
        dir: the run directory.
        recipe: the resolved recipe.
        history: one dict per epoch (the rows of ``history.csv``).
        summary: the contents of ``summary.json``.
        model: the trained ``keras.Model`` (best weights when early stopping restored them).
        data: the data splits the run used.
        chief: False on a worker of a multi-worker run other than the chief: the chief wrote the
            run directory, and ``dir`` is the scratch folder this worker used and removed.
    """

    dir: Path
    recipe: Recipe
    history: list[dict[str, Any]]
    summary: dict[str, Any]
    model: keras.Model
    data: Any = field(repr=False, default=None)
    chief: bool = True


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
        model: a ``keras.Model`` to train instead of the recipe's MLP.
        data: a :class:`trainlab.data.Splits` to use instead of the recipe's data source.
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
    found, passed_over = checkpoint.newest_valid(path, check=trainer._usable)
    for note in passed_over:
        warnings.warn(f"{path / checkpoint.FOLDER / note}; trying an earlier checkpoint", stacklevel=2)
    return fit_together([trainer], [path], [callbacks], resume=[Resume(path.resolve(), found)])[0]


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
    """What :meth:`Trainer._recipe_note` says came from Python (``model``, ``data``), from the recipe's header."""
    try:
        first = recipe_path.read_text(encoding="utf-8").splitlines()[:1]
    except (OSError, UnicodeDecodeError):
        return []
    head = first[0] if first else ""
    if not head.startswith("# This run's "):
        return []
    what = head.removeprefix("# This run's ").split(" came from Python")[0]
    return [w for w in ("model", "data") if w in what.split(" and ")]


class Trainer:
    """Prepares everything a recipe names and runs the epoch loop (one member)."""

    def __init__(
        self,
        recipe: Recipe,
        name: str = "run",
        base_dir: Path | None = None,
        model: keras.Model | None = None,
        data: Any = None,
        *,
        loaded_data: Any = None,
    ) -> None:
        self.name = recipe.name or name
        self.base_dir = base_dir
        self.given_model, self.given_data = model, data
        self.placement = distribute.place(recipe.training)  # one device, or a tf.distribute strategy
        seed_everything(recipe.seed, recipe.deterministic)
        # The data (generation, splits, batch order) follow data.seed when set: a study's seeds then vary
        # the initial weights and dropout only, and its runs can share one data set and train together.
        self.data_seed = recipe.data.seed if recipe.data.seed is not None else recipe.seed
        if data is None:  # loaded_data: these very splits, already loaded from recipe.data (a study shares them)
            data = loaded_data if loaded_data is not None else tl_data.load(
                recipe.data, seed=self.data_seed, base_dir=base_dir)
        self.data = data
        self.recipe = resolve(recipe, self.data, model)
        self.traits = losses.traits(self.recipe.loss)
        self.streamed = isinstance(self.data, tl_data.Streams)
        n_train = None if self.streamed else len(self.data.x_train)
        if n_train is not None and self.recipe.training.batch_size > n_train:
            raise TrainlabError(
                "training.batch_size", f"must be <= the training set size ({n_train} samples)",
                self.recipe.training.batch_size,
            )
        if self.streamed:
            fix = _label_fn(self.traits.labels, self.data.n_classes)
            self.splits = {
                split: ds.map(fix, num_parallel_calls=tf.data.AUTOTUNE)
                for split, ds in (("train", self.data.train), ("val", self.data.val), ("test", self.data.test))
                if ds is not None
            }
            sample = next(iter(self.splits["train"].batch(PROBE_SAMPLES)))
        else:
            self.splits = {
                split: _tensors(x, y, self.traits.labels, self.data.n_classes)
                for split, x, y in (
                    ("train", self.data.x_train, self.data.y_train),
                    ("val", self.data.x_val, self.data.y_val),
                    ("test", self.data.x_test, self.data.y_test),
                )
                if x is not None and len(x)
            }
            sample = self.splits["train"]
        self.train_eval = None
        if not self.streamed and self.recipe.training.train_eval_samples:
            self.train_eval, self.probe = _train_eval_sample(
                sample, self.data_seed, self.recipe.training.train_eval_samples, PROBE_SAMPLES)
        else:
            self.probe = _probe_sample(sample, self.data_seed, PROBE_SAMPLES)
        if model is None:
            keras.utils.set_random_seed(recipe.seed)  # initial weights and dropout depend on the seed alone
            with self.placement.scope():
                model = build_model(self.recipe, self.data)
        elif not self.placement.holds(model):
            raise TrainlabError(
                "training.distribute", "a model given from Python must be built in the strategy's scope (with"
                " trainlab.training.distribute.place(recipe.training).scope())", self.placement.kind,
            )
        self.model = model
        lr = self.recipe.optimizer.learning_rate
        if isinstance(lr, Mapping) and lr.get("unit") == "epoch" and self._steps_per_epoch() is None:
            raise TrainlabError("optimizer.learning_rate.unit", "epoch needs data of known length", "epoch")
        self.index = 0  # this trainer's member in the engine (fit_together may put it in a larger one)
        self.state: _RunState | None = None
        self._member: Member | None = None  # built when first needed (a study's later seeds train another's)
        self._sample = sample
        self._engine: Engine | None = None  # its own, built when first needed (a study's runs may train in another)

    @property
    def member(self) -> Member:
        """This run's model with its optimizer, loss and metrics: its own, or the engine member it trains as."""
        if self._member is None:
            with self.placement.scope():  # under a strategy, the optimizer's, metrics' and engine's variables are its own
                self._member = build_member(self.model, self.recipe, self.traits, self._sample,
                                            self._steps_per_epoch())
        return self._member

    @property
    def engine(self) -> Engine:
        """The engine this run trains in: its own (K = 1), or the one :func:`fit_together` put it in."""
        if self._engine is None:
            with self.placement.scope():
                self._engine = Engine(
                    [self.member],
                    self.recipe.training.batch_size,
                    jit_compile=self.recipe.training.jit_compile,
                    eval_batch_size=self.recipe.training.eval_batch_size,
                )
        return self._engine

    @engine.setter
    def engine(self, engine: Engine) -> None:
        self._engine = engine

    def _join(self, engine: Engine, k: int) -> None:
        """Train as member ``k`` of ``engine``, from this trainer's model as built (see :meth:`Engine.restart`)."""
        if engine.members[k] is not self._member:  # a member of its own, never built, has no optimizer to waste
            engine.restart(k, self.model)
            self.model, self._member = engine.members[k].model, engine.members[k]
        self.engine, self.index = engine, k

    # ------------------------------------------------------------------ the loop
    def fit(self, out: str | Path | None = None, callbacks: Sequence[keras.callbacks.Callback] | None = None) -> Run:
        """Train, writing the run directory as it goes; see :func:`train`."""
        return fit_together([self], [out], [callbacks])[0]

    def _open(
        self, out: str | Path | None, callbacks: Sequence[keras.callbacks.Callback] | None,
        resume: Resume | None = None, checkpoints: bool = True,
    ) -> None:
        """Make the run directory (or reopen it, to resume); write the resolved recipe; build the
        callback list, the records writers and the checkpoint writer."""
        training = self.recipe.training
        if not self.placement.chief:  # the chief's run directory; this worker runs the same program into scratch
            run_dir = Path(self.placement.scratch(self.name))
        else:
            run_dir = rundir.new_run_dir(self.name, out) if resume is None else resume.dir
        try:  # a mistake found while setting up leaves no half-made run directory behind
            if resume is None:
                rundir.write_yaml(run_dir / rundir.RECIPE, self._recipe_dump(), header=self._recipe_note())
            cb_list = tl_callbacks.CallbackList(
                self._callbacks(run_dir, callbacks), model=self.model, epochs=training.epochs,
                steps=self._steps_per_epoch(), verbose=0,
            )
            keep = None
            if resume is not None:  # the records as they were at the checkpoint (nothing, without one)
                keep = resume.checkpoint.meta["records"] if resume.checkpoint is not None else {}
                checkpoint.discard_after(run_dir, resume.checkpoint)
            tb = training.tensorboard
            records = RecordWriter(
                run_dir, self._history_columns(), tensorboard=tb.enabled, histogram_freq=tb.histogram_freq,
                step_scalars=tb.steps, model=self.model, keep=keep,
            )
        except BaseException:
            if resume is None:
                rundir.discard(run_dir)
            raise
        monitor = self._monitor("val" in self.splits)
        writer = checkpoint.Writer(run_dir, training.checkpoint.keep) if checkpoints and training.checkpoint.enabled \
            else None
        self.state = _RunState(run_dir, cb_list, records, monitor, {"status": "running", "name": self.name,
                                                                     "monitor": monitor}, writer=writer)
        rundir.write_json(run_dir / rundir.SUMMARY, self.state.summary)

    def _history_columns(self) -> list[str]:
        has_val = "val" in self.splits
        names = [m.name for m in self.member.metrics]
        return ["epoch", "loss", *(["val_loss"] if has_val else []), *names,
                *([f"val_{n}" for n in names] if has_val else []),
                *([f"train_eval_{n}" for n in ["loss", *names]] if self.train_eval else []),
                "lr", "grad_norm", "grad_norm_max", "epoch_time_s"]

    def _recipe_dump(self) -> dict[str, Any]:
        """The resolved recipe as written to the run directory; a relative data path made absolute,
        so that the file re-runs (and the run resumes) from any folder."""
        dumped = self.recipe.model_dump(mode="json")
        path = dumped.get("data", {}).get("path")
        if path and self.given_data is None and not Path(path).expanduser().is_absolute():
            base = Path(self.base_dir) if self.base_dir is not None else Path.cwd()
            dumped["data"]["path"] = str((base / Path(path).expanduser()).absolute())
        return dumped

    def _usable(self, found: checkpoint.Checkpoint) -> None:
        """Raise :class:`~trainlab.training.checkpoint.DamagedCheckpoint` when the records lack rows it counts.

        Raises:
            TrainlabError: the checkpoint holds another model's or optimizer's variables.
        """
        layout = [[path, dtype, list(shape)] for path, dtype, shape in self.engine.state_layout(self.index)]
        saved = found.meta.get("variables", [])
        if [v[1:] for v in saved] != [v[1:] for v in layout]:
            raise TrainlabError(
                str(found.path), f"does not fit the run's model and optimizer: it holds {len(saved)} variables,"
                f" the run {len(layout)}, or their shapes differ (was recipe.yaml edited?)",
            )
        files = {"history": (rundir.HISTORY, self._history_columns()), "steps": (rundir.STEPS, STEP_COLUMNS),
                 "layers": (rundir.LAYERS, LAYER_COLUMNS), "events": (rundir.EVENTS, EVENT_COLUMNS)}
        run_dir = found.path.parent.parent
        for key, count in found.meta["records"].items():
            if count:
                name, columns = files[key]
                try:
                    have = rundir.count_rows(run_dir / name, columns)
                except ValueError as exc:
                    raise checkpoint.DamagedCheckpoint(str(exc)) from None
                if have < count:
                    raise checkpoint.DamagedCheckpoint(f"{name} has {have} rows, fewer than the {count} it counts")

    def _end_epoch(
        self, epoch: int, steps: Any, logs: dict[str, float], activations: list[dict[str, Any]], tick: float
    ) -> None:
        """Record this member's epoch and run its callbacks' ``on_epoch_end`` (logs: train, val, train_eval).

        The row is recorded before ``on_epoch_end``, so a callback that stops or interrupts the
        run there leaves a history that agrees with the files.
        """
        state, k = self.state, self.index
        ran = np.isfinite(steps.lr[:, k])  # steps it sat out (a skipped batch in a fused study) have lr NaN
        logs["lr"] = float(steps.lr[ran, k][-1]) if ran.any() else float("nan")
        row = {"epoch": epoch + 1, **logs, "epoch_time_s": time.perf_counter() - tick}
        member_steps = {"loss": steps.loss[ran, k], "grad_norm": steps.grad_norm[ran, k], "lr": steps.lr[ran, k]}
        layers = self._layer_rows(epoch + 1, steps, activations[k])
        state.records.write_epoch(row, member_steps, state.steps_done + 1, layers)
        state.records.write_weights(epoch + 1, self.model, lambda: self.engine.gradients(*self.probe)[k])
        state.steps_done += int(ran.sum())
        state.history.append(row)
        state.cb_list.on_epoch_end(epoch, {k_: v for k_, v in logs.items()})

    def _close(self, status: str, error: str | None, started: float) -> Run:
        """Finish the run directory: checkpoints and records closed, weights saved, summary and diagnosis written."""
        state = self.state
        if state.failure is not None:  # training gave up on non-finite values (see training.on_nonfinite)
            status, error = "failed", state.failure
        summary = state.summary
        summary["status"] = status
        if error is not None:
            summary["error"] = error
        if state.writer is not None:
            state.writer.close()
        state.records.close()
        summary.update(self._summary(state.history, state.monitor, started - state.earlier_s, state.cb_list.callbacks))
        if status == "completed":
            summary["test"] = self._test_metrics()
        if status in ("completed", "interrupted"):  # an interrupted run keeps its weights
            self.model.save(state.dir / rundir.MODEL)
        summary["diagnosis"] = _diagnosis(state.history, state.records, summary, state.dir)
        rundir.write_json(state.dir / rundir.SUMMARY, summary)
        if not self.placement.chief:
            shutil.rmtree(state.dir, ignore_errors=True)
        return Run(state.dir, self.recipe, state.history, summary, self.model, self.data, self.placement.chief)

    # ----------------------------------------------------------------- helpers
    def _train_epoch(
        self, epoch: int, start: int = 0, stop: int | None = None, reset: bool | None = None,
        skip: Sequence[int] = (),
    ) -> Any:
        """Train batches ``[start, stop)`` of ``epoch`` (in-memory data), or the epoch less the batches
        ``skip`` (a stream, which always runs whole)."""
        training = self.recipe.training
        if not self.streamed:
            x, y = self.splits["train"]
            # The order is a pure function of (seed, epoch): a resumed run sees the same batches.
            return self.engine.train_epoch(x, y, start=start, stop=stop, reset=reset,
                                           seed=(self.data_seed, epoch) if training.shuffle else None)
        ds = self.splits["train"]
        if training.shuffle:
            ds = ds.shuffle(self.data.shuffle_buffer, seed=self.data_seed * 100_003 + epoch)
        ds = ds.batch(training.batch_size)
        if skip:  # batches given up after a non-finite loss (a rollback)
            skipped = tf.constant(sorted(skip), tf.int64)
            ds = ds.enumerate().filter(lambda i, xy: tf.reduce_all(i != skipped)).map(lambda i, xy: xy)
        return self.engine.train_epoch_dataset(ds.prefetch(tf.data.AUTOTUNE))

    def _end_of_epoch(
        self, validate: bool
    ) -> tuple[list[dict[str, float]] | None, list[dict[str, float]] | None, list[dict[str, Any]]]:
        """What an epoch ends with, for every engine member: the validation results (None unless ``validate``),
        the train-eval sample's (None without one) and the activation statistics of the probe's samples.

        In-memory data take one compiled call, whose pass over the train-eval sample also gives the
        activations (the probe's samples head that sample); a stream evaluates split by split.
        """
        in_memory = validate and not self.streamed
        splits = [self.splits["val"]] if in_memory else []
        if self.train_eval is not None:
            splits.append(self.train_eval)
        rows = int(self.probe[0].shape[0])
        probed = self.train_eval is not None and self.engine.can_probe_in_eval(rows)
        results, activations = self.engine.evaluate_splits(splits, rows if probed else 0) if splits else ([], None)
        if activations is None:
            activations = self.engine.activation_stats(self.probe[0])
        val = results.pop(0) if in_memory else self._evaluate_all("val") if validate else None
        return val, results[0] if results else None, activations

    def _evaluate(self, split: str) -> dict[str, float]:
        return self._evaluate_all(split)[self.index]

    def _evaluate_all(self, split: str) -> list[dict[str, float]]:
        """Every engine member's loss and metrics on a split (one compiled pass for all)."""
        if not self.streamed:
            return self.engine.evaluate(*self.splits[split])
        batch = self.engine.eval_batch_size
        return self.engine.evaluate_dataset(self.splits[split].batch(batch).prefetch(tf.data.AUTOTUNE))

    def _steps_per_epoch(self) -> int | None:
        """Optimizer steps per epoch (None for a stream of unknown length)."""
        n = len(self.data.x_train) if not self.streamed else int(self.splits["train"].cardinality())
        return steps_per_epoch(n, self.recipe.training.batch_size) if n >= 0 else None

    def _recipe_note(self) -> str | None:
        given = [what for what, obj in (("model", self.given_model), ("data", self.given_data)) if obj is not None]
        if not given:
            return None
        return (f"This run's {' and '.join(given)} came from Python (trainlab.train(..., "
                f"{', '.join(g + '=...' for g in given)})); the keys below describe the rest.")

    def _monitor(self, has_val: bool) -> str:
        es = self.recipe.training.early_stopping
        if es is not None:
            return es.monitor
        return "val_loss" if has_val else "loss"

    def _callbacks(self, run_dir: Path, user: Sequence[keras.callbacks.Callback] | None) -> list:
        training = self.recipe.training
        cbs: list[keras.callbacks.Callback] = []
        if training.early_stopping is not None:
            cbs.append(keras.callbacks.EarlyStopping(**training.early_stopping.model_dump()))
        if training.reduce_lr_on_plateau is not None:
            cbs.append(tl_callbacks.ReduceLROnPlateau(**training.reduce_lr_on_plateau.model_dump()))
        cbs.extend(
            tl_callbacks.build(spec, run_dir, where=f"training.callbacks[{i}]")
            for i, spec in enumerate(training.callbacks)
        )
        for cb in user or ():
            if not isinstance(cb, keras.callbacks.Callback):
                raise TrainlabError("callbacks", "each must be a keras.callbacks.Callback", type(cb).__name__)
            cbs.append(cb)
        if training.verbose:
            cbs.append(tl_callbacks.ProgressDisplay(training.verbose))
        return cbs

    def _layer_rows(self, epoch: int, steps: Any, activations: dict[str, Any]) -> list[dict[str, Any]]:
        stats = self.engine.layer_stats(steps)[self.index]
        layers = list(stats) + [name for name in activations if name not in stats]
        return [
            {"epoch": epoch, "layer": layer, **stats.get(layer, {}), **activations.get(layer, {})}
            for layer in layers
        ]

    def _summary(
        self, history: list[dict[str, Any]], monitor: str, started: float, callbacks: Sequence[Any]
    ) -> dict[str, Any]:
        # When early stopping restored weights, "best" is the epoch it restored (it alone knows
        # its start_from_epoch, min_delta and baseline); otherwise the monitor's best in the history.
        restorer = next(
            (c for c in callbacks if isinstance(c, keras.callbacks.EarlyStopping)
             and c.restore_best_weights and c.best_weights is not None),
            None,
        )
        if restorer is not None and restorer.best_epoch is not None:
            monitor, best_epoch, best_value = restorer.monitor, restorer.best_epoch + 1, float(restorer.best)
        else:
            best_epoch, best_value = best_of(history, monitor)
        stopped_early = bool(history) and len(history) < self.recipe.training.epochs and self.model.stop_training
        best_row = next((r for r in history if r["epoch"] == best_epoch), {})
        return {
            "epochs_run": len(history),
            "best_epoch": best_epoch,
            "monitor": monitor,
            "best_value": best_value,
            "best": {k: v for k, v in best_row.items() if k != "epoch"},
            "restored_best_weights": restorer is not None,
            "final": {k: v for k, v in (history[-1] if history else {}).items() if k not in ("epoch",)},
            "test": None,
            "stopped_early": stopped_early,
            "wall_time_s": time.perf_counter() - started,
            "data": self.data.describe(),
            "trainlab_version": trainlab.__version__,
            "tensorflow_version": tf.__version__,
            "keras_version": keras.__version__,
            **({"distribute": self.placement.describe()} if self.placement.strategy is not None else {}),
        }

    def _test_metrics(self) -> dict[str, float] | None:
        return self._evaluate("test") if "test" in self.splits else None


@dataclass
class _RunState:
    """One run's open files and progress while :func:`fit_together` trains it."""

    dir: Path
    cb_list: Any
    records: RecordWriter
    monitor: str
    summary: dict[str, Any]
    history: list[dict[str, Any]] = field(default_factory=list)
    steps_done: int = 0
    stopped: bool = False
    failure: str | None = None  # why training gave up (non-finite values); the run then failed
    rollbacks: int = 0
    earlier_s: float = 0.0  # wall time of the sessions before a resume
    good: dict[str, np.ndarray] | str | None = None  # the state at the last checkpoint (or: kept in the engine)
    writer: checkpoint.Writer | None = None


def fit_together(
    trainers: Sequence[Trainer],
    outs: Sequence[str | Path | None] | None = None,
    callbacks: Sequence[Sequence[keras.callbacks.Callback] | None] | None = None,
    *,
    resume: Sequence[Resume | None] | None = None,
    engine: Engine | None = None,
    restartable: bool = False,
) -> list[Run]:
    """Train prepared trainers together, in one engine: K members, one compiled program per epoch.

    One run is K = 1 (:meth:`Trainer.fit`); a fused study passes its variants x seeds. Each run
    keeps its own run directory, callbacks (a member that early stopping stops is frozen and
    sits out the rest), records, summary and diagnosis; all see the same batches, so they must
    share the data (the same object), batch size, epochs, shuffling and validation frequency.
    The epoch loop itself (checkpoints, rollbacks, interruptions) is :class:`~trainlab.training.loop.EpochLoop`.

    Args:
        trainers: the prepared trainers.
        outs: each run's directory (None: a new one under ``runs/``).
        callbacks: each run's extra callbacks.
        resume: per run, None for a new run or a :class:`Resume` to continue one in its directory.
        engine: an engine that already trained runs of these very recipes (seeds aside), one member
            per trainer in the same order (see :func:`same_program`): each trainer's initial state
            is loaded into it and its traced programs are used again, with no new tracing. The
            runs' ``model`` is then the engine's, which the next runs it trains will change; their
            run directories hold their own weights.
        restartable: the engine these runs train in will train other runs after them (``engine=`` in a
            later call): it remembers its members' fresh optimizer state first (:meth:`Engine.remember_fresh`).

    Raises:
        ValueError: the trainers cannot train together (see :func:`fusable`), or not in ``engine``.
    """
    trainers = list(trainers)
    outs = list(outs or [None] * len(trainers))
    callbacks = list(callbacks or [None] * len(trainers))
    resume = list(resume or [None] * len(trainers))
    lead = trainers[0]
    if len(trainers) > 1:
        if lead.placement.strategy is not None:
            raise TrainlabError("training.distribute", "trains one run at a time; runs fused in one engine (a study's"
                                " fused executor) need training.distribute: none", lead.placement.kind)
        reason = fusable(trainers)
        if reason:
            raise ValueError(f"these runs cannot train together: {reason}")
    if engine is not None:
        if len(engine.members) != len(trainers) or any(r is not None for r in resume):
            raise ValueError(f"an engine of {len(engine.members)} members cannot take {len(trainers)} new runs")
        for k, trainer in enumerate(trainers):
            trainer._join(engine, k)
        engine.set_active([True] * len(trainers))
        engine.halt.assign(False)
    elif len(trainers) > 1:
        training = lead.recipe.training
        engine = Engine([t.member for t in trainers], training.batch_size, jit_compile=training.jit_compile,
                        eval_batch_size=training.eval_batch_size)
        for k, trainer in enumerate(trainers):
            trainer.engine, trainer.index = engine, k
    if restartable:
        lead.engine.remember_fresh()
    opened: list[Trainer] = []
    try:
        for trainer, out, cbs, again in zip(trainers, outs, callbacks, resume):
            # Checkpoint files are written for single runs; a fused study's runs keep theirs in memory (rollbacks).
            trainer._open(out, cbs, again, checkpoints=len(trainers) == 1)
            opened.append(trainer)
    except BaseException:
        for trainer, again in zip(opened, resume):
            if again is None:
                rundir.discard(trainer.state.dir)
        raise
    started = time.perf_counter()
    status, error = "running", None
    loop = EpochLoop(trainers, started)
    with Interrupts([lead.engine.halt]) as interrupts:
        try:
            for trainer in trainers:
                trainer.model.stop_training = False
                trainer.state.cb_list.on_train_begin()
            loop.run(loop.restore(resume), interrupts)  # restored after on_train_begin, which resets callbacks
            for trainer in trainers:
                trainer.state.records.settle()  # the last epoch's kernels, before early stopping restores the best
                trainer.state.cb_list.on_train_end(trainer.state.history[-1] if trainer.state.history else None)
            status = "completed"
        except KeyboardInterrupt as exc:
            status = "interrupted"
            if lead.placement.kind != "multi_worker":  # which cannot be resumed yet
                exc.run_dirs = [trainer.state.dir for trainer in trainers]  # for the command line's message
            raise
        except Exception as exc:
            status, error = "failed", f"{exc.__class__.__name__}: {exc}"
            raise
        finally:
            runs = [trainer._close(status, error, started) for trainer in trainers]
        interrupts.check()  # a signal that came while the run was being closed: act on it now
    return runs


def same_program(a: Trainer, b: Trainer) -> bool:
    """True when ``b`` can train in the program traced for ``a``: the same recipe but for its seed and name.

    The seed changes initial weights and dropout draws, which are state, not program; anything
    else (a dropout rate, a schedule, a loss) may be a constant of the traced program.
    """
    def program(t: Trainer) -> dict[str, Any]:
        dumped = t.recipe.model_dump(mode="json")
        return {k: v for k, v in dumped.items() if k not in ("seed", "name")}

    return a.given_model is None and b.given_model is None and program(a) == program(b)


def fusable(trainers: Sequence[Trainer]) -> str | None:
    """Why these trainers cannot train in one engine, or None when they can."""
    lead = trainers[0]
    if lead.streamed:
        return "streamed (tf.data) data trains one run at a time"
    keys = ("batch_size", "epochs", "shuffle", "validation_freq", "jit_compile", "train_eval_samples", "on_nonfinite")
    for trainer in trainers[1:]:
        if trainer.data is not lead.data:
            return "they use different data (data section or data.seed differ)"
        if trainer.data_seed != lead.data_seed:
            return "they use different data.seed (batch order)"
        for key in keys:
            mine, theirs = getattr(lead.recipe.training, key), getattr(trainer.recipe.training, key)
            if mine != theirs:
                return f"training.{key} differs ({mine} vs {theirs})"
    return None


# --------------------------------------------------------------------- building
def seed_everything(seed: int, deterministic: bool = False) -> None:
    """Seed Python, NumPy, TensorFlow and Keras; optionally turn on op determinism."""
    keras.utils.set_random_seed(seed)
    if deterministic:
        tf.config.experimental.enable_op_determinism()


def resolve(recipe: Recipe, data: Any, model: keras.Model | None = None) -> Recipe:
    """Fill the ``auto`` choices (loss, metrics, output) from the data and check they fit.

    Raises:
        TrainlabError: the labels do not fit the loss (e.g. three classes with binary cross-entropy).
    """
    task = data.task
    loss = recipe.loss
    if loss == "auto":
        loss = {"binary": "binary_crossentropy", "multiclass": "sparse_categorical_crossentropy"}.get(task, "mse")
    traits = losses.traits(loss)
    check_task(traits, data)
    output = check_output(recipe.model.output, traits) if model is None else recipe.model.output
    names = metrics.auto("regression" if traits.labels == "real" else task) if recipe.metrics == "auto" \
        else list(recipe.metrics)
    for i, name in enumerate(names):  # fail early on a bad name, before any training
        metrics.build(name, traits.labels, traits.from_logits, where=f"metrics[{i}]")
    return recipe.model_copy(
        update={"loss": loss, "metrics": names, "model": recipe.model.model_copy(update={"output": output})}
    )


def check_output(output: str, traits: Any) -> str:
    """The output layer for the loss: ``auto`` resolved, a mismatch fixed (with a warning) or refused.

    Raises:
        TrainlabError: an output the loss cannot read (softmax over binary cross-entropy's
            single unit, sigmoid under a multi-class loss, logits under a loss that reads probabilities).
    """
    wanted = models.output_for(traits.labels, traits.from_logits)
    if output in ("auto", wanted):
        return wanted
    if traits.from_logits and output in ("sigmoid", "softmax"):
        warnings.warn(
            f"model.output is {output!r} but the loss reads logits (from_logits: true); "
            "using a linear 'logits' output instead", stacklevel=3,
        )
        return "logits"
    if traits.labels == "real" and output in ("linear", "sigmoid", "logits"):
        return output  # a bounded regression target may use a sigmoid
    reason = (
        f"{traits.name} reads probabilities; use {wanted!r} or set the loss's from_logits: true"
        if output == "logits" else f"{traits.name} needs a {wanted!r} output"
    )
    raise TrainlabError("model.output", reason, output)


def check_task(traits: Any, data: Any) -> None:
    """Raise if the data's task does not fit the loss."""
    name = traits.name if hasattr(traits, "name") else "the loss"
    source = getattr(data, "source", "data")
    if data.task == "regression" and traits.task != "regression":
        raise TrainlabError(
            "loss", f"a classification loss, but data.source {source!r} has a regression target;"
            " use a regression loss (mse, mae, huber, msle)", name,
        )
    if data.task == "multiclass" and traits.labels == "binary":
        raise TrainlabError(
            "loss", f"needs 2 classes but data.source {source!r} has {data.n_classes} classes;"
            " use sparse_categorical_crossentropy", name,
        )


def build_model(recipe: Recipe, data: Any) -> keras.Model:
    """Build the recipe's model for the data's shape and task."""
    labels = losses.traits(recipe.loss).labels
    # The loss decides the output width: one sigmoid unit for binary cross-entropy, one unit
    # per class for the categorical losses (also on two-class data), the targets for regression.
    if labels == "binary":
        n_outputs = 1
    elif labels in ("sparse", "onehot"):
        n_outputs = data.n_classes
    else:
        n_outputs = data.n_outputs if data.task == "regression" else 1
    spec = recipe.model.model_dump()
    return models.build(
        spec, where="model", n_inputs=int(data.n_features), n_outputs=int(n_outputs),
    )


def build_member(
    model: keras.Model, recipe: Recipe, traits: Any, sample: tuple[tf.Tensor, tf.Tensor],
    steps_per_epoch: int | None = None,
) -> Member:
    """Build the optimizer, loss and metrics for ``model`` and compile it.

    Compiling makes the trained model usable as is (``evaluate``, ``save``); building the
    compiled metrics on a two-sample batch lets stock callbacks (EarlyStopping,
    ModelCheckpoint, ...) infer whether a metric is maximized, as they do under ``fit``.
    """
    optimizer = optimizers.build(recipe.optimizer.spec(), where="optimizer", steps_per_epoch=steps_per_epoch)
    loss = losses.build(recipe.loss, where="loss")
    names = list(recipe.metrics)
    train_metrics = [metrics.build(n, traits.labels, traits.from_logits) for n in names]
    val_metrics = [metrics.build(n, traits.labels, traits.from_logits) for n in names]
    model.compile(
        optimizer=optimizer, loss=loss,
        metrics=[metrics.build(n, traits.labels, traits.from_logits) for n in names],
    )
    x, y = sample
    model.compute_metrics(x[:2], y[:2], model(x[:2]), sample_weight=None)
    model.reset_metrics()
    return Member(model, optimizer, loss, train_metrics, val_metrics)


def best_of(history: list[dict[str, Any]], monitor: str) -> tuple[int | None, float | None]:
    """The 1-based epoch and value where ``monitor`` was best (max for accuracy-like names)."""
    rows = [(r["epoch"], r[monitor]) for r in history if r.get(monitor) is not None and np.isfinite(r[monitor])]
    if not rows:
        return None, None
    pick = max if monitor_mode(monitor) == "max" else min
    epoch, value = pick(rows, key=lambda r: r[1])
    return int(epoch), float(value)


def monitor_mode(monitor: str) -> str:
    """``max`` for accuracy, AUC, precision, recall and F-scores, else ``min`` (Keras' rule, extended)."""
    name = monitor.removeprefix("val_").lower()
    return "max" if any(k in name for k in ("acc", "auc", "precision", "recall", "f1", "fbeta", "r2")) else "min"


def _diagnosis(
    history: list[dict[str, Any]], records: RecordWriter, summary: dict[str, Any], run_dir: Path
) -> list[dict[str, Any]]:
    """The written diagnosis of the run's records (empty before the first epoch, unless training met non-finite values).

    It reads the rows just written, held in memory, with the final summary (whether the run
    stopped early matters to some rules; the file still says "running" at this point).
    """
    from trainlab.diagnose import RULES, diagnose
    from trainlab.rundir import Records as RunRecords

    if not history:  # a run that gave up in its first epoch: only what events.csv says
        rows = RunRecords([], [], [], summary, run_dir, events=records.event_rows)
        return [finding.to_dict() for finding in diagnose(rows, {"nonfinite": RULES["nonfinite"]})] \
            if records.event_rows else []
    rows = RunRecords(history, records.step_rows, records.layer_rows, summary, run_dir, events=records.event_rows)
    return [finding.to_dict() for finding in diagnose(rows)]


PROBE_SAMPLES = 256  # training samples the activation probe (dead / saturated units) looks at


def _subset(n: int, seed: int, size: int) -> np.ndarray:
    """A fixed random subset of ``size`` of ``n`` indices, sorted (all of them when fewer)."""
    return np.arange(n) if n <= size else np.sort(np.random.default_rng(seed).choice(n, size, replace=False))


def _probe_sample(sample: tuple[tf.Tensor, tf.Tensor], seed: int, size: int) -> tuple[tf.Tensor, tf.Tensor]:
    """A fixed random subset of ``size`` training samples (all of them when fewer), the same every epoch."""
    x, y = sample
    n = int(x.shape[0])
    if n <= size:
        return x, y
    idx = _subset(n, seed, size)
    return tf.gather(x, idx), tf.gather(y, idx)


def _train_eval_sample(
    sample: tuple[tf.Tensor, tf.Tensor], seed: int, size: int, probe: int
) -> tuple[tuple[tf.Tensor, tf.Tensor], tuple[tf.Tensor, tf.Tensor]]:
    """The train-eval sample (a fixed random subset of ``size`` training samples, all of them when fewer) and
    the activation probe's, which is its head: ``probe`` of its samples drawn as :func:`_probe_sample` draws
    them (the same samples, when the training set is no larger than ``size``), then the rest. One inference
    pass over the sample then gives both (:meth:`Engine.evaluate_splits`)."""
    x, y = sample
    rows = _subset(int(x.shape[0]), seed, size)
    head = _subset(len(rows), seed, probe)
    order = rows[np.concatenate([head, np.setdiff1d(np.arange(len(rows)), head)])]
    xs, ys = tf.gather(x, order), tf.gather(y, order)
    return (xs, ys), (xs[: len(head)], ys[: len(head)])


def _label_fn(labels: str, n_classes: int | None):
    """The per-element map that puts a stream's targets in the form the loss expects."""

    def fix(x, y):
        x = tf.cast(x, tf.float32)
        if labels == "sparse":
            return x, tf.cast(y, tf.int32)
        if labels == "onehot":
            return x, tf.one_hot(tf.cast(y, tf.int32), int(n_classes))
        return x, tf.reshape(tf.cast(y, tf.float32), [-1])

    return fix


def _tensors(x: np.ndarray, y: np.ndarray, labels: str, n_classes: int | None) -> tuple[tf.Tensor, tf.Tensor]:
    """Arrays in the form the loss expects: column vectors, integer labels, or one-hot rows."""
    y = np.asarray(y)
    if labels == "sparse":
        y = y.astype(np.int32)
    elif labels == "onehot":
        y = np.eye(int(n_classes), dtype=np.float32)[y.astype(np.int64)]
    else:
        y = y.astype(np.float32).reshape(len(y), -1)
    return tf.constant(np.asarray(x, dtype=np.float32)), tf.constant(y)
