"""The epoch loop over a cohort (:class:`~trainlab.training.cohort.Cohort`: K >= 1 runs, one engine).

:class:`EpochLoop` is the loop itself; :mod:`trainlab.training.sessions` runs it from a cohort's first
callback to its runs' closing (:func:`~trainlab.training.sessions.fit_together`), for several cohorts side by
side where asked.

Each epoch goes through Keras' callback protocol as ``fit`` calls it; between the calls the
engine trains the epoch's batches in one compiled call, or in stretches ("chunks") ending at the
checkpoints ``training.checkpoint.every_steps`` asks for. Around that, three things make a run
one that can be killed at any moment and that survives a NaN:

- **Checkpoints.** At every epoch end (and chunk end) the whole training state is read in one
  compiled call; it is the state a rollback returns to, and (single runs) it is written to the
  run directory's ``state/`` by :mod:`trainlab.training.checkpoint`. :meth:`EpochLoop.restore`
  puts a checkpoint back, after ``on_train_begin`` has reset the callbacks.
- **Non-finite values** (``training.on_nonfinite``). A chunk whose loss or gradient norm is NaN
  or inf for a run, or that ends with NaN or inf in a run's weights or optimizer state (which a fused
  kernel can hide from the loss), is undone for every run (the state at its start put back) and run again,
  without the offending batch for that run and with its learning rate multiplied by
  ``training.rollback.lr_factor``; after ``max_rollbacks`` the run gives up (status ``failed``).
  With ``stop`` the epoch is recorded as it went and the run stops, failed. Each case is a row
  of ``events.csv``.
- **Interruptions.** Ctrl-C or SIGTERM halt the compiled loop after the step in flight
  (:mod:`trainlab.training.interrupt`); the loop writes a checkpoint where it stopped and only
  then lets the signal act.

Everything here is deterministic: the batches are a pure function of (data seed, epoch), so
an epoch run in stretches, resumed, or rolled back sees the same batches as one run straight through.
"""

from __future__ import annotations

import random
import time
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import tensorflow as tf

import trainlab
from trainlab import rundir
from trainlab.optimizers import learning_rate_scale
from trainlab.training import checkpoint
from trainlab.training.checkpoint import Resume
from trainlab.training.cohort import Cohort, Seat
from trainlab.training.engine import EpochSteps
from trainlab.training.interrupt import Interrupts
from trainlab.training.timings import Timings

FORMAT = 1
_SNAPSHOT = "in the engine's snapshot"  # a run's last good state, kept by Engine.snapshot


@dataclass
class _Bad:
    """A non-finite value a run met in a chunk: at ``row`` of the chunk's records, batch ``batch`` of the epoch
    (None when it is in the state at the chunk's end and no one batch can be blamed)."""

    row: int
    batch: int | None
    what: str
    lr: float
    ran_before: int  # steps the run made in the chunk before it


class EpochLoop:
    """The epoch loop over a cohort of opened runs.

    Args:
        cohort: the cohort (each run's ``state`` open; see :meth:`Seat.open`).
        started: ``time.perf_counter()`` when the session's training began (for checkpoints' wall time).
        timings: where the session's seconds go (``summary.json``'s ``timings``).
    """

    def __init__(self, cohort: Cohort, started: float, timings: Timings | None = None) -> None:
        self.cohort = cohort
        self.timings = timings if timings is not None else Timings(len(cohort.runs))
        self.trainers = cohort.runs
        self.engine = cohort.engine
        self.training = cohort.training
        self.started = started
        self.spe = None if cohort.streamed else cohort.steps_per_epoch()
        self.interrupts: Interrupts | None = None
        self._layouts: dict[int, list] = {}  # each member's variable layout, as checkpoints list it

    # ---------------------------------------------------------------------------------- resume
    def restore(self, resume: Sequence[Resume | None]) -> tuple[int, int, list[EpochSteps]]:
        """Put back each resumed run's checkpoint; where the loop starts: ``(epoch, batch, steps so far)``."""
        start: tuple[int, int, list[EpochSteps]] = (0, 0, [])
        for trainer, again in zip(self.trainers, resume):
            if again is None:
                continue
            state = trainer.state
            state.history = [dict(row) for row in state.records.history_rows]
            found = again.checkpoint
            if found is None:
                continue
            meta, arrays, k = found.meta, found.arrays, trainer.index
            self.engine.write_state(k, {name[4:]: a for name, a in arrays.items() if name.startswith("var/")})
            # The callbacks that keep state, in order, get theirs back (the recipe builds them in the same order).
            saved = [entry for entry in meta.get("callbacks", []) if entry is not None]
            keeping = [cb for cb in state.cb_list.callbacks if checkpoint.callback_state(cb) is not None]
            for callback, entry in zip(keeping, saved):
                if entry["class"] != type(callback).__name__:
                    warnings.warn(f"{type(callback).__name__}: the checkpoint holds a {entry['class']}'s state in its"
                                  " place; it starts afresh (were other callbacks given?)", stacklevel=2)
                    continue
                checkpoint.set_callback_state(callback, checkpoint.join_arrays(entry["state"], arrays))
            for callback in keeping[len(saved):]:
                warnings.warn(f"{type(callback).__name__}: no saved state in {found.path}; it starts afresh",
                              stacklevel=2)
            _set_random_states(meta["rng"], arrays)
            state.steps_done = int(meta["steps_done"])
            state.stopped = bool(meta["stopped"])
            state.rollbacks = int(meta["rollbacks"])
            state.earlier_s = float(meta["elapsed_s"])
            trainer.model.stop_training = state.stopped
            state.records.kernels = {
                int(epoch): {layer: arrays[f"kernels/{epoch}/{layer}"] for layer in layers}
                for epoch, layers in meta["kernels"].items()
            }
            parts = []
            if meta.get("partial"):
                parts = [EpochSteps(
                    arrays["partial/loss"], arrays["partial/grad_norm"], arrays["partial/lr"], arrays["partial/batch"],
                    [arrays["partial/layer_grad_norm"]], [{}], [], [], [], overflow=arrays.get("partial/overflow"),
                )]
            start = (found.epoch, found.batch, parts)
        return start

    # ----------------------------------------------------------------------------------- epochs
    def run(self, start: tuple[int, int, list[EpochSteps]], interrupts: Interrupts) -> None:
        """Train from ``start`` to the last epoch, or until every run has stopped."""
        for _ in self.epochs(start, interrupts):
            pass

    def epochs(self, start: tuple[int, int, list[EpochSteps]], interrupts: Interrupts) -> Iterator[None]:
        """:meth:`run`, pausing (yielding) once an epoch: after the runs' ``on_test_end``, before their
        ``on_epoch_end`` (:func:`~trainlab.training.sessions.train_sessions` drives several loops so)."""
        self.interrupts = interrupts
        epoch0, batch0, parts0 = start
        training, cohort, engine = self.training, self.cohort, self.engine
        has_val = cohort.has("val")
        timings = self.timings
        with timings.part("checkpoints"):
            self._keep_good(self.trainers)
        for epoch in range(epoch0, training.epochs):
            active = self._active()
            if not active:
                break
            validate = has_val and ((epoch + 1) % training.validation_freq == 0 or epoch + 1 == training.epochs)
            tick = time.perf_counter()
            for trainer in active:
                trainer.state.cb_list.on_epoch_begin(epoch)
                trainer.state.cb_list.on_train_batch_begin(0)  # one call runs the whole epoch (steps_per_execution)
            first = epoch == epoch0
            with self._profiled(epoch), timings.part("training"):
                steps = self._epoch(epoch, batch0 if first else 0, parts0 if first else [])
            active = [t for t in active if not t.state.stopped]  # less those that gave up (rollbacks)
            if steps is None or not active:
                break
            train_logs = engine.train_logs(steps)
            for trainer in active:
                ran = steps.loss[np.isfinite(steps.lr[:, trainer.index]), trainer.index]
                last = float(ran[-1]) if len(ran) else float("nan")
                trainer.state.cb_list.on_train_batch_end(len(steps.loss) - 1, {"loss": last})
            logs = {t.index: dict(train_logs[t.index]) for t in active}
            if validate:
                for trainer in active:
                    trainer.state.cb_list.on_test_begin()
            # train_eval: the gap without dropout and without averaging over a model that changed during the epoch.
            with timings.part("evaluation"):
                val, train_eval, activations = cohort.end_of_epoch(validate)
            if val is not None:
                for trainer in active:
                    trainer.state.cb_list.on_test_end(val[trainer.index])
                    logs[trainer.index].update({f"val_{k}": v for k, v in val[trainer.index].items()})
            if train_eval is not None:
                for trainer in active:
                    logs[trainer.index].update({f"train_eval_{k}": v for k, v in train_eval[trainer.index].items()})
            yield  # outside any part: the other sessions' epochs, while paused, are this one's ``waiting``
            for trainer in active:
                trainer.end_epoch(epoch, steps, logs[trainer.index], activations, tick)
                trainer.state.stopped = bool(trainer.model.stop_training) or trainer.state.failure is not None
            self._checkpoint([t for t in active if t.state.failure is None], epoch + 1, 0, [])
            timings.end_epoch()
            interrupts.check()

    def _active(self) -> list[Seat]:
        return [t for t in self.trainers if not t.state.stopped]

    @contextmanager
    def _profiled(self, epoch: int) -> Iterator[None]:
        """TensorFlow's profiler around the epoch ``training.profile.epoch`` names, into the (first) run's
        ``tensorboard/`` (``plugins/profile/<time>/<host>.xplane.pb``, which TensorBoard's profile plugin reads)."""
        profile = self.training.profile
        if profile is None or epoch + 1 != profile.epoch:
            yield
            return
        with self.timings.part("profiling"):
            try:
                tf.profiler.experimental.start(str(self.trainers[0].state.dir / rundir.TENSORBOARD))
                started = True
            except tf.errors.AlreadyExistsError:  # another profiler is running (a TensorBoard callback's profile_batch)
                warnings.warn(f"training.profile: epoch {epoch + 1} not profiled: another profiler is running",
                              stacklevel=2)
                started = False
        try:
            yield
        finally:
            if started:
                with self.timings.part("profiling"):
                    tf.profiler.experimental.stop()

    def _epoch(self, epoch: int, batch: int, parts: list[EpochSteps]) -> EpochSteps | None:
        """The epoch's steps from ``batch`` on (``parts``: those before), checkpointing where asked."""
        parts = list(parts)
        if self.spe is None:  # a stream runs whole
            part, _ = self._chunk(epoch, 0, None, parts)
            return part if part is not None and len(part.loss) else None
        every = self.training.checkpoint.every_steps if self.training.checkpoint.enabled else None
        ends = [b for b in range(batch + 1, self.spe) if every and (epoch * self.spe + b) % every == 0] + [self.spe]
        at = batch
        for end in ends:
            while at < end:
                part, at = self._chunk(epoch, at, end, parts)
                if part is not None and len(part.loss):
                    parts.append(part)
                if not self._running():
                    # Runs that stop on a non-finite value keep the epoch as far as it went; those that gave up, none.
                    stopping = any(not t.state.stopped for t in self.trainers if t.state.failure is not None)
                    return EpochSteps.concat(parts) if parts and stopping else None
                if at < end:  # halted by a signal: checkpoint here, then let it act
                    self._checkpoint(self._running(), epoch, at, parts, flush=True)
                    self.interrupts.check()
                    self.engine.halt.assign(False)  # the signal's handler let training go on
            if end < self.spe:
                self._checkpoint(self._running(), epoch, end, parts)
        if not parts:
            raise RuntimeError(f"epoch {epoch + 1} ran no step (every batch was skipped)")
        return EpochSteps.concat(parts)

    def _running(self) -> list[Seat]:
        """The runs still training in this epoch (not stopped, not given up)."""
        return [t for t in self._active() if t.state.failure is None]

    # ----------------------------------------------------------------------------------- chunks
    def _chunk(
        self, epoch: int, start: int, stop: int | None, parts: list[EpochSteps]
    ) -> tuple[EpochSteps | None, Any]:
        """Batches ``[start, stop)`` of the epoch, rolled back and run again while a run meets non-finite values.

        The events (rows of ``events.csv``) are written when the chunk is done: a chunk that a
        signal halts while it goes wrong is undone as a whole, rollbacks included, and is run
        again, identically, on resume.

        Returns:
            ``(steps, reached)``: the records (None when nothing ran) and the batch reached
            (``stop``, or fewer when a signal halted the engine).
        """
        skips: dict[int, set[int]] = {}
        again: dict[int, int] = {}  # rollbacks in this chunk, per member
        events: list[tuple[Seat, dict[str, Any]]] = []
        entry = {t.index: (t.state.rollbacks, t.state.failure, t.state.stopped) for t in self.trainers}
        done = {t.index: sum(int(np.isfinite(p.lr[:, t.index]).sum()) for p in parts) for t in self.trainers}

        def finish(result: tuple[EpochSteps | None, Any]) -> tuple[EpochSteps | None, Any]:
            for trainer, event in events + _overflows(self.trainers, result[0], epoch, done):
                trainer.state.records.write_event(event)
            return result

        while True:
            running = self._running()
            if not running:
                return finish((None, start))
            part, batches, reached = self._segments(epoch, start, stop, skips, running)
            bad = {t: found for t in running if (found := self._nonfinite(t, part, batches)) is not None}
            if not bad:
                return finish((part, reached))
            if stop is not None and reached < stop:  # halted in a stretch that went wrong: undo it all
                self._restore_good(running)
                for trainer in self.trainers:
                    trainer.state.rollbacks, trainer.state.failure, trainer.state.stopped = entry[trainer.index]
                return None, start
            rolled = []
            for trainer, found in bad.items():
                state, policy = trainer.state, trainer.recipe.training
                step = state.steps_done + done[trainer.index] + found.ran_before + 1
                event = {"step": step, "epoch": epoch + 1, "what": found.what, "lr": found.lr}
                where = f"non-finite {found.what} at step {step} (epoch {epoch + 1}, learning rate {found.lr:.4g})"
                if policy.on_nonfinite == "stop":
                    events.append((trainer, {**event, "action": "stop"}))
                    state.failure = f"training.on_nonfinite: {where}; stopped (on_nonfinite: stop)"
                    continue
                state.rollbacks += 1
                if state.rollbacks > policy.rollback.max_rollbacks:
                    events.append((trainer, {**event, "action": "give_up"}))
                    state.failure = (f"training.on_nonfinite: {where}; gave up after "
                                     f"{policy.rollback.max_rollbacks} rollbacks (training.rollback.max_rollbacks)")
                    state.stopped = True
                    continue
                again[trainer.index] = again.get(trainer.index, 0) + 1
                if found.batch is not None:  # a step's loss or gradient: run the stretch again without its batch
                    skips.setdefault(trainer.index, set()).add(found.batch)
                events.append((trainer, {
                    **event, "action": "rollback", "lr_scale": policy.rollback.lr_factor ** state.rollbacks,
                    "restored_step": state.steps_done + done[trainer.index],
                }))
                rolled.append(trainer)
            if not rolled and not any(t.state.stopped for t in bad):
                return finish((part, reached))  # only runs that stop: the epoch is recorded as it went
            # Every run goes back to the chunk's start (a fused engine trains all of them in each call);
            # the others run the same batches again and come out the same.
            self._restore_good(running)
            for trainer in rolled:
                _scale_learning_rate(trainer, trainer.recipe.training.rollback.lr_factor ** again[trainer.index])

    def _segments(
        self, epoch: int, start: int, stop: int | None, skips: dict[int, set[int]], running: list[Seat]
    ) -> tuple[EpochSteps, list[int], Any]:
        """Run batches ``[start, stop)``, each run without the batches it skips.

        Returns:
            ``(steps, batches, reached)``: the records, the batch index of each of their rows,
            and the batch reached.
        """
        cohort = self.cohort
        if stop is None:  # a stream: one call, skipped batches filtered out of the dataset
            skip = sorted(skips.get(self.trainers[0].index, ()))
            steps = cohort.train_epoch(epoch, skip=skip)
            kept = [i for i in range(len(steps.loss) + len(skip)) if i not in skip]
            return steps, kept[: len(steps.loss)], None
        points = sorted({b for t in running for b in skips.get(t.index, ())})
        pieces: list[tuple[int, int, set[int]]] = []
        at = start
        for b in points:
            if at < b:
                pieces.append((at, b, set()))
            pieces.append((b, b + 1, {t.index for t in running if b in skips.get(t.index, ())}))
            at = b + 1
        if at < stop:
            pieces.append((at, stop, set()))
        parts, batches, reached, fresh = [], [], stop, start == 0
        for first, last, skipping in pieces:
            members = [t for t in running if t.index not in skipping]
            if not members:
                continue
            cohort.set_active(members)
            steps = cohort.train_epoch(epoch, first, last, reset=fresh)
            fresh = False
            parts.append(steps)
            batches.extend(range(first, first + len(steps.loss)))
            if len(steps.loss) < last - first:  # halted
                reached = first + len(steps.loss)
                break
        cohort.set_active([t for t in self.trainers if not t.state.stopped])
        if not parts:  # every batch of the stretch skipped: an empty record
            return cohort.empty_steps(), [], reached
        return EpochSteps.concat(parts), batches, reached

    def _nonfinite(self, trainer: Seat, part: EpochSteps, batches: list[int]) -> _Bad | None:
        """The first step of ``part`` where ``trainer``'s loss or gradient norm is NaN or inf; else NaN or inf in
        its state at the end of ``part`` (:meth:`_nonfinite_state`)."""
        k = trainer.index
        ran = np.isfinite(part.lr[:, k])
        loss_bad = ~np.isfinite(part.loss[:, k]) & ran
        norm_bad = ~np.isfinite(part.grad_norm[:, k]) & ran & ~part.skipped(k)  # not a loss-scale overflow
        bad = loss_bad | norm_bad
        if not bad.any():
            return self._nonfinite_state(trainer, part)
        row = int(np.argmax(bad))
        what = " and ".join(name for name, flags in (("loss", loss_bad), ("grad_norm", norm_bad)) if flags[row])
        return _Bad(row, batches[row], what, float(part.lr[row, k]), int(ran[:row].sum()))

    def _nonfinite_state(self, trainer: Seat, part: EpochSteps) -> _Bad | None:
        """NaN or inf in ``trainer``'s weights, optimizer or model state at the end of ``part``, or weights so large
        that their norm overflows, found on the step that ended it.

        A fused kernel can hide a NaN weight from the loss and the gradients (oneDNN's MatMul+BiasAdd+ReLU
        maps its outputs to 0), so the state itself is checked, at the points a rollback returns to, from
        the norms the engine measures at the end of each call. Which batch did it is not known: a rollback
        then skips none and runs the stretch again at the lower rate.
        """
        k = trainer.index
        if not part.layer_weight_norm:  # no step ran
            return None
        rows = np.flatnonzero(np.isfinite(part.lr[:, k]))
        fine = np.isfinite(part.layer_weight_norm[k]).all() and np.isfinite(part.layer_weight_l1[k]).all()
        if part.state_finite is not None:
            fine = fine and bool(part.state_finite[k])
        if fine or not len(rows):
            return None
        found: dict[str, list[str]] = {}
        for kind, where in self.engine.nonfinite_variables(k):
            found.setdefault(kind, []).append(where)
        what = "; ".join(f"{kind} ({', '.join(where)})" for kind, where in found.items()) or "weights (norm overflows)"
        row = int(rows[-1])
        return _Bad(row, None, what, float(part.lr[row, k]), len(rows) - 1)

    # -------------------------------------------------------------------------------- the state
    def _keep_good(self, trainers: Sequence[Seat]) -> list[dict[str, np.ndarray]] | None:
        """Keep every member's state as the runs' last good state; returned when read out for a checkpoint.

        Runs that write checkpoints read the state out (one call for all); runs that only roll back
        keep it in the engine (:meth:`Engine.snapshot`), with no copy to the host.
        """
        if not any(t.recipe.training.on_nonfinite == "rollback" or t.state.writer is not None for t in trainers):
            return None
        if not self.engine.distributed and all(t.state.writer is None for t in trainers):
            self.engine.snapshot()
            for trainer in trainers:
                trainer.state.good = _SNAPSHOT
            return None
        values = self.engine.read_state()
        for trainer in trainers:
            trainer.state.good = values[trainer.index]
        return values

    def _restore_good(self, trainers: Sequence[Seat]) -> None:
        for trainer in trainers:
            if trainer.state.good is _SNAPSHOT:
                self.engine.restore(trainer.index)
            elif trainer.state.good is not None:
                self.engine.write_state(trainer.index, trainer.state.good)

    def _checkpoint(
        self, trainers: Sequence[Seat], epoch: int, batch: int, parts: list[EpochSteps], flush: bool = False
    ) -> None:
        """The state after ``epoch`` whole epochs and ``batch`` batches: kept for rollbacks, written to ``state/``."""
        with self.timings.part("checkpoints"):
            self._write_checkpoint(trainers, epoch, batch, parts, flush)

    def _write_checkpoint(
        self, trainers: Sequence[Seat], epoch: int, batch: int, parts: list[EpochSteps], flush: bool
    ) -> None:
        values = self._keep_good(trainers)
        if values is None:
            return
        for trainer in trainers:
            state = trainer.state
            if state.writer is None:
                continue
            meta, arrays = self._gather(trainer, values[trainer.index], epoch, batch, parts)
            state.writer.submit(checkpoint.file_name(epoch, batch), lambda m=meta, a=arrays: checkpoint.encode(m, a))
            if flush:
                state.writer.flush()

    def _gather(self, trainer: Seat, values: dict[str, np.ndarray], epoch: int, batch: int,
                parts: list[EpochSteps]) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """A checkpoint's meta and arrays: values taken now, none that training changes in place later."""
        state, k = trainer.state, trainer.index
        arrays: dict[str, np.ndarray] = {f"var/{dtype}": flat for dtype, flat in values.items()}
        callbacks = []
        for i, callback in enumerate(state.cb_list.callbacks):
            saved = checkpoint.callback_state(callback)
            callbacks.append(None if saved is None else {
                "class": type(callback).__name__, "state": checkpoint.split_arrays(saved, f"cb/{i}", arrays),
            })
        for kernel_epoch, kernels in state.records.kernels.items():
            for layer, sample in kernels.items():
                arrays[f"kernels/{kernel_epoch}/{layer}"] = sample
        if parts:
            steps = EpochSteps.concat(parts)
            ran = np.isfinite(steps.lr[:, k])
            arrays.update({
                "partial/loss": steps.loss[ran][:, [k]], "partial/grad_norm": steps.grad_norm[ran][:, [k]],
                "partial/lr": steps.lr[ran][:, [k]], "partial/batch": steps.batch[ran],
                "partial/layer_grad_norm": steps.layer_grad_norm[k][ran],
                "partial/overflow": steps.skipped(k)[ran][:, None],
            })
        if k not in self._layouts:
            self._layouts[k] = [[path, dtype, list(shape)] for path, dtype, shape in self.engine.state_layout(k)]
        meta = {
            "format": FORMAT, "name": trainer.name, "epoch": epoch, "batch": batch,
            "steps_done": state.steps_done, "records": state.records.counts(), "stopped": state.stopped,
            "rollbacks": state.rollbacks, "elapsed_s": time.perf_counter() - self.started + state.earlier_s,
            "variables": self._layouts[k], "callbacks": callbacks, "partial": bool(parts),
            "rng": _random_states(arrays),
            "kernels": {str(e): list(ks) for e, ks in state.records.kernels.items()},
            "trainlab_version": trainlab.__version__,
        }
        return meta, arrays


def _overflows(
    trainers: Sequence[Seat], part: EpochSteps | None, epoch: int, done: dict[int, int]
) -> list[tuple[Seat, dict[str, Any]]]:
    """An event for each step of ``part`` a run's loss-scale optimizer skipped because the scaled gradients
    overflowed (``action`` ``skip_step``): loss scaling at work, not a non-finite value to roll back."""
    events = []
    for trainer in trainers if part is not None and part.overflow is not None else ():
        k = trainer.index
        ran = np.isfinite(part.lr[:, k])
        for row in np.flatnonzero(part.skipped(k) & ran):
            step = trainer.state.steps_done + done[k] + int(ran[:row].sum()) + 1
            scale = float(part.loss_scale[row, k]) / 2  # the optimizer halves it
            events.append((trainer, {"step": step, "epoch": epoch + 1, "action": "skip_step",
                                     "what": f"loss scale overflow (step skipped, scale -> {scale:g})",
                                     "lr": float(part.lr[row, k])}))
    return events


def _random_states(arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    """Python's and NumPy's random states: their big tables into ``arrays``, the rest returned (plain JSON)."""
    version, table, gauss = random.getstate()
    arrays["rng/python"] = np.asarray(table, np.uint64)
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    arrays["rng/numpy"] = keys
    return {"python": [version, gauss], "numpy": [kind, int(pos), int(has_gauss), float(cached)]}


def _set_random_states(meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
    version, gauss = meta["python"]
    random.setstate((version, tuple(int(v) for v in arrays["rng/python"]), gauss))
    kind, pos, has_gauss, cached = meta["numpy"]
    np.random.set_state((kind, arrays["rng/numpy"], pos, has_gauss, cached))


def _scale_learning_rate(trainer: Seat, factor: float) -> None:
    """Multiply a run's learning rate by ``factor``: the scale of its schedule, or the rate itself."""
    optimizer = trainer.member.optimizer
    scale = learning_rate_scale(optimizer)
    if scale is not None:
        scale.assign(float(np.asarray(scale)) * factor)
    else:
        optimizer.learning_rate = float(np.asarray(optimizer.learning_rate)) * factor

