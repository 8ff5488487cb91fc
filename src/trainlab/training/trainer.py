"""One run: a recipe's pieces prepared, its run directory, callbacks and records, the end of each epoch.

A :class:`Trainer` prepares what its recipe names (:mod:`trainlab.training.prepare`), then,
while it trains (alone, or in a cohort with others: :mod:`trainlab.training.cohort`), keeps
its own run directory: the resolved recipe, the callbacks, the records, the checkpoints, and
at the end the weights, the summary and the diagnosis. :func:`trainlab.train` is the way in.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import keras
import numpy as np

from trainlab import callbacks as tl_callbacks
from trainlab import data as tl_data
from trainlab import losses, rundir
from trainlab.config import Recipe
from trainlab.errors import TrainlabError
from trainlab.training import checkpoint, distribute, prepare, sanity
from trainlab.training import summary as summary_of
from trainlab.training.cohort import RunState, evaluate
from trainlab.training.engine import Engine, EpochSteps, Member
from trainlab.training.sessions import fit_together
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



class Trainer:
    """One run: prepares everything its recipe names, keeps its run directory, and trains (:meth:`fit`).

    Args:
        recipe: the validated recipe (see :func:`trainlab.training.prepare.load_recipe`).
        name: the run's name when the recipe has none.
        base_dir: the folder relative data paths resolve against.
        model: a ``keras.Model`` to train instead of the recipe's.
        data: data given from Python instead of the recipe's source.
        loaded_data: these very splits, already loaded from ``recipe.data`` (a study shares them).
        augment: a layer applied to each training batch's inputs (see :attr:`Member.augment`).

    Example:
        >>> trainer = Trainer(recipe, name="basic")
        >>> run = trainer.fit("runs/basic")
    """

    def __init__(
        self,
        recipe: Recipe,
        name: str = "run",
        base_dir: Path | None = None,
        model: keras.Model | None = None,
        data: Any = None,
        *,
        loaded_data: Any = None,
        augment: keras.layers.Layer | None = None,
    ) -> None:
        self.name = recipe.name or name
        self.base_dir = base_dir
        self.given_model, self.given_data = model, data
        self.placement = distribute.place(recipe.training)  # one device, or a tf.distribute strategy
        prepare.seed_everything(recipe.seed, recipe.deterministic)
        # The data (generation, splits, batch order) follow data.seed when set: a study's seeds then vary
        # the initial weights and dropout only, and its runs can share one data set and train together.
        self.data_seed = recipe.data.seed if recipe.data.seed is not None else recipe.seed
        if data is None:  # loaded_data: these very splits, already loaded from recipe.data (a study shares them)
            data = loaded_data if loaded_data is not None else tl_data.load(
                recipe.data, seed=self.data_seed, base_dir=base_dir)
        self.data = data
        self.recipe = sanity.resolve(prepare.resolve(recipe, self.data, model))
        self.traits = losses.traits(self.recipe.loss)
        n_train = None if self.streamed else len(self.data.x_train)
        if n_train is not None and self.recipe.training.batch_size > n_train:
            raise TrainlabError(
                "training.batch_size", f"must be <= the training set size ({n_train} samples)",
                self.recipe.training.batch_size,
            )
        # The data as the sanity keys cut it (overfit_batches, limit_val_batches); self.data stays the data as
        # loaded, which a study's runs share (and must, to train together).
        self.trained_data = sanity.restrict(self.data, self.recipe.training)
        self.inputs = prepare.inputs(self.trained_data, self.traits.labels, self.data_seed,
                                     self.recipe.training.train_eval_samples, self.recipe.training.class_weight)
        self.augment = augment if augment is not None else prepare.build_augment(self.recipe, self.data)
        if model is None:
            prepare.seed_everything(recipe.seed)  # initial weights and dropout depend on the seed alone
            with self.placement.scope():
                model = prepare.build_model(self.recipe, self.data)
        elif not self.placement.holds(model):
            raise TrainlabError(
                "training.distribute", "a model given from Python must be built in the strategy's scope (with"
                " trainlab.training.distribute.place(recipe.training).scope())", self.placement.kind,
            )
        self.model = model
        lr = self.recipe.optimizer.learning_rate
        if isinstance(lr, Mapping) and lr.get("unit") == "epoch" and self.steps_per_epoch() is None:
            raise TrainlabError("optimizer.learning_rate.unit", "epoch needs data of known length", "epoch")
        self.index = 0  # this trainer's member in the engine (a cohort may put it in a larger one)
        self.state: RunState | None = None
        self._member: Member | None = None  # built when first needed (a study's later seeds train another's)
        self._engine: Engine | None = None  # its own, built when first needed (a study's runs may train in another)

    @property
    def member(self) -> Member:
        """This run's model with its optimizer, loss and metrics: its own, or the engine member it trains as."""
        if self._member is None:
            with self.placement.scope():  # under a strategy, the optimizer's, metrics' and engine's variables are its own
                self._member = prepare.build_member(self.model, self.recipe, self.traits, self.inputs.sample,
                                                    self.steps_per_epoch())
                if self.augment is not None:
                    # Built here, before the engine traces; in inference mode, which draws no random number.
                    self.augment(self.inputs.sample[0], training=False)
                    self._member.augment = self.augment
        return self._member

    @property
    def engine(self) -> Engine:
        """The engine this run trains in: its own (K = 1), or its cohort's."""
        if self._engine is None:
            with self.placement.scope():
                self._engine = Engine(
                    [self.member],
                    self.recipe.training.batch_size,
                    jit_compile=self.recipe.training.jit_compile,
                    eval_batch_size=self.recipe.training.eval_batch_size,
                    accumulate=self.recipe.training.accumulate_grad_batches,
                )
        return self._engine

    @engine.setter
    def engine(self, engine: Engine) -> None:
        self._engine = engine

    @property
    def splits(self) -> dict[str, Any]:
        """The data as the engine takes it, by split (see :class:`~trainlab.training.prepare.Inputs`)."""
        return self.inputs.splits

    @property
    def streamed(self) -> bool:
        """Whether the data is a stream (``tf.data``) rather than arrays in memory."""
        return isinstance(self.data, tl_data.Streams)

    def steps_per_epoch(self) -> int | None:
        """Optimizer steps per epoch (None for a stream of unknown length), as ``training.limit_train_batches``
        and ``training.overfit_batches`` leave them; with ``training.accumulate_grad_batches`` a step takes
        that many batches (and a limit counts steps)."""
        training = self.recipe.training
        return sanity.train_steps(training, prepare.epoch_steps(self.trained_data, self.inputs, training.batch_size,
                                                                training.accumulate_grad_batches))

    def join(self, engine: Engine, k: int) -> None:
        """Train as member ``k`` of ``engine``, from this trainer's model as built (see :meth:`Engine.restart`)."""
        if engine.members[k] is not self._member:  # a member of its own, never built, has no optimizer to waste
            lr = self.recipe.optimizer.learning_rate
            engine.restart(k, self.model, float(lr) if isinstance(lr, (int, float)) else None)
            self.model, self._member = engine.members[k].model, engine.members[k]
        self.engine, self.index = engine, k

    # ------------------------------------------------------------------ the loop
    def fit(self, out: str | Path | None = None, callbacks: Sequence[keras.callbacks.Callback] | None = None) -> Run:
        """Train, writing the run directory as it goes; see :func:`train`."""
        return fit_together([self], [out], [callbacks])[0]

    def open(
        self, out: str | Path | None, callbacks: Sequence[keras.callbacks.Callback] | None,
        resume: checkpoint.Resume | None = None, checkpoints: bool = True,
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
                preprocessing = getattr(self.data, "preprocessing", None)
                if preprocessing is not None:
                    rundir.write_json(run_dir / rundir.PREPROCESSING, preprocessing.to_dict())
            cb_list = tl_callbacks.CallbackList(
                self._callbacks(run_dir, callbacks), model=self.model, epochs=training.epochs,
                steps=self.steps_per_epoch(), verbose=0,
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
        self.state = RunState(run_dir, cb_list, records, monitor, {"status": "running", "name": self.name,
                                                                     "monitor": monitor}, writer=writer)
        if resume is not None and self.streamed:  # a stream cannot be entered mid-way: its checkpoints end epochs
            epoch = resume.checkpoint.epoch if resume.checkpoint is not None else 0
            self.state.summary["resume"] = f"epoch {epoch + 1} restarted (streamed data)"
        rundir.write_json(run_dir / rundir.SUMMARY, self.state.summary)

    def _history_columns(self) -> list[str]:
        has_val = "val" in self.splits
        names = [m.name for m in self.member.metrics]
        return ["epoch", "loss", *(["val_loss"] if has_val else []), *names,
                *([f"val_{n}" for n in names] if has_val else []),
                *([f"train_eval_{n}" for n in ["loss", *names]] if self.inputs.train_eval is not None else []),
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

    def usable(self, found: checkpoint.Checkpoint) -> None:
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

    def end_epoch(
        self, epoch: int, steps: EpochSteps, logs: dict[str, float], activations: list[dict[str, Any]], tick: float
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
        with state.timings.part("records"):
            layers = self._layer_rows(epoch + 1, steps, activations[k])
            state.records.write_epoch(row, member_steps, state.steps_done + 1, layers)
            state.records.write_weights(epoch + 1, self.model, lambda: self.engine.gradients(*self.inputs.probe)[k])
        state.steps_done += int(ran.sum())
        state.history.append(row)
        state.cb_list.on_epoch_end(epoch, {k_: v for k_, v in logs.items()})

    def close(self, status: str, error: str | None, started: float) -> Run:
        """Finish the run directory: checkpoints and records closed, weights saved, summary and diagnosis written."""
        state = self.state
        if state.failure is not None:  # training gave up on non-finite values (see training.on_nonfinite)
            status, error = "failed", state.failure
        summary = state.summary
        summary["status"] = status
        if error is not None:
            summary["error"] = error
        timings = state.timings
        if state.writer is not None:
            with timings.part("checkpoints"):
                state.writer.close()
        with timings.part("records"):
            state.records.close()
        summary.update(self._summary(state.history, state.monitor, started - state.earlier_s, state.cb_list.callbacks))
        checks = sanity.describe(self.recipe.training, self.steps_per_epoch(),
                                 prepare.epoch_steps(self.data, self.inputs, self.recipe.training.batch_size))
        if checks is not None:
            summary["sanity"] = checks
        if status == "completed":
            with timings.part("evaluation"):
                summary["test"] = evaluate(self.engine, self.inputs, self.streamed, "test")[self.index] \
                    if "test" in self.splits else None
        if status in ("completed", "interrupted"):  # an interrupted run keeps its weights
            with timings.part("saving"):
                self.model.save(state.dir / rundir.MODEL)
        with timings.part("diagnosis"):
            summary["diagnosis"] = summary_of.diagnosis(state.history, state.records, summary, state.dir)
        summary["timings"] = timings.as_dict()
        rundir.write_json(state.dir / rundir.SUMMARY, summary)
        if not self.placement.chief:
            shutil.rmtree(state.dir, ignore_errors=True)
        return Run(state.dir, self.recipe, state.history, summary, self.model, self.data, self.placement.chief)

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
        return summary_of.summarize(history, monitor, started, callbacks, epochs=self.recipe.training.epochs,
                                    stopped=bool(self.model.stop_training), data=self.data, placement=self.placement,
                                    inputs=self.inputs, training=self.recipe.training)
