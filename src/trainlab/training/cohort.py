"""A cohort: K >= 1 runs that share one data set and one engine, and take each epoch together.

One run is a cohort of one; a fused study's variants x seeds are a larger one. Every run keeps
its own model, optimizer, callbacks and run directory (:class:`~trainlab.training.trainer.Trainer`);
what they share lives here: the data as the engine takes it, the engine, and what an epoch does
for all of them at once (train its batches, end it with validation and the probes, evaluate a
split). The epoch loop (:mod:`trainlab.training.loop`) drives a cohort through these methods.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import keras
import numpy as np
import tensorflow as tf

from trainlab import models
from trainlab.config import Recipe
from trainlab.errors import TrainlabError
from trainlab.training import checkpoint, distribute, sanity
from trainlab.training.engine import Engine, EpochSteps, Member, held
from trainlab.training.engine.batches import unpack
from trainlab.training.prepare import Inputs, sample_count
from trainlab.training.record_writer import RecordWriter
from trainlab.training.timings import Timings


@dataclass
class RunState:
    """One run's open files and progress while its cohort trains it."""

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
    timings: Timings = field(default_factory=Timings)  # the session's (a fused cohort's runs share one)


class Seat(Protocol):
    """What a cohort and its loop need of each run; :class:`~trainlab.training.trainer.Trainer` is one."""

    name: str
    recipe: Recipe
    model: keras.Model
    data: Any
    data_seed: int
    streamed: bool
    given_model: keras.Model | None
    placement: distribute.Placement
    inputs: Inputs
    index: int
    state: RunState | None
    engine: Engine

    @property
    def member(self) -> Member: ...

    def steps_per_epoch(self) -> int | None: ...

    def join(self, engine: Engine, k: int) -> None: ...

    def open(self, out: str | Path | None, callbacks: Sequence[keras.callbacks.Callback] | None,
             resume: checkpoint.Resume | None = None, checkpoints: bool = True) -> None: ...

    def end_epoch(self, epoch: int, steps: EpochSteps, logs: dict[str, float],
                  activations: list[dict[str, Any]], tick: float) -> None: ...

    def close(self, status: str, error: str | None, started: float) -> Any: ...


class Cohort:
    """K prepared runs, one data set, one engine.

    Args:
        runs: the prepared runs (trainers); the first one's data and training settings are the cohort's.
        engine: an engine that already trained runs of the same programs (:func:`same_program`: the
            same recipes but for their seeds and the hyper-parameters the engine holds in variables):
            each run's initial state is loaded into its member and the traced programs are used
            again, with no new tracing.
        restartable: the engine will train other runs after these (``engine=`` in a later cohort):
            it remembers its members' fresh optimizer state first (:meth:`Engine.remember_fresh`).
        slots: with ``engine``, the member each run trains as (default: run ``k`` as member ``k``, one
            run per member); members no run takes sit out.
        stopping: a new engine of several members expects them to stop early (see :class:`Engine`).

    Raises:
        ValueError: the runs cannot train together (see :func:`fusable`), or not in ``engine``.
        TrainlabError: several runs under a ``tf.distribute`` strategy.
    """

    def __init__(self, runs: Sequence[Seat], engine: Engine | None = None, restartable: bool = False,
                 slots: Sequence[int] | None = None, stopping: bool = False) -> None:
        self.runs = list(runs)
        lead = self.runs[0]
        if len(self.runs) > 1:
            if lead.placement.strategy is not None:
                raise TrainlabError("training.distribute", "trains one run at a time; runs fused in one engine (a"
                                    " study's fused executor) need training.distribute: none", lead.placement.kind)
            reason = fusable(self.runs)
            if reason:
                raise ValueError(f"these runs cannot train together: {reason}")
        if engine is not None:
            slots = list(range(len(self.runs))) if slots is None else list(slots)
            members = len(engine.members)
            if len(slots) != len(self.runs) or len(set(slots)) != len(slots) or not all(0 <= k < members
                                                                                       for k in slots):
                raise ValueError(f"{len(self.runs)} runs need as many distinct members of the engine's {members},"
                                 f" got {slots}")
            for k, run in zip(slots, self.runs):
                run.join(engine, k)
            engine.set_active([k in slots for k in range(members)])
            engine.halt.assign(False)
        elif len(self.runs) > 1:
            training = lead.recipe.training
            engine = Engine([r.member for r in self.runs], training.batch_size, jit_compile=training.jit_compile,
                            eval_batch_size=training.eval_batch_size, accumulate=training.accumulate_grad_batches,
                            stopping=stopping)
            for k, run in enumerate(self.runs):
                run.engine, run.index = engine, k
        self.engine = lead.engine
        if restartable:
            self.engine.remember_fresh()
        self.training = lead.recipe.training
        self.data, self.data_seed, self.streamed = lead.data, lead.data_seed, lead.streamed
        self.inputs = lead.inputs
        self.placement = lead.placement

    @property
    def single(self) -> bool:
        """Whether the engine trains one member (no member to freeze or leave out)."""
        return len(self.engine.members) == 1

    def has(self, split: str) -> bool:
        """Whether the data has the split (``train``, ``val``, ``test``)."""
        return split in self.inputs.splits

    def steps_per_epoch(self) -> int | None:
        """Optimizer steps per epoch (None for a stream of unknown length), as the sanity keys leave them."""
        return self.runs[0].steps_per_epoch()

    def set_active(self, runs: Sequence[Seat]) -> None:
        """Let ``runs`` take their steps; the others' steps sit out (a fused engine; nothing for one member)."""
        if not self.single:
            taking = {run.index for run in runs}
            self.engine.set_active([k in taking for k in range(len(self.engine.members))])

    def empty_steps(self) -> EpochSteps:
        """The record of no step at all (a stretch whose every batch was skipped)."""
        nothing = np.zeros((0, len(self.engine.members)), np.float32)
        return EpochSteps(nothing, nothing, nothing, np.zeros(0, np.float32),
                          [np.zeros((0, n), np.float32) for n in self.engine.layer_counts()],
                          [{} for _ in self.engine.members], [], [], [])

    def train_epoch(
        self, epoch: int, start: int = 0, stop: int | None = None, reset: bool | None = None,
        skip: Sequence[int] = (),
    ) -> EpochSteps:
        """Train batches ``[start, stop)`` of ``epoch`` (in-memory data), or the epoch less the batches
        ``skip`` (a stream, which always runs whole)."""
        training = self.training
        if not self.streamed:
            x, y, w = unpack(self.inputs.splits["train"])
            # The order is a pure function of (seed, epoch): a resumed run sees the same batches.
            return self.engine.train_epoch(x, y, start=start, stop=stop, reset=reset,
                                           seed=(self.data_seed, epoch) if sanity.shuffled(training) else None,
                                           sample_weight=w)
        ds = self.inputs.splits["train"]
        if not self.inputs.batched:  # a batched stream comes in its own batches and order
            if sanity.shuffled(training):
                ds = ds.shuffle(self.data.shuffle_buffer, seed=self.data_seed * 100_003 + epoch)
            ds = ds.batch(training.batch_size)
        if training.limit_train_batches is not None and training.overfit_batches is None:
            ds = ds.take(self.steps_per_epoch() * training.accumulate_grad_batches)  # a step takes N batches
        if skip:  # steps given up after a non-finite loss (a rollback): each step's batches
            per = training.accumulate_grad_batches
            skipped = tf.constant(sorted(b for step in skip for b in range(step * per, (step + 1) * per)), tf.int64)
            ds = ds.enumerate().filter(lambda i, batch: tf.reduce_all(i != skipped)).map(lambda i, batch: batch)
        return self.engine.train_epoch_dataset(ds.prefetch(tf.data.AUTOTUNE))

    def end_of_epoch(
        self, validate: bool
    ) -> tuple[list[dict[str, float]] | None, list[dict[str, float]] | None, list[dict[str, Any]]]:
        """What an epoch ends with, for every engine member: the validation results (None unless ``validate``),
        the train-eval sample's (None without one) and the activation statistics of the probe's samples.

        In-memory data take one compiled call, whose pass over the train-eval sample also gives the
        activations (the probe's samples head that sample); a stream evaluates split by split.
        """
        inputs = self.inputs
        in_memory = validate and not self.streamed
        splits = [inputs.splits["val"]] if in_memory else []
        if inputs.train_eval is not None:
            splits.append(inputs.train_eval)
        rows = sample_count(inputs.probe)
        probed = inputs.train_eval is not None and self.engine.can_probe_in_eval(rows)
        results, activations = self.engine.evaluate_splits(splits, rows if probed else 0) if splits else ([], None)
        if activations is None:
            activations = self.engine.activation_stats(inputs.probe[0])
        val = results.pop(0) if in_memory else self.evaluate("val") if validate else None
        return val, results[0] if results else None, activations

    def evaluate(self, split: str) -> list[dict[str, float]]:
        """Every engine member's loss and metrics on a split (one compiled pass for all)."""
        return evaluate(self.engine, self.inputs, self.streamed, split)


def evaluate(engine: Engine, inputs: Inputs, streamed: bool, split: str) -> list[dict[str, float]]:
    """Every member of ``engine``: its loss and metrics on ``inputs``' split (one compiled pass for all)."""
    if not streamed:
        return engine.evaluate(*inputs.splits[split])  # (x, y) or (x, y, sample_weight)
    ds = inputs.splits[split] if inputs.batched else inputs.splits[split].batch(engine.eval_batch_size)
    return engine.evaluate_dataset(ds.prefetch(tf.data.AUTOTUNE))


def same_program(a: Seat, b: Seat) -> bool:
    """True when ``b`` can train in the program traced for ``a`` (in an engine that holds its hyper-parameters:
    :meth:`Engine.remember_fresh`): the same recipe but for its seed, its name, a number learning rate and the
    dropout rates, and the same model but for those rates (:func:`trainlab.training.engine.held.program`).

    The seed changes initial weights and dropout draws, which are state, not program; the learning
    rate and the dropout rates are held in variables; anything else (a schedule, momentum, a loss, a
    regularization strength, a dropout of 0 or none) is a constant of the traced program.
    """
    def program(t: Seat) -> dict[str, Any]:
        dumped = {k: v for k, v in t.recipe.model_dump(mode="json").items() if k not in ("seed", "name")}
        if isinstance(dumped["optimizer"]["learning_rate"], (int, float)):
            dumped["optimizer"] = {**dumped["optimizer"], "learning_rate": None}
        if models.holds_dropout(dumped["model"]["name"]):  # its rates are in Dropout layers: the models show the rest
            dumped["model"] = {k: v for k, v in dumped["model"].items() if k != "dropout"}
        return dumped

    return (a.given_model is None and b.given_model is None and program(a) == program(b)
            and held.program(a.model) == held.program(b.model))


def fusable(runs: Sequence[Seat]) -> str | None:
    """Why these runs cannot train in one engine, or None when they can."""
    lead = runs[0]
    if lead.streamed:
        return "streamed (tf.data) data trains one run at a time"
    # (class_weight: the class weights are in the training split's weights, which the runs share)
    keys = ("batch_size", "epochs", "shuffle", "validation_freq", "jit_compile", "train_eval_samples", "on_nonfinite",
            "class_weight", "accumulate_grad_batches", "fast_dev_run", "limit_train_batches", "limit_val_batches",
            "overfit_batches")  # the class weights: in the training split's weights, shared
    for run in runs[1:]:
        if run.data is not lead.data:
            return "they use different data (data section or data.seed differ)"
        if run.data_seed != lead.data_seed:
            return "they use different data.seed (batch order)"
        for key in keys:
            mine, theirs = getattr(lead.recipe.training, key), getattr(run.recipe.training, key)
            if mine != theirs:
                return f"training.{key} differs ({mine} vs {theirs})"
    return None
