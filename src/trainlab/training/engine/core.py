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
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import keras
import numpy as np
import tensorflow as tf

from trainlab import runtime
from trainlab.errors import TrainlabError
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
        batch_size: samples per step.
        jit_compile: compile the epoch with XLA (fast steady state, slow compile).
        eval_batch_size: samples per step when evaluating.

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
    ) -> None:
        if not members:
            raise ValueError("the engine needs at least one member")
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
        self.eval_batch_size = int(eval_batch_size or max(1024, batch_size))
        self._groups = [m.layer_groups() for m in self.members]
        for member in self.members:
            member.optimizer.build(member.model.trainable_variables)
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
        smaller). The order is ``order`` if given; else, with ``seed``, a stateless shuffle
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
        program = self._masked_train_fn if self._any_stopped() else self._train_fn
        args = (x, y, source, self._int(start), self._int(stop), reset, mode)
        # Weights are one more argument, only when there are some: the program without them stays as it was.
        out = program(*args) if sample_weight is None else program(*args, sample_weight)
        return self._unpack(out)

    def train_epoch_dataset(self, dataset: tf.data.Dataset) -> EpochSteps:
        """Run one epoch over a ``tf.data.Dataset`` of ``(x, y)`` or ``(x, y, sample_weight)`` batches (large data).

        The dataset is iterated inside the compiled program, batch by batch; ``x`` may be a
        structure of tensors (a dict for a model with named inputs).
        """
        return self._unpack(self._dataset_fn(dataset))

    def steps_per_epoch(self, n_samples: int) -> int:
        """Optimizer steps in an epoch of ``n_samples`` at this engine's batch size."""
        return steps_per_epoch(n_samples, self.batch_size)

    @property
    def distributed(self) -> bool:
        """Whether the engine trains under a ``tf.distribute`` strategy (made in its scope)."""
        return self._distributed

    def layer_counts(self) -> list[int]:
        """Per member: how many layers its per-layer records have."""
        return [len(groups) for groups in self._groups]

    def train_logs(self, steps: EpochSteps) -> list[dict[str, float]]:
        """Per member: the epoch's mean loss (weighted by batch size), metrics, mean and max gradient norm."""
        weights = steps.batch / max(float(steps.batch.sum()), 1.0)
        logs = []
        for k in range(len(self.members)):
            ran = np.isfinite(steps.lr[:, k])  # steps a frozen member sat out have lr NaN
            row = {"loss": float(np.sum(steps.loss[ran, k] * weights[ran]) / max(weights[ran].sum(), 1e-12))}
            row.update(steps.metrics[k])
            norms = steps.grad_norm[ran, k]
            row["grad_norm"] = float(norms.mean()) if len(norms) else float("nan")
            row["grad_norm_max"] = float(norms.max()) if len(norms) else float("nan")
            logs.append(row)
        return logs

    def layer_grad_norms(self, steps: EpochSteps) -> list[dict[str, float]]:
        """Per member: each layer's gradient norm, averaged over the epoch's steps."""
        out = []
        for k, (groups, norms) in enumerate(zip(self._groups, steps.layer_grad_norm)):
            ran = norms[np.isfinite(steps.lr[:, k])]  # steps a frozen member sat out are left out; NaN stays NaN
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
        loss, norm, lr, batch, layers, metric_values, weight_stats, state_finite, ran = out
        ran = int(ran)  # steps run: fewer than asked when halted (unwritten records are dropped)
        metrics = [
            {m.name: float(v) for m, v in zip(member.metrics, values.numpy())}
            for member, values in zip(self.members, metric_values)
        ]
        stats = [t.numpy() for t in weight_stats]  # per member [3, layers]: L2, L1, update ratio
        return EpochSteps(
            loss.numpy()[:ran], norm.numpy()[:ran], lr.numpy()[:ran], batch.numpy()[:ran],
            [t.numpy()[:ran] for t in layers], metrics,
            [s[0] for s in stats], [s[1] for s in stats], [s[2] for s in stats], state_finite.numpy(),
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

    def _any_stopped(self) -> bool:
        return len(self.members) > 1 and not all(self._active_flags)

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
        lo = step * self.batch_size
        idx = order[lo : tf.minimum(lo + self.batch_size, n)]
        xb = tf.nest.map_structure(lambda t: tf.gather(t, idx), x)
        return self._step(xb, tf.gather(y, idx), None if w is None else tf.gather(w, idx))

    def _train_dataset(self, dataset):
        self._masked = len(self.members) > 1  # traced once: members may stop later
        self._start_epoch()
        records = self._records(0)
        i = tf.constant(0)
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
        return tuple(
            tf.TensorArray(tf.float32, size=size, dynamic_size=dynamic) for _ in range(4 + len(self.members))
        )

    @plain
    def _write(self, records, i, stats):
        return tuple(r.write(i, s) for r, s in zip(records, stats))

    @plain
    def _finish(self, records):
        stacked = [r.stack() for r in records]
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
        return (*stacked[:4], stacked[4:], self._metric_results("metrics"), weight_stats, self._state_finite())

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
    def _step(self, xb, yb, wb=None):
        """One optimizer step for every member: ``[K]`` loss, grad norm, lr; batch size; per-layer norms."""
        if not self._distributed:
            return self._replica_step(xb, yb, wb)
        out = self.strategy.run(self._replica_step, args=(xb, yb) if wb is None else (xb, yb, wb))
        return tf.nest.map_structure(lambda t: self.strategy.experimental_local_results(t)[0], out)

    def _replica_step(self, xb, yb, wb=None):
        share = distribute.Share(tf.shape(first(xb))[0])  # this replica's part of the batch (all of it on one device)
        xb, yb = tf.nest.map_structure(share.take, xb), share.take(yb)
        wb = None if wb is None else share.take(wb)
        losses, norms, lrs, layers = [], [], [], []
        for k, member in enumerate(self.members):
            if not self._masked:
                loss, norm, lr, layer = self._member_step(k, member, xb, yb, share, wb)
            else:
                nan = tf.constant(np.nan, tf.float32)
                loss, norm, lr, layer = tf.cond(
                    self.active[k],
                    lambda k=k, member=member: self._member_step(k, member, xb, yb, share, wb),
                    lambda k=k: (nan, nan, nan, tf.fill([len(self._groups[k])], nan)),
                )
            losses.append(loss)
            norms.append(norm)
            lrs.append(lr)
            layers.append(layer)
        return (tf.stack(losses), tf.stack(norms), tf.stack(lrs), share.size, *layers)

    def _member_step(self, k, member, xb, yb, share, wb=None):
        model = member.model
        if member.augment is not None:  # training batches only; outside the tape (nothing to differentiate)
            xb = member.augment(xb, training=True)
        with tf.GradientTape() as tape:
            pred = model(xb, training=True)
            loss = share.loss(member.loss, yb, pred, model.losses, sample_weight=wb)
        variables = model.trainable_variables
        # Summed over the replicas before anything reads them: the norms and the clipping are the global gradient's.
        grads = share.sum(tape.gradient(loss, variables))
        loss = share.sum(loss)
        # Sums of squares as twice each tensor's l2_loss: one op instead of two (square, then sum) and the same
        # bits (the kernel halves each square, which is exact, and sums in the same order; doubling is exact too).
        halves = [tf.nn.l2_loss(g) for g in grads]
        layer_squares = 2.0 * tf.stack([tf.add_n([halves[i] for i in idx]) for _, idx in self._groups[k]])
        layer_norms = tf.sqrt(layer_squares)
        # One fixed summation (layers in order), so the norm is the same bits in every run.
        norm = tf.sqrt(tf.reduce_sum(layer_squares))
        lr = tf.cast(member.optimizer.learning_rate, tf.float32)
        share.apply(member.optimizer, grads, variables)
        for metric in member.metrics:  # on-read synchronized: each replica adds its share, reading sums them
            if wb is None:
                metric.update_state(yb, pred)
            else:
                metric.update_state(yb, pred, sample_weight=wb)
        return tf.cast(loss, tf.float32), norm, lr, layer_norms


@tf.function(reduce_retracing=True)
def _shuffled(n: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
    """The epoch order the compiled program draws for ``seed`` (the same op, outside XLA)."""
    return tf.random.experimental.stateless_shuffle(tf.range(n, dtype=tf.int32), seed=seed)

