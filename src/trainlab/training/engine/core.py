"""The engine: one compiled program that trains K >= 1 models together.

A single run is K = 1; a fused study is the same engine with K = variants x seeds.
Each member has its own model (initial weights, dropout RNG, batch-norm statistics),
optimizer (state, schedule, clipping), loss (with its regularization) and metrics.
All members see the same batches, in the order the caller passes.

Why a whole epoch per call: on small models the cost of training is per-step and
per-call overhead, not arithmetic (docs/performance.md), so the loop over batches runs
inside one ``tf.function`` and Python is entered once per epoch. Data enter as
arguments (not captured constants) so one trace serves every epoch and large
arrays are not copied into the graph.

A step is one optimizer update. With ``accumulate`` N > 1 (``training.accumulate_grad_batches``) a step
takes N batches (a group): it adds up each batch's gradient and applies their mean once; the last group
of an epoch may hold fewer batches, and its mean is over those it holds. With N = 1 the program is the
one-batch step, with no accumulation in it.

Loss scaling (a ``keras.optimizers.LossScaleOptimizer``, as ``model.compile`` wraps around a
``mixed_float16`` model's optimizer, or an optimizer's ``loss_scale_factor``) is Keras' ``fit`` step: the
loss is multiplied by the scale before the gradient (``optimizer.scale_loss``), and the optimizer's
``apply`` divides the gradients by it; what is recorded is the unscaled loss and gradient norm.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import keras
import numpy as np
import tensorflow as tf

from trainlab import runtime
from trainlab.errors import TrainlabError
from trainlab.optimizers import loss_scale
from trainlab.training import distribute
from trainlab.training.engine.batches import first, unpack
from trainlab.training.engine.evaluate import EngineEvaluation
from trainlab.training.engine.member import Member
from trainlab.training.engine.probes import EngineProbes
from trainlab.training.engine.program import Program, plain
from trainlab.training.engine.state import EngineState, value_of
from trainlab.training.engine.steps import EpochSteps, steps_per_epoch


class Engine(EngineState, EngineEvaluation, EngineProbes):
    """Trains K members on the same batches in one compiled program.

    One call runs many steps and returns everything recorded (:class:`EpochSteps`):
    the host reads a handful of tensors per epoch and nothing per step.

    Args:
        members: the models to train together.
        batch_size: samples per batch.
        jit_compile: compile the epoch with XLA (fast steady state, slow compile).
        eval_batch_size: samples per step when evaluating.
        accumulate: batches per optimizer step (their gradients averaged); 1: a step per batch.
        stopping: members are expected to stop early (a search prunes most of them): trace only the
            program in which each member's step can sit out, from the first epoch on.

    Example:
        >>> engine = Engine([Member(model, keras.optimizers.Adam(), keras.losses.MeanSquaredError())], 32)
        >>> steps = engine.train_epoch(x, y, order=np.random.permutation(len(x)))
        >>> engine.train_logs(steps)[0]   # {"loss": ..., "grad_norm": ..., "grad_norm_max": ...}
    """

    def __init__(
        self,
        members: Sequence[Member],
        batch_size: int,
        jit_compile: bool = False,
        eval_batch_size: int | None = None,
        accumulate: int = 1,
        stopping: bool = False,
    ) -> None:
        if not members:
            raise ValueError("the engine needs at least one member")
        if int(accumulate) < 1:
            raise ValueError(f"accumulate must be >= 1, got {accumulate}")
        runtime.quiet_retracing(f"{Engine.__module__}.{Engine.__qualname__}")
        self.members = list(members)
        if jit_compile and any(
            isinstance(layer, keras.layers.Dropout) for m in self.members for layer in m.model._flatten_layers()
        ):
            warnings.warn(
                "training.jit_compile with dropout: under XLA on CPU Keras' dropout masks use a slow random "
                "generator (measured here: about 100x slower epochs); consider jit_compile: false",
                stacklevel=3,
            )
        self.batch_size = int(batch_size)
        self.accumulate = int(accumulate)
        self.eval_batch_size = int(eval_batch_size or max(1024, batch_size))
        self._groups = [m.layer_groups() for m in self.members]
        for member in self.members:
            member.optimizer.build(member.model.trainable_variables)
        # Members whose loss scale is dynamic (a LossScaleOptimizer skips a step whose scaled gradients overflow):
        # with any, each step also records the scale it used and whether it was skipped (EpochSteps.overflow).
        self._dynamic = [isinstance(m.optimizer, keras.optimizers.LossScaleOptimizer) for m in self.members]
        self._scaled_records = any(self._dynamic)
        # Members that stopped (early stopping) freeze; only meaningful when K > 1.
        self.active = tf.Variable([True] * len(self.members), trainable=False, name="active")
        self._active_flags = [True] * len(self.members)  # what ``active`` holds (see set_active)
        self._ints: dict[int, tf.Tensor] = {}  # step numbers as tensors, made once each (see train_epoch)
        # Under a strategy (made in its scope) each step runs in ``strategy.run``: every replica trains on
        # its share of the batch (trainlab.training.distribute.Share); one replica is the one-device step.
        self.strategy = tf.distribute.get_strategy()
        self._distributed = tf.distribute.has_strategy()
        replicas = self.strategy.num_replicas_in_sync if self._distributed else 1
        if replicas > 1 and len(self.members) > 1:
            raise TrainlabError(
                "training.distribute", "trains one model at a time; runs fused in one engine (a study) need one"
                " device", f"{len(self.members)} models on {replicas} replicas",
            )
        # Each member's trainable weights at the start of the epoch, for the update ratio; variables, so
        # an epoch run in several calls (checkpoints, interruptions, skipped batches) measures from its start.
        self._epoch_start = [
            [tf.Variable(v, trainable=False, name="epoch_start") for v in m.model.trainable_variables]
            for m in self.members
        ]
        self._fresh: list | None = None  # see remember_fresh
        # Set (from any thread) to stop a compiled epoch after the step in flight; see train_epoch.
        self.halt = tf.Variable(False, trainable=False, name="halt")
        self._jit = bool(jit_compile)
        self._state_fn = self._snapshot_fn = None  # built on first use
        # Two programs: every member stepping (the common case, no per-member branch), and, traced only
        # once a member has stopped, one where each member's step sits in a tf.cond on ``active``.
        # The branches cost more to trace than the members' steps themselves.
        self._train_fn = Program(tf.function(self._all_steps, jit_compile=jit_compile, reduce_retracing=True,
                                               autograph=False))
        self._masked_train_fn = Program(tf.function(self._masked_steps, jit_compile=jit_compile, reduce_retracing=True,
                                                      autograph=False))
        self._masked = False  # which program is being traced
        self._stopping = bool(stopping) and len(self.members) > 1
        self._dataset_fn = tf.function(self._train_dataset, reduce_retracing=True)
        self._eval_fn = tf.function(self._evaluate, autograph=False)
        self._eval_programs: dict = {}
        self._eval_dataset_fn = tf.function(self._evaluate_dataset, reduce_retracing=True)
        self._splits_fn = Program(tf.function(self._evaluate_splits, autograph=False))
        self._probe_fn = self._grad_fn = self._probe_models = None  # built on first use

    # ------------------------------------------------------------------ training
    def train_epoch(
        self,
        x: tf.Tensor,
        y: tf.Tensor,
        order: np.ndarray | tf.Tensor | None = None,
        start: int = 0,
        stop: int | None = None,
        *,
        seed: tuple[int, int] | None = None,
        reset: bool | None = None,
        sample_weight: tf.Tensor | None = None,
    ) -> EpochSteps:
        """Run steps ``[start, stop)`` of an epoch.

        Step ``i`` trains on ``x[order[i*batch : (i+1)*batch]]`` (the last batch may be
        smaller); with ``accumulate`` N, on the N batches ``i*N ... (i+1)*N - 1`` (fewer in the last step).
        The order is ``order`` if given; else, with ``seed``, a stateless shuffle
        drawn inside the compiled program (a pure function of the seed, e.g. ``(seed, epoch)``);
        else the data's own order. ``reset`` (default: ``start == 0``) starts the epoch: the
        training metrics restart and the update ratios measure from the weights as they are now.

        ``x`` is a tensor, or a structure of them (a dict for a model with named inputs), each with
        the samples on its first axis. ``sample_weight`` (``[N]``) weighs each sample's loss and
        metrics as Keras' ``fit(sample_weight=...)`` does; without it the program has no weights at all.

        While :attr:`halt` is true the loop stops before its next step; the result then holds
        fewer than ``stop - start`` steps (an interruption).
        """
        if order is not None:
            source, mode = tf.cast(order, tf.int32), "order"
        elif seed is not None and self._jit:  # XLA has no shuffle kernel: draw the same order outside it
            source, mode = _shuffled(tf.shape(first(x))[0], tf.constant(seed, tf.int64)), "order"
        elif seed is not None:
            source, mode = tf.constant(seed, tf.int64), "shuffle"
        else:
            source, mode = tf.zeros([0], tf.int32), "range"
        stop = self.steps_per_epoch(int(first(x).shape[0])) if stop is None else stop
        reset = start == 0 if reset is None else bool(reset)
        program = self._masked_train_fn if self._masking() else self._train_fn
        args = (x, y, source, self._int(start), self._int(stop), reset, mode)
        # Weights are one more argument, only when there are some: the program without them stays as it was.
        out = program(*args) if sample_weight is None else program(*args, sample_weight)
        return self._unpack(out)

    def train_epoch_dataset(self, dataset: tf.data.Dataset) -> EpochSteps:
        """Run one epoch over a ``tf.data.Dataset`` of ``(x, y)`` or ``(x, y, sample_weight)`` batches (large data).

        The dataset is iterated inside the compiled program, batch by batch (with ``accumulate`` N,
        N consecutive batches a step); ``x`` may be a structure of tensors (a dict for a model with
        named inputs).
        """
        return self._unpack(self._dataset_fn(dataset))

    def steps_per_epoch(self, n_samples: int) -> int:
        """Optimizer steps in an epoch of ``n_samples`` at this engine's batch size (and batches per step)."""
        return steps_per_epoch(n_samples, self.batch_size, self.accumulate)

    @property
    def distributed(self) -> bool:
        """Whether the engine trains under a ``tf.distribute`` strategy (made in its scope)."""
        return self._distributed

    def layer_counts(self) -> list[int]:
        """Per member: how many layers its per-layer records have."""
        return [len(groups) for groups in self._groups]

    def train_logs(self, steps: EpochSteps) -> list[dict[str, float]]:
        """Per member: the epoch's mean loss (weighted by batch size), metrics, mean and max gradient norm (over
        the steps that applied a gradient: not those skipped for a loss-scale overflow)."""
        weights = steps.batch / max(float(steps.batch.sum()), 1.0)
        logs = []
        for k in range(len(self.members)):
            ran = np.isfinite(steps.lr[:, k])  # steps a frozen member sat out have lr NaN
            row = {"loss": float(np.sum(steps.loss[ran, k] * weights[ran]) / max(weights[ran].sum(), 1e-12))}
            row.update(steps.metrics[k])
            norms = steps.grad_norm[ran & ~steps.skipped(k), k]
            row["grad_norm"] = float(norms.mean()) if len(norms) else float("nan")
            row["grad_norm_max"] = float(norms.max()) if len(norms) else float("nan")
            logs.append(row)
        return logs

    def layer_grad_norms(self, steps: EpochSteps) -> list[dict[str, float]]:
        """Per member: each layer's gradient norm, averaged over the epoch's steps (less those skipped for a
        loss-scale overflow)."""
        out = []
        for k, (groups, norms) in enumerate(zip(self._groups, steps.layer_grad_norm)):
            # Steps a frozen member sat out, or skipped for an overflow, are left out; NaN stays NaN.
            ran = norms[np.isfinite(steps.lr[:, k]) & ~steps.skipped(k)]
            means = ran.mean(axis=0) if len(ran) else np.full(len(groups), np.nan)
            out.append({layer: float(v) for (layer, _), v in zip(groups, means)})
        return out

    def layer_weight_norms(self, steps: EpochSteps) -> list[dict[str, float]]:
        """Per member: the L2 norm of each layer's trainable weights at the end of the steps."""
        return [
            {layer: float(v) for (layer, _), v in zip(groups, norms)}
            for groups, norms in zip(self._groups, steps.layer_weight_norm)
        ]

    def layer_stats(self, steps: EpochSteps) -> list[dict[str, dict[str, float]]]:
        """Per member and layer: ``grad_norm`` (mean over steps), ``weight_norm``, ``weight_l1``, ``update_ratio``."""
        out = []
        for k, grads in enumerate(self.layer_grad_norms(steps)):
            l2, l1, ratio = steps.layer_weight_norm[k], steps.layer_weight_l1[k], steps.layer_update_ratio[k]
            out.append({
                layer: {"grad_norm": grad, "weight_norm": float(l2[i]), "weight_l1": float(l1[i]),
                        "update_ratio": float(ratio[i])}
                for i, (layer, grad) in enumerate(grads.items())
            })
        return out

    def _unpack(self, out) -> EpochSteps:
        loss, norm, lr, batch, layers, metric_values, weight_stats, state_finite, *scaling, ran = out
        ran = int(ran)  # steps run: fewer than asked when halted (unwritten records are dropped)
        scale, overflow = (scaling[0].numpy()[:ran], scaling[1].numpy()[:ran] > 0.5) if scaling else (None, None)
        metrics = [
            {m.name: float(v) for m, v in zip(member.metrics, values.numpy())}
            for member, values in zip(self.members, metric_values)
        ]
        stats = [t.numpy() for t in weight_stats]  # per member [3, layers]: L2, L1, update ratio
        return EpochSteps(
            loss.numpy()[:ran], norm.numpy()[:ran], lr.numpy()[:ran], batch.numpy()[:ran],
            [t.numpy()[:ran] for t in layers], metrics,
            [s[0] for s in stats], [s[1] for s in stats], [s[2] for s in stats], state_finite.numpy(),
            scale, overflow,
        )

    @plain
    def _reset_metrics(self, which: str) -> None:
        for member in self.members:
            for metric in getattr(member, which):
                metric.reset_state()

    @plain
    def _metric_results(self, which: str) -> list[tf.Tensor]:
        return [
            tf.stack([tf.cast(m.result(), tf.float32) for m in getattr(member, which)])
            if getattr(member, which) else tf.zeros([0])
            for member in self.members
        ]

    def set_active(self, flags: Sequence[bool]) -> None:
        """Which members take their steps (False: frozen, the step sits out); written only when it changes."""
        flags = [bool(f) for f in flags]
        if flags != self._active_flags:
            self.active.assign(flags)
            self._active_flags = flags

    def _masking(self) -> bool:
        """Whether the epoch runs the masked program: a member has stopped (or, with ``stopping``, may)."""
        return self._stopping or (len(self.members) > 1 and not all(self._active_flags))

    def _int(self, value: int) -> tf.Tensor:
        """``value`` as an int32 tensor, the same one each time (an epoch's bounds recur every epoch)."""
        tensor = self._ints.get(value)
        if tensor is None:
            tensor = self._ints[value] = tf.constant(value, tf.int32)
        return tensor

    def _all_steps(self, *args):
        self._masked = False
        return self._train_steps(*args)

    def _masked_steps(self, *args):
        self._masked = True
        return self._train_steps(*args)

    def _train_steps(self, x, y, source, start, stop, reset, mode, w=None):
        if reset:
            self._start_epoch()
        n = tf.shape(first(x))[0]
        if mode == "order":
            order = source
        elif mode == "shuffle":  # drawn here: eagerly, the shuffle op costs more than an epoch's steps
            order = tf.random.experimental.stateless_shuffle(tf.range(n, dtype=tf.int32), seed=source)
        else:
            order = tf.range(n, dtype=tf.int32)
        records = self._records(stop - start)

        def more(step, records):
            if self._jit:  # XLA compiles no early exit from the loop: a halt waits for the end of the call
                return step < stop
            return tf.logical_and(step < stop, tf.logical_not(self.halt))  # checked before each step

        def one_step(step, records):
            return step + 1, self._write(records, step - start, self._batch_step(x, y, order, n, step, w))

        # An explicit loop, not AutoGraph's ``for ... break``: that wraps every step in a conditional,
        # which doubled the tracing and cost a branch call per step.
        end, records = tf.while_loop(more, one_step, (start, records))
        ran = end - start
        return (*self._finish(records), ran)

    @plain
    def _batch_step(self, x, y, order, n, step, w=None):
        if self.accumulate > 1:
            return self._group_batch_step(x, y, order, n, step, w)
        lo = step * self.batch_size
        idx = order[lo : tf.minimum(lo + self.batch_size, n)]
        xb = tf.nest.map_structure(lambda t: tf.gather(t, idx), x)
        return self._step(xb, tf.gather(y, idx), None if w is None else tf.gather(w, idx))

    def _group_batch_step(self, x, y, order, n, step, w=None):
        """Step ``step`` of the epoch with ``accumulate`` batches a step: batches ``step * N ...`` of the order."""
        per, batch = self.accumulate, self.batch_size
        first_batch = step * per
        count = tf.minimum(per, (n + batch - 1) // batch - first_batch)  # the epoch's last step may have fewer
        size = tf.cast(tf.minimum((first_batch + count) * batch, n) - first_batch * batch, tf.float32)

        def rows(lo, hi):
            idx = order[lo:hi]
            return tf.nest.map_structure(lambda t: tf.gather(t, idx), x), tf.gather(y, idx), \
                None if w is None else tf.gather(w, idx)

        if self._distributed:  # the group's rows to the replicas, each batch of it then shared among them
            xg, yg, wg = rows(first_batch * batch, tf.minimum((first_batch + per) * batch, n))
            m = tf.shape(yg)[0]
            return self._step(xg, yg, wg, tf.concat([tf.range(0, m, batch), [m]], 0))

        def fetch(j):  # batch j of the group, gathered as the one-batch step gathers it (XLA bounds its size)
            lo = (first_batch + j) * batch
            return rows(lo, tf.minimum(lo + batch, n))

        return self._members_step(lambda k, member: self._member_group_step(k, member, fetch, count), size)

    def _train_dataset(self, dataset):
        self._masked = len(self.members) > 1  # traced once: members may stop later
        self._start_epoch()
        records = self._records(0)
        i = tf.constant(0)
        if self.accumulate > 1:
            # N consecutive batches as one element: ragged along the batch axis (batches may differ in size).
            for group in dataset.ragged_batch(self.accumulate):
                records = self._write(records, i, self._step(*_joined(unpack(group))))
                i += 1
        else:
            for batch in dataset:
                records = self._write(records, i, self._step(*unpack(batch)))
                i += 1
        return (*self._finish(records), i)

    @plain
    def _start_epoch(self):
        """Restart the training metrics; keep the weights as they are now, to measure the epoch's update."""
        self._reset_metrics("metrics")
        for member, start in zip(self.members, self._epoch_start):
            for variable, copy in zip(member.model.trainable_variables, start):
                copy.assign(variable)

    @plain
    def _records(self, size):
        dynamic = isinstance(size, int) and size == 0
        extra = 2 if self._scaled_records else 0  # each step's loss scales and overflows
        return tuple(
            tf.TensorArray(tf.float32, size=size, dynamic_size=dynamic) for _ in range(4 + len(self.members) + extra)
        )

    @plain
    def _write(self, records, i, stats):
        return tuple(r.write(i, s) for r, s in zip(records, stats))

    @plain
    def _finish(self, records):
        stacked = [r.stack() for r in records]
        k = len(self.members)
        weight_stats = []
        for member, groups, before in zip(self.members, self._groups, self._epoch_start):
            variables = member.model.trainable_variables
            l2, l1, ratio = [], [], []
            for _, idx in groups:
                squares = 2.0 * tf.add_n([tf.nn.l2_loss(variables[i]) for i in idx])  # as in _member_step
                moved = 2.0 * tf.add_n([tf.nn.l2_loss(variables[i] - before[i]) for i in idx])
                start = 2.0 * tf.add_n([tf.nn.l2_loss(before[i]) for i in idx])
                l2.append(tf.sqrt(squares))
                l1.append(tf.add_n([tf.reduce_sum(tf.abs(variables[i])) for i in idx]))
                ratio.append(tf.math.divide_no_nan(tf.sqrt(moved), tf.sqrt(start)))
            weight_stats.append(tf.cast(tf.stack([tf.stack(l2), tf.stack(l1), tf.stack(ratio)]), tf.float32))
        # With dynamic loss scaling, the scales and overflows follow (see _member_update).
        return (*stacked[:4], stacked[4 : 4 + k], self._metric_results("metrics"), weight_stats, self._state_finite(),
                *stacked[4 + k :])

    @plain
    def _state_finite(self):
        """Per member, whether its optimizer and model state (see :meth:`other_state`) holds only finite values,
        which the loop checks at the points a rollback returns to. (Not a norm: Adam's second moments hold
        squared gradients, whose squares may overflow in a run that is fine.)"""
        flags = []
        for k in range(len(self.members)):
            finite = [tf.reduce_all(tf.math.is_finite(value_of(v))) for v in self.other_state(k)]
            flags.append(tf.reduce_all(tf.stack(finite)) if finite else tf.constant(True))
        return tf.stack(flags)

    @plain
    def _step(self, xb, yb, wb=None, bounds=None):
        """One optimizer step for every member: ``[K]`` loss, grad norm, lr; batch size; per-layer norms (with
        dynamic loss scaling, ``[K]`` loss scales and overflows after them). With ``bounds``, ``xb`` is a group of
        batches, rows ``[bounds[j], bounds[j + 1])`` batch ``j``, whose gradients the step averages."""
        if not self._distributed:
            return self._replica_step(xb, yb, wb, bounds)
        args = (xb, yb) if wb is None else (xb, yb, wb)
        kwargs = {} if bounds is None else {"bounds": bounds}
        out = self.strategy.run(self._replica_step, args=args, kwargs=kwargs)
        return tf.nest.map_structure(lambda t: self.strategy.experimental_local_results(t)[0], out)

    def _replica_step(self, xb, yb, wb=None, bounds=None):
        if bounds is None:
            # This replica's part of the batch (all of it on one device).
            share = distribute.Share(tf.shape(first(xb))[0])
            xb, yb = tf.nest.map_structure(share.take, xb), share.take(yb)
            wb = None if wb is None else share.take(wb)
            return self._members_step(lambda k, member: self._member_step(k, member, xb, yb, share, wb), share.size)

        def fetch(j):  # batch j of the group (all of it: each member's step takes this replica's share)
            lo, hi = bounds[j], bounds[j + 1]
            return tf.nest.map_structure(lambda t: t[lo:hi], xb), yb[lo:hi], None if wb is None else wb[lo:hi]

        count, size = tf.size(bounds) - 1, tf.cast(bounds[-1], tf.float32)
        return self._members_step(lambda k, member: self._member_group_step(k, member, fetch, count), size)

    def _members_step(self, step, size):
        """``step(k, member)`` for every member (those frozen sit out), its records stacked: ``[K]`` loss, grad
        norm, lr; ``size``, the samples; per-layer norms; with dynamic loss scaling, ``[K]`` scales and overflows."""
        losses, norms, lrs, layers, scales, overflows = [], [], [], [], [], []
        for k, member in enumerate(self.members):
            if not self._masked:
                out = step(k, member)
            else:
                out = tf.cond(self.active[k], lambda k=k, member=member: step(k, member), lambda k=k: self._sat_out(k))
            loss, norm, lr, layer, *scaling = out
            losses.append(loss)
            norms.append(norm)
            lrs.append(lr)
            layers.append(layer)
            if scaling:
                scales.append(scaling[0])
                overflows.append(scaling[1])
        scaled = (tf.stack(scales), tf.stack(overflows)) if self._scaled_records else ()
        return (tf.stack(losses), tf.stack(norms), tf.stack(lrs), size, *layers, *scaled)

    def _sat_out(self, k):
        """What a frozen member's step records: NaN (lr NaN marks a step sat out), no overflow."""
        nan = tf.constant(np.nan, tf.float32)
        scaling = (nan, tf.constant(0.0)) if self._scaled_records else ()
        return (nan, nan, nan, tf.fill([len(self._groups[k])], nan), *scaling)

    def _member_step(self, k, member, xb, yb, share, wb=None):
        model = member.model
        if member.augment is not None:  # training batches only; outside the tape (nothing to differentiate)
            xb = member.augment(xb, training=True)
        scale = loss_scale(member.optimizer)
        with tf.GradientTape() as tape:
            pred = model(xb, training=True)
            loss = share.loss(member.loss, yb, pred, model.losses, sample_weight=wb)
            # As Keras' fit: the optimizer's apply divides the gradients by the scale the loss is multiplied by.
            scaled = loss if scale is None else member.optimizer.scale_loss(loss)
        variables = model.trainable_variables
        # Summed over the replicas before anything reads them: the norms and the clipping are the global gradient's.
        grads = share.sum(tape.gradient(scaled, variables))
        loss = share.sum(loss)
        out = self._member_update(k, member, loss, grads, share, scale)
        for metric in member.metrics:  # on-read synchronized: each replica adds its share, reading sums them
            if wb is None:
                metric.update_state(yb, pred)
            else:
                metric.update_state(yb, pred, sample_weight=wb)
        return out

    def _member_group_step(self, k, member, fetch, count):
        """Member ``k``'s step on a group of ``count`` batches (``fetch(j)``: batch ``j``'s ``(x, y, w)``): each
        batch's loss and gradient as :meth:`_member_step` computes them (its metrics updated, its augmentation
        drawn), their means over the group's batches applied once; recorded, the mean loss and the mean
        gradient's norm."""
        model = member.model
        variables = model.trainable_variables
        scale = loss_scale(member.optimizer)  # read before the loop: it changes only when the step is applied

        def batch(j, total, sums):
            xb, yb, wb = fetch(j)
            share = distribute.Share(tf.shape(first(xb))[0])
            xb, yb = tf.nest.map_structure(share.take, xb), share.take(yb)
            wb = None if wb is None else share.take(wb)
            if member.augment is not None:
                xb = member.augment(xb, training=True)
            with tf.GradientTape() as tape:
                pred = model(xb, training=True)
                loss = share.loss(member.loss, yb, pred, model.losses, sample_weight=wb)
                scaled = loss if scale is None else member.optimizer.scale_loss(loss)
            grads = tape.gradient(scaled, variables)
            for metric in member.metrics:
                if wb is None:
                    metric.update_state(yb, pred)
                else:
                    metric.update_state(yb, pred, sample_weight=wb)
            # This replica's parts, summed over the replicas once, after the loop (a sum of sums is the sum).
            sums = [s if g is None else s + tf.convert_to_tensor(g) for s, g in zip(sums, grads)]
            return j + 1, total + tf.cast(loss, tf.float32), sums

        zeros = [tf.zeros(v.shape, v.dtype) for v in variables]
        _, total, sums = tf.while_loop(lambda j, *_: j < count, batch, (tf.constant(0), tf.constant(0.0), zeros))
        share = distribute.Share(count)  # for the sum over the replicas and the update (its size is not read)
        grads = share.sum([s / tf.cast(count, s.dtype) for s in sums])
        loss = share.sum(total) / tf.cast(count, tf.float32)
        return self._member_update(k, member, loss, grads, share, scale)

    def _member_update(self, k, member, loss, grads, share, scale):
        """Member ``k``'s update from its gradients (summed over the replicas): the recorded norms measured, the
        optimizer applied. Returns loss, grad norm, lr and layer norms (all float32), then, with dynamic loss
        scaling in the engine, the loss scale used and whether the step was skipped for an overflow."""
        variables = member.model.trainable_variables
        if self._dynamic[k]:
            scale = tf.convert_to_tensor(scale)  # read once, before the optimizer changes it
        # Norms of the gradients the optimizer applies: Keras' apply divides scaled gradients by the scale.
        unscaled = [_float32(g) for g in grads] if scale is None else \
            [_float32(tf.convert_to_tensor(g) / scale) for g in grads]  # (an embedding's gradient made dense)
        # Sums of squares as twice each tensor's l2_loss: one op instead of two (square, then sum) and the same
        # bits (the kernel halves each square, which is exact, and sums in the same order; doubling is exact too).
        halves = [tf.nn.l2_loss(g) for g in unscaled]
        layer_squares = 2.0 * tf.stack([tf.add_n([halves[i] for i in idx]) for _, idx in self._groups[k]])
        layer_norms = tf.sqrt(layer_squares)
        # One fixed summation (layers in order), so the norm is the same bits in every run.
        norm = tf.sqrt(tf.reduce_sum(layer_squares))
        lr = tf.cast(member.optimizer.learning_rate, tf.float32)
        scaling = ()
        if self._scaled_records:
            if self._dynamic[k]:
                # What the optimizer skips. At a scale <= 1 the gradients are non-finite unscaled: not an
                # overflow of the scaling but a non-finite value of training's, which the loop rolls back.
                skip = tf.logical_and(tf.logical_not(member.optimizer.check_finite(grads)), scale > 1.0)
                scaling = (scale, tf.cast(skip, tf.float32))
            else:
                scaling = (tf.constant(1.0 if scale is None else float(scale)), tf.constant(0.0))
        share.apply(member.optimizer, grads, variables)
        return (tf.cast(loss, tf.float32), norm, lr, layer_norms, *scaling)


def _float32(gradient):
    """A gradient in float32 (a model with float16 variables has float16 gradients, whose squares overflow)."""
    return gradient if gradient.dtype == tf.float32 else tf.cast(gradient, tf.float32)


def _joined(group: tuple) -> tuple:
    """``(x, y, w, bounds)`` of a group of N batches as ``Dataset.ragged_batch`` gives them: each part's batches
    one after the other, batch ``j`` rows ``[bounds[j], bounds[j + 1])``. A part whose batches all have one known
    shape comes batched densely (``[N, batch, ...]``), the others ragged along the batch axis."""
    def rows(part):
        if isinstance(part, tf.RaggedTensor):
            return part.values
        return tf.reshape(part, [-1, *part.shape[2:]])

    lead = first(group[0])
    if isinstance(lead, tf.RaggedTensor):
        bounds = tf.cast(lead.row_splits, tf.int32)
    else:
        bounds = tf.range(tf.shape(lead)[0] + 1) * lead.shape[1]
    x, y, w = group
    return tf.nest.map_structure(rows, x), rows(y), None if w is None else rows(w), bounds


@tf.function(reduce_retracing=True)
def _shuffled(n: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
    """The epoch order the compiled program draws for ``seed`` (the same op, outside XLA)."""
    return tf.random.experimental.stateless_shuffle(tf.range(n, dtype=tf.int32), seed=seed)

