"""The engine: one compiled program that trains K >= 1 models together.

A single run is K = 1; a fused study is the same engine with K = variants x seeds.
Each member has its own model (initial weights, dropout RNG, batch-norm statistics),
optimizer (state, schedule, clipping), loss (with its regularization) and metrics.
All members see the same batches, in the order the caller passes.

Why a whole epoch per call: on small models the cost of training is per-step and
per-call overhead, not arithmetic (see PERF-NOTES), so the loop over batches runs
inside one ``tf.function`` and Python is entered once per epoch. Data enter as
arguments (not captured constants) so one trace serves every epoch and large
arrays are not copied into the graph.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import keras
import numpy as np
import tensorflow as tf

from trainlab.errors import TrainlabError
from trainlab.optimizers import learning_rate_scale
from trainlab.training import distribute


class _NewEngineTraces(logging.Filter):
    """Drop TensorFlow's "triggered tf.function retracing" warning about engines' programs.

    Every engine traces its own programs once (new models, new variables): a study or a test
    session that builds many engines would otherwise be told, wrongly, that it retraces.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not ("retracing" in message and "trainlab.training.engine.Engine" in message)


tf.get_logger().addFilter(_NewEngineTraces())

# What the compiled loops call is built as written, not rewritten by AutoGraph: only the loops over
# steps and batches need it. Keras 3's own trainer does the same (its step is ``do_not_convert``),
# so models, losses and schedules behave here as they do in ``fit``; and converting Keras' code
# cost about half of each program's tracing (measured, with the explicit step loop: 4 models 7.1 s -> 2.6 s).
_plain = tf.autograph.experimental.do_not_convert


@dataclass
class Member:
    """One model trained by the engine, with everything that is its own.

    Attributes:
        model: a built ``keras.Model``.
        optimizer: its optimizer (clipping configured on it, Keras-style).
        loss: the loss; the model's regularization losses are added to it.
        metrics: fresh metric objects for training; ``val_metrics`` the same for validation.
    """

    model: keras.Model
    optimizer: keras.optimizers.Optimizer
    loss: keras.losses.Loss
    metrics: list[keras.metrics.Metric] = field(default_factory=list)
    val_metrics: list[keras.metrics.Metric] = field(default_factory=list)

    def layer_groups(self) -> list[tuple[str, list[int]]]:
        """Trainable variables grouped by the layer that owns them: ``[(layer, [indices])]``."""
        groups: dict[str, list[int]] = {}
        for i, variable in enumerate(self.model.trainable_variables):
            layer = variable.path.split("/")[-2] if "/" in variable.path else variable.path
            groups.setdefault(layer, []).append(i)
        return list(groups.items())


@dataclass
class EpochSteps:
    """What the engine recorded over an epoch's steps, per step and member.

    ``loss``, ``grad_norm`` and ``lr`` have shape ``[steps, K]``: each step's loss (with
    regularization), the global gradient norm measured before clipping, and the
    learning rate used. ``batch`` is each step's batch size, ``layer_grad_norm`` holds
    each member's per-layer gradient norms, ``[steps, layers]``, ``metrics`` each
    member's training metrics over the epoch so far. ``layer_weight_norm`` and
    ``layer_weight_l1`` are each member's per-layer L2 and L1 weight norms after the last
    step, and ``layer_update_ratio`` the relative change of each layer's weights over the
    steps, ``||W_end - W_start|| / ||W_start||``.
    """

    loss: np.ndarray
    grad_norm: np.ndarray
    lr: np.ndarray
    batch: np.ndarray
    layer_grad_norm: list[np.ndarray]
    metrics: list[dict[str, float]]
    layer_weight_norm: list[np.ndarray]
    layer_weight_l1: list[np.ndarray]
    layer_update_ratio: list[np.ndarray]

    @classmethod
    def concat(cls, parts: Sequence[EpochSteps]) -> EpochSteps:
        """Consecutive runs of one epoch's steps as one: per-step arrays joined, the rest from the last part.

        The metrics, weight norms and update ratios of the last part already cover the whole
        epoch: metrics accumulate until they are reset, and update ratios are measured from the
        weights at the epoch's start.
        """
        if len(parts) == 1:
            return parts[0]
        last = parts[-1]
        return cls(
            np.concatenate([p.loss for p in parts]), np.concatenate([p.grad_norm for p in parts]),
            np.concatenate([p.lr for p in parts]), np.concatenate([p.batch for p in parts]),
            [np.concatenate(layers) for layers in zip(*(p.layer_grad_norm for p in parts))],
            last.metrics, last.layer_weight_norm, last.layer_weight_l1, last.layer_update_ratio,
        )


class _Program:
    """A ``tf.function`` called through the concrete function it traced for the arguments' types.

    Calling a ``tf.function`` looks its program up anew on every call, by a key that holds the type
    of every variable the program captures, hashed each time: 1.2-2.2 ms of Python a call for 4
    fused models (~170 variables; a snapshot captures twice as many), as much as some of these
    programs take to run, three calls an epoch (measured 2026-11-30: tutorial section 6 spent 2.9 s
    of its 53 s so). The concrete function is looked up once per argument signature (the tensors'
    dtypes and shapes, the Python values) and then called directly: the same traced program, the
    same results. Anything else (a dataset, a NumPy array, eager execution forced by
    ``tf.config.run_functions_eagerly``, a call inside another graph) goes through the function.
    """

    def __init__(self, function) -> None:
        self.function = function
        self._concrete: dict = {}

    def __call__(self, *args):
        if not tf.executing_eagerly() or tf.config.functions_run_eagerly():
            return self.function(*args)
        key = _signature(args)
        concrete = self._concrete.get(key) if key is not None else None
        if concrete is not None:
            return concrete(*args)
        out = self.function(*args)
        if key is not None:
            self._concrete[key] = self.function.get_concrete_function(*args)
        return out


def _signature(value):
    """What picks a traced program for ``value``: dtypes and shapes of tensors, Python ints, bools and strings by
    type and value, nested lists and tuples; None for anything else (a float: NaN is not equal to itself)."""
    if isinstance(value, tf.Tensor):
        return value.dtype, tuple(value.shape)
    if value is None or isinstance(value, (bool, int, str)):
        return type(value), value
    if isinstance(value, (list, tuple)):
        parts = tuple(_signature(v) for v in value)
        return None if any(p is None for p in parts) else (type(value), parts)
    return None


def steps_per_epoch(n_samples: int, batch_size: int) -> int:
    """Optimizer steps in an epoch of ``n_samples``: the last batch may be smaller."""
    return -(-int(n_samples) // int(batch_size))


class Engine:
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
        # The branches cost more to trace than the members' steps themselves (K = 12: ~3x).
        self._train_fn = _Program(tf.function(self._all_steps, jit_compile=jit_compile, reduce_retracing=True,
                                               autograph=False))
        self._masked_train_fn = _Program(tf.function(self._masked_steps, jit_compile=jit_compile, reduce_retracing=True,
                                                      autograph=False))
        self._masked = False  # which program is being traced
        self._dataset_fn = tf.function(self._train_dataset, reduce_retracing=True)
        self._eval_fn = tf.function(self._evaluate, autograph=False)
        self._eval_programs: dict = {}
        self._eval_dataset_fn = tf.function(self._evaluate_dataset, reduce_retracing=True)
        self._splits_fn = _Program(tf.function(self._evaluate_splits, autograph=False))
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
    ) -> EpochSteps:
        """Run steps ``[start, stop)`` of an epoch.

        Step ``i`` trains on ``x[order[i*batch : (i+1)*batch]]`` (the last batch may be
        smaller). The order is ``order`` if given; else, with ``seed``, a stateless shuffle
        drawn inside the compiled program (a pure function of the seed, e.g. ``(seed, epoch)``);
        else the data's own order. ``reset`` (default: ``start == 0``) starts the epoch: the
        training metrics restart and the update ratios measure from the weights as they are now.

        While :attr:`halt` is true the loop stops before its next step; the result then holds
        fewer than ``stop - start`` steps (an interruption).
        """
        if order is not None:
            source, mode = tf.cast(order, tf.int32), "order"
        elif seed is not None and self._jit:  # XLA has no shuffle kernel: draw the same order outside it
            source, mode = _shuffled(tf.shape(x)[0], tf.constant(seed, tf.int64)), "order"
        elif seed is not None:
            source, mode = tf.constant(seed, tf.int64), "shuffle"
        else:
            source, mode = tf.zeros([0], tf.int32), "range"
        stop = self.steps_per_epoch(len(x)) if stop is None else stop
        reset = start == 0 if reset is None else bool(reset)
        program = self._masked_train_fn if self._any_stopped() else self._train_fn
        out = program(x, y, source, self._int(start), self._int(stop), reset, mode)
        return self._unpack(out)

    def train_epoch_dataset(self, dataset: tf.data.Dataset) -> EpochSteps:
        """Run one epoch over a ``tf.data.Dataset`` of ``(x, y)`` batches (large data)."""
        return self._unpack(self._dataset_fn(dataset))

    def steps_per_epoch(self, n_samples: int) -> int:
        return steps_per_epoch(n_samples, self.batch_size)

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
        loss, norm, lr, batch, layers, metric_values, weight_stats, ran = out
        ran = int(ran)  # steps run: fewer than asked when halted (unwritten records are dropped)
        metrics = [
            {m.name: float(v) for m, v in zip(member.metrics, values.numpy())}
            for member, values in zip(self.members, metric_values)
        ]
        stats = [t.numpy() for t in weight_stats]  # per member [3, layers]: L2, L1, update ratio
        return EpochSteps(
            loss.numpy()[:ran], norm.numpy()[:ran], lr.numpy()[:ran], batch.numpy()[:ran],
            [t.numpy()[:ran] for t in layers], metrics,
            [s[0] for s in stats], [s[1] for s in stats], [s[2] for s in stats],
        )

    @_plain
    def _reset_metrics(self, which: str) -> None:
        for member in self.members:
            for metric in getattr(member, which):
                metric.reset_state()

    @_plain
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

    def _train_steps(self, x, y, source, start, stop, reset, mode):
        if reset:
            self._start_epoch()
        n = tf.shape(x)[0]
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
            return step + 1, self._write(records, step - start, self._batch_step(x, y, order, n, step))

        # An explicit loop, not AutoGraph's ``for ... break``: that wraps every step in a conditional,
        # which doubled the tracing and cost a branch call per step.
        end, records = tf.while_loop(more, one_step, (start, records))
        ran = end - start
        return (*self._finish(records), ran)

    @_plain
    def _batch_step(self, x, y, order, n, step):
        lo = step * self.batch_size
        idx = order[lo : tf.minimum(lo + self.batch_size, n)]
        return self._step(tf.gather(x, idx), tf.gather(y, idx))

    def _train_dataset(self, dataset):
        self._masked = len(self.members) > 1  # traced once: members may stop later
        self._start_epoch()
        records = self._records(0)
        i = tf.constant(0)
        for xb, yb in dataset:
            records = self._write(records, i, self._step(xb, yb))
            i += 1
        return (*self._finish(records), i)

    @_plain
    def _start_epoch(self):
        """Restart the training metrics; keep the weights as they are now, to measure the epoch's update."""
        self._reset_metrics("metrics")
        for member, start in zip(self.members, self._epoch_start):
            for variable, copy in zip(member.model.trainable_variables, start):
                copy.assign(variable)

    @_plain
    def _records(self, size):
        dynamic = isinstance(size, int) and size == 0
        return tuple(
            tf.TensorArray(tf.float32, size=size, dynamic_size=dynamic) for _ in range(4 + len(self.members))
        )

    @_plain
    def _write(self, records, i, stats):
        return tuple(r.write(i, s) for r, s in zip(records, stats))

    @_plain
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
        return (*stacked[:4], stacked[4:], self._metric_results("metrics"), weight_stats)

    @_plain
    def _step(self, xb, yb):
        """One optimizer step for every member: ``[K]`` loss, grad norm, lr; batch size; per-layer norms."""
        if not self._distributed:
            return self._replica_step(xb, yb)
        out = self.strategy.run(self._replica_step, args=(xb, yb))
        return tf.nest.map_structure(lambda t: self.strategy.experimental_local_results(t)[0], out)

    def _replica_step(self, xb, yb):
        share = distribute.Share(tf.shape(xb)[0])  # this replica's part of the batch (all of it on one device)
        xb, yb = share.take(xb), share.take(yb)
        losses, norms, lrs, layers = [], [], [], []
        for k, member in enumerate(self.members):
            if not self._masked:
                loss, norm, lr, layer = self._member_step(k, member, xb, yb, share)
            else:
                nan = tf.constant(np.nan, tf.float32)
                loss, norm, lr, layer = tf.cond(
                    self.active[k],
                    lambda k=k, member=member: self._member_step(k, member, xb, yb, share),
                    lambda k=k: (nan, nan, nan, tf.fill([len(self._groups[k])], nan)),
                )
            losses.append(loss)
            norms.append(norm)
            lrs.append(lr)
            layers.append(layer)
        return (tf.stack(losses), tf.stack(norms), tf.stack(lrs), share.size, *layers)

    def _member_step(self, k, member, xb, yb, share):
        model = member.model
        with tf.GradientTape() as tape:
            pred = model(xb, training=True)
            loss = share.loss(member.loss, yb, pred, model.losses)
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
            metric.update_state(yb, pred)
        return tf.cast(loss, tf.float32), norm, lr, layer_norms

    # ------------------------------------------------------------------ state
    def state_variables(self, k: int) -> list:
        """Every variable of member ``k`` that training changes: what a checkpoint must hold.

        The model's variables (weights, batch-norm statistics, dropout seed states), the
        optimizer's (iteration count, slots, a constant learning rate), the scale of a
        :class:`~trainlab.schedules.Scaled` schedule, the training metrics' totals, and the
        weights at the start of the epoch (the update ratios measure from them).
        """
        member = self.members[k]
        scale = learning_rate_scale(member.optimizer)
        candidates = [
            *member.model.variables, *member.optimizer.variables, *([scale] if scale is not None else []),
            *(v for metric in member.metrics for v in metric.variables), *self._epoch_start[k],
        ]
        found, seen = [], set()
        for variable in candidates:
            if id(variable) not in seen:
                seen.add(id(variable))
                found.append(variable)
        return found

    def state_layout(self, k: int) -> list[tuple[str, str, tuple[int, ...]]]:
        """``(path, dtype, shape)`` of each of :meth:`state_variables`, in order."""
        return [(_path(v), _dtype(v), tuple(int(d) for d in v.shape)) for v in self._variables_of(k)]

    def read_state(self) -> list[dict[str, np.ndarray]]:
        """Every member's state variables, read in one compiled call: per member, one flat array per dtype.

        The layout (which variable sits where) is :meth:`state_layout`: variables of one dtype
        follow each other in that order.
        """
        if self._state_fn is None:
            self._variables_of(0)
            self._state_fn = _Program(tf.function(self._read_state, autograph=False))
        return [{dtype: t.numpy() for dtype, t in flats.items()} for flats in self._state_fn()]

    def write_state(self, k: int, flats: dict[str, np.ndarray]) -> None:
        """Put back member ``k``'s variables from :meth:`read_state`'s arrays.

        Raises:
            ValueError: the arrays do not fit the variables (another model or optimizer).
        """
        variables = self._variables_of(k)
        offsets: dict[str, int] = {}
        sizes: dict[str, int] = {}
        for v in variables:
            sizes[_dtype(v)] = sizes.get(_dtype(v), 0) + int(np.prod(v.shape, dtype=np.int64))
        if sorted(sizes) != sorted(flats) or any(flats[d].size != n for d, n in sizes.items()):
            found = {d: int(a.size) for d, a in flats.items()}
            raise ValueError(f"the saved state ({found} values by dtype) does not fit this model ({sizes})")
        for v in variables:
            dtype, size = _dtype(v), int(np.prod(v.shape, dtype=np.int64))
            at = offsets.get(dtype, 0)
            v.assign(flats[dtype][at : at + size].reshape(tuple(v.shape)))
            offsets[dtype] = at + size

    def snapshot(self) -> None:
        """Keep a copy of every member's state beside it, for :meth:`restore`.

        The state a rollback returns to, kept without a copy to the host: one compiled call of
        in-memory copies (4 models, one thread: ~3 ms per epoch against 4.3 ms reading the state out).
        The weights at the start of the epoch (the update ratios' copies) are not kept: an epoch's
        first call sets them from the weights it starts from, and nothing else during an epoch does,
        so a rollback to any point of the epoch finds them as they were.

        Not kept either, though it would be cheaper: the weights of a snapshot at an epoch's start, as
        those copies will hold them. A callback may change the weights in ``on_epoch_begin``, after the
        snapshot and before the copies are made.
        """
        if self._snapshot_fn is None:
            self._shadows = [
                [tf.Variable(_value(v), trainable=False, name="snapshot") for v in self._kept(k)]
                for k in range(len(self.members))
            ]
            self._snapshot_fn = _Program(tf.function(self._copy_to_shadows, autograph=False))
        self._snapshot_fn()

    def restore(self, k: int) -> None:
        """Put member ``k``'s state back as the last :meth:`snapshot` kept it."""
        if self._snapshot_fn is None:
            raise RuntimeError("restore() before any snapshot()")
        for variable, shadow in zip(self._kept(k), self._shadows[k]):
            variable.assign(shadow.read_value())

    def _kept(self, k: int) -> list:
        """Member ``k``'s state variables that a snapshot copies: all but the update ratios' copies."""
        starts = {id(v) for v in self._epoch_start[k]}
        return [v for v in self._variables_of(k) if id(v) not in starts]

    def _copy_to_shadows(self):
        for k, shadows in enumerate(self._shadows):
            for variable, shadow in zip(self._kept(k), shadows):
                shadow.assign(_value(variable))

    def remember_fresh(self) -> None:
        """Keep, on the host, the rest of each member's state as it is now, before any training (optimizer slots,
        iteration count, learning rate, metric totals), for :meth:`restart`: an optimizer's fresh state does not
        depend on the model's weights. Only an engine that will train other runs after its own needs it."""
        self._fresh = []
        for k, member in enumerate(self.members):
            own = {id(v) for v in (*member.model.variables, *self._epoch_start[k])}
            self._fresh.append([(v, np.array(_value(v))) for v in self.state_variables(k) if id(v) not in own])

    def restart(self, k: int, model: keras.Model) -> None:
        """Start member ``k`` anew from ``model``: its model's variables take ``model``'s values, and the rest of
        its state (optimizer, learning-rate scale, training metrics) the values it had when this engine was built.

        This is how one traced program trains run after run: a study's next seed builds its model as a
        run of its own would (the same initial weights, batch-norm statistics and dropout seeds), and the
        engine that already traced the recipe trains it, its optimizer starting as any fresh one starts,
        with no new tracing and no optimizer or engine of the run's own (each cost ~70 ms to build).

        Raises:
            RuntimeError: :meth:`remember_fresh` was not called before the engine first trained.
            ValueError: ``model``'s variables differ from the member's model's in number, dtype or shape.
        """
        if self._fresh is None:
            raise RuntimeError("restart() needs remember_fresh(), called before the engine first trained")
        mine, theirs = self.members[k].model.variables, model.variables
        if [(_dtype(v), tuple(v.shape)) for v in mine] != [(_dtype(v), tuple(v.shape)) for v in theirs]:
            raise ValueError("the members' models differ: their variables do not match")
        for target, value in zip(mine, theirs):
            target.assign(_value(value))
        for target, value in zip(self._epoch_start[k], model.trainable_variables):
            target.assign(_value(value))
        for target, value in self._fresh[k]:
            target.assign(value)

    def _variables_of(self, k: int) -> list:
        if not hasattr(self, "_state_vars"):
            self._state_vars = [self.state_variables(i) for i in range(len(self.members))]
        return self._state_vars[k]

    def _read_state(self):
        out = []
        for variables in self._state_vars:
            groups: dict[str, list] = {}
            for v in variables:
                groups.setdefault(_dtype(v), []).append(tf.reshape(_value(v), [-1]))
            out.append({dtype: tf.concat(values, 0) for dtype, values in groups.items()})
        return out

    # ------------------------------------------------------------------ probes
    def activation_stats(self, x: tf.Tensor) -> list[dict[str, dict[str, float]]]:
        """Per member, for each layer with a relu, sigmoid or tanh activation, on ``x`` in inference mode.

        ``dead_fraction`` (relu): the share of units that output zero for every sample of ``x``.
        ``saturated_fraction`` (sigmoid / tanh): the share of outputs in the flat tails, where the
        derivative is below 2% of its peak (sigmoid outside [0.01, 0.99]; |tanh| above 0.99).
        Models whose layers cannot be probed (subclassed models) give an empty dict.
        """
        if self._probe_fn is None:
            self._probe_fn = _Program(tf.function(self._probe, reduce_retracing=True, autograph=False))
        return self._activation_dicts(self._probe_fn(x))

    def _activation_dicts(self, values) -> list[dict[str, dict[str, float]]]:
        out = []
        for probe, stats in zip(self._probes(), values):
            if probe is None:
                out.append({})
                continue
            _, layers, _ = probe
            out.append({
                name: {"dead_fraction" if kind == "dead" else "saturated_fraction": float(v)}
                for (name, kind), v in zip(layers, stats.numpy())
            })
        return out

    def _probes(self) -> list:
        """Per member, its activation probe (``(model, [(layer, kind)], output last)``, see :func:`_activation_probe`)
        or None."""
        if self._probe_models is None:
            self._probe_models = [_activation_probe(m.model) for m in self.members]
        return self._probe_models

    @_plain
    def _probe(self, x):
        results = []
        for probe in self._probes():
            if probe is None:
                results.append(tf.zeros([0]))
                continue
            model, layers, with_output = probe
            outputs = model(x, training=False)
            outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
            results.append(_activation_stats(layers, outputs[:-1] if with_output else outputs))
        return results

    def gradients(self, x: tf.Tensor, y: tf.Tensor) -> list[dict[str, np.ndarray]]:
        """Per member: each trainable variable's gradient (by path) on ``(x, y)``, in inference mode.

        Nothing is updated (no optimizer step, no batch-norm statistics): this is a probe for
        gradient histograms, not a training step.
        """
        if self._grad_fn is None:
            self._grad_fn = _Program(tf.function(self._gradients, reduce_retracing=True, autograph=False))
        return [
            {v.path: g.numpy() for v, g in zip(m.model.trainable_variables, grads)}
            for m, grads in zip(self.members, self._grad_fn(x, y))
        ]

    def _gradients(self, x, y):
        out = []
        for member in self.members:
            with tf.GradientTape() as tape:
                loss = member.loss(y, member.model(x, training=False))
            out.append(tape.gradient(loss, member.model.trainable_variables))
        return out

    # ---------------------------------------------------------------- evaluation
    def evaluate(self, x: tf.Tensor, y: tf.Tensor) -> list[dict[str, float]]:
        """Loss (with regularization, as Keras reports it) and metrics of every member on ``(x, y)``."""
        # One program for every split and sample count: traced with the batch dimension left open.
        key = tuple((tuple(t.shape[1:]), t.dtype) for t in (x, y))
        program = self._eval_programs.get(key)
        if program is None:
            program = self._eval_programs[key] = self._eval_fn.get_concrete_function(
                *(tf.TensorSpec([None, *t.shape[1:]], t.dtype) for t in (x, y)))
        return self._eval_dicts(*program(x, y))

    def evaluate_dataset(self, dataset: tf.data.Dataset) -> list[dict[str, float]]:
        """:meth:`evaluate` over a ``tf.data.Dataset`` of ``(x, y)`` batches."""
        return self._eval_dicts(*self._eval_dataset_fn(dataset))

    def can_probe_in_eval(self, rows: int) -> bool:
        """Whether :meth:`evaluate_splits` can read ``rows`` samples' activations off an evaluation's first batch."""
        return (0 < rows <= self.eval_batch_size and not self._distributed
                and all(probe is None or probe[2] for probe in self._probes()))

    def evaluate_splits(
        self, splits: Sequence[tuple[tf.Tensor, tf.Tensor]], probe_rows: int = 0
    ) -> tuple[list[list[dict[str, float]]], list[dict[str, dict[str, float]]] | None]:
        """:meth:`evaluate` of each split, in one compiled call; with ``probe_rows``, also :meth:`activation_stats`
        of the last split's first ``probe_rows`` samples, read off that split's own forward pass.

        What an epoch ends with (validation, the train-eval sample, the activation probe) costs one
        call and no inference pass of the probe's own (4 fused models: 13 -> 8 ms an epoch). The
        program is traced once for the splits' shapes. ``probe_rows`` needs :meth:`can_probe_in_eval`.

        Returns:
            ``(results, activations)``: per split, what :meth:`evaluate` gives; the activation
            statistics (None without ``probe_rows``).
        """
        if probe_rows and not self.can_probe_in_eval(probe_rows):
            raise ValueError(f"cannot read the activations of {probe_rows} rows off an evaluation")
        results, stats = self._splits_fn([tuple(split) for split in splits], int(probe_rows))
        return [self._eval_dicts(*r) for r in results], self._activation_dicts(stats) if probe_rows else None

    def _eval_dicts(self, losses, metric_values) -> list[dict[str, float]]:
        losses = losses.numpy()
        return [
            {"loss": float(losses[k]), **{m.name: float(v) for m, v in zip(member.val_metrics, values.numpy())}}
            for k, (member, values) in enumerate(zip(self.members, metric_values))
        ]

    def _evaluate(self, x, y):
        (result,), _ = self._evaluate_splits([(x, y)], 0)
        return result

    def _evaluate_dataset(self, dataset):
        self._reset_metrics("val_metrics")
        total, n = tf.zeros([len(self.members)]), tf.constant(0.0)
        for xb, yb in dataset:
            total += self._eval_batch(xb, yb)
            n += tf.cast(tf.shape(xb)[0], tf.float32)
        return self._eval_result(total, n)

    def _evaluate_splits(self, splits, probe_rows):
        results, stats = [], None
        step = self.eval_batch_size
        for i, (x, y) in enumerate(splits):
            self._reset_metrics("val_metrics")  # after the previous split's results were read (program order)
            if probe_rows and i == len(splits) - 1:
                total, stats = self._eval_batch(x[:step], y[:step], probe_rows)
            else:
                total = self._eval_batch(x[:step], y[:step])
            n = tf.shape(x)[0]
            if x.shape[0] is None or x.shape[0] > step:  # the other batches, unless the traced shape says none

                def more(start, total, x=x, y=y):
                    return start + step, total + self._eval_batch(x[start : start + step], y[start : start + step])

                _, total = tf.while_loop(lambda start, _, n=n: start < n, more, (tf.constant(step), total))
            results.append(self._eval_result(total, tf.cast(n, tf.float32)))
        return results, stats

    @_plain
    def _eval_batch(self, xb, yb, rows=None):
        """Every member's summed loss on one batch; updates the validation metrics. With ``rows``, also each
        member's activation statistics of the batch's first ``rows`` samples, read off the same forward pass."""
        batch = tf.cast(tf.shape(xb)[0], tf.float32)
        losses, stats = [], []
        for member, probe in zip(self.members, self._probes() if rows else [None] * len(self.members)):
            if probe is None:
                pred = member.model(xb, training=False)
                stats.append(tf.zeros([0]))
            else:
                model, layers, _ = probe
                *outputs, pred = model(xb, training=False)
                stats.append(_activation_stats(layers, [out[:rows] for out in outputs]))
            losses.append(tf.cast(member.loss(yb, pred), tf.float32) * batch)
            for metric in member.val_metrics:
                metric.update_state(yb, pred)
        return (tf.stack(losses), stats) if rows else tf.stack(losses)

    @_plain
    def _eval_result(self, total, n):
        # Keras adds the regularization penalty to each batch's loss; its mean is the penalty itself.
        penalties = tf.stack([
            tf.cast(tf.add_n(m.model.losses), tf.float32) if m.model.losses else tf.constant(0.0)
            for m in self.members
        ])
        return total / tf.maximum(n, 1.0) + penalties, self._metric_results("val_metrics")


def _value(variable) -> tf.Tensor:
    """A Keras or TensorFlow variable's current value."""
    return variable.value if isinstance(variable, keras.Variable) else variable.read_value()


def _dtype(variable) -> str:
    return tf.as_dtype(variable.dtype).name


def _path(variable) -> str:
    return getattr(variable, "path", None) or variable.name


@tf.function(reduce_retracing=True)
def _shuffled(n: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
    """The epoch order the compiled program draws for ``seed`` (the same op, outside XLA)."""
    return tf.random.experimental.stateless_shuffle(tf.range(n, dtype=tf.int32), seed=seed)


_SATURATING = {"relu": "dead", "sigmoid": "saturated_sigmoid", "tanh": "saturated_tanh"}


def _activation_probe(model: keras.Model):
    """A model giving the outputs of ``model``'s relu / sigmoid / tanh layers (then, for a single-output
    model, its output), with what each layer shows.

    Returns ``(probe, [(layer name, kind)], whether the model's output comes last)``, kind ``dead`` or
    ``saturated_*``, recorded as ``dead_fraction`` / ``saturated_fraction``; ``None`` when the model has
    no such layer or its layers' outputs cannot be reached (a subclassed model).
    """
    layers = []
    for layer in model._flatten_layers(include_self=False):
        activation = getattr(layer, "activation", None)
        name = getattr(activation, "__name__", None)
        if isinstance(layer, keras.layers.ReLU):
            name = "relu"
        if name in _SATURATING:
            layers.append((layer, _SATURATING[name]))
    if not layers:
        return None
    try:
        # The model's own output last, when it has one, so that an evaluation's pass can read the layers too.
        tail = list(model.outputs) if len(model.outputs) == 1 else []
        probe = keras.Model(model.inputs, [*(layer.output for layer, _ in layers), *tail])
    except (AttributeError, ValueError, TypeError):
        return None
    return probe, [(_record_name(layer), kind) for layer, kind in layers], bool(tail)


def _activation_stats(layers: list[tuple[str, str]], outputs: Sequence[tf.Tensor]) -> tf.Tensor:
    """Each probed layer's statistic (see :meth:`Engine.activation_stats`) from its outputs, ``[layers]``."""
    stats = []
    for (_, kind), out in zip(layers, outputs):
        flat = tf.reshape(tf.cast(out, tf.float32), [tf.shape(out)[0], -1])
        if kind == "dead":
            stats.append(tf.reduce_mean(tf.cast(tf.reduce_all(flat <= 0.0, axis=0), tf.float32)))
        elif kind == "saturated_sigmoid":
            stats.append(tf.reduce_mean(tf.cast((flat < 0.01) | (flat > 0.99), tf.float32)))
        else:
            stats.append(tf.reduce_mean(tf.cast(tf.abs(flat) > 0.99, tf.float32)))
    return tf.stack(stats)


def _record_name(layer: keras.layers.Layer) -> str:
    """The name the records give a layer: as :meth:`Member.layer_groups` names it, from its variables."""
    variables = layer.trainable_variables
    if variables and "/" in variables[0].path:
        return variables[0].path.split("/")[-2]
    return layer.name
