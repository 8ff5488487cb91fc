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

from collections.abc import Sequence
from dataclasses import dataclass, field

import keras
import numpy as np
import tensorflow as tf


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
    """What one call of :meth:`Engine.train_epoch` recorded, per step and member.

    Arrays have shape ``[steps, K]``: the loss of each step (with regularization),
    the global gradient norm measured before clipping, and the learning rate used.
    """

    loss: np.ndarray
    grad_norm: np.ndarray
    lr: np.ndarray


class Engine:
    """Trains K members on the same batches in one compiled program.

    Args:
        members: the models to train together.
        batch_size: samples per step.
        jit_compile: compile the epoch with XLA (fast steady state, slow compile).
        eval_batch_size: samples per step when evaluating.

    Example:
        >>> engine = Engine([Member(model, keras.optimizers.Adam(), keras.losses.MeanSquaredError())], 32)
        >>> steps = engine.train_epoch(x, y, order=np.random.permutation(len(x)))
        >>> engine.train_logs()[0]   # {"loss": ..., "grad_norm": ..., "grad_norm_max": ...}
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
        self.batch_size = int(batch_size)
        self.eval_batch_size = int(eval_batch_size or max(1024, batch_size))
        self._groups = [m.layer_groups() for m in self.members]
        for member in self.members:
            member.optimizer.build(member.model.trainable_variables)
        k = len(self.members)
        # Members that stopped (early stopping) freeze; only meaningful when K > 1.
        self.active = tf.Variable([True] * k, trainable=False, name="active")
        # Per-epoch accumulators, reset at the start of each epoch.
        self._loss_sum = tf.Variable(tf.zeros([k]), trainable=False, name="loss_sum")
        self._seen = tf.Variable(0.0, trainable=False, name="seen")
        self._steps = tf.Variable(0.0, trainable=False, name="steps")
        self._norm_sum = tf.Variable(tf.zeros([k]), trainable=False, name="grad_norm_sum")
        self._norm_max = tf.Variable(tf.zeros([k]), trainable=False, name="grad_norm_max")
        self._layer_norm_sum = [
            tf.Variable(tf.zeros([len(g)]), trainable=False, name=f"layer_grad_norm_sum_{i}")
            for i, g in enumerate(self._groups)
        ]
        # Under a strategy scope Keras' optimizer must run in a replica context (as in ``fit``).
        # Data-parallel splitting of batches across replicas comes with scale-out (tf.distribute).
        self.strategy = tf.distribute.get_strategy()
        self._distributed = tf.distribute.has_strategy()
        self._train_fn = tf.function(self._train_steps, jit_compile=jit_compile, reduce_retracing=True)
        self._eval_fn = tf.function(self._evaluate, reduce_retracing=True)

    # ------------------------------------------------------------------ training
    def train_epoch(
        self, x: tf.Tensor, y: tf.Tensor, order: np.ndarray, start: int = 0, stop: int | None = None
    ) -> EpochSteps:
        """Run steps ``[start, stop)`` of an epoch whose sample order is ``order``.

        Step ``i`` trains on ``x[order[i*batch : (i+1)*batch]]`` (the last batch may be
        smaller). Accumulators and training metrics are reset when ``start == 0``.
        """
        n_steps = self.steps_per_epoch(len(order))
        stop = n_steps if stop is None else stop
        if start == 0:
            self.reset_epoch()
        out = self._train_fn(
            x, y, tf.constant(order, dtype=tf.int32), tf.constant(start, tf.int32), tf.constant(stop, tf.int32)
        )
        return EpochSteps(*(t.numpy() for t in out))

    def train_epoch_dataset(self, dataset: tf.data.Dataset) -> EpochSteps:
        """Run one epoch over a ``tf.data.Dataset`` of ``(x, y)`` batches (large data)."""
        self.reset_epoch()
        if not hasattr(self, "_dataset_fn"):
            self._dataset_fn = tf.function(self._train_dataset, reduce_retracing=True)
        return EpochSteps(*(t.numpy() for t in self._dataset_fn(dataset)))

    def steps_per_epoch(self, n_samples: int) -> int:
        return -(-int(n_samples) // self.batch_size)

    def reset_epoch(self) -> None:
        k = len(self.members)
        self._loss_sum.assign(tf.zeros([k]))
        self._seen.assign(0.0)
        self._steps.assign(0.0)
        self._norm_sum.assign(tf.zeros([k]))
        self._norm_max.assign(tf.zeros([k]))
        for v in self._layer_norm_sum:
            v.assign(tf.zeros_like(v))
        for member in self.members:
            for metric in member.metrics:
                metric.reset_state()

    def train_logs(self) -> list[dict[str, float]]:
        """Per member: mean loss and metrics over the epoch so far, mean and max gradient norm."""
        seen = max(float(self._seen.numpy()), 1.0)
        steps = max(float(self._steps.numpy()), 1.0)
        loss_sum, norm_sum, norm_max = self._loss_sum.numpy(), self._norm_sum.numpy(), self._norm_max.numpy()
        logs = []
        for k, member in enumerate(self.members):
            row = {"loss": float(loss_sum[k] / seen)}
            row.update({m.name: float(m.result()) for m in member.metrics})
            row["grad_norm"] = float(norm_sum[k] / steps)
            row["grad_norm_max"] = float(norm_max[k])
            logs.append(row)
        return logs

    def layer_grad_norms(self) -> list[dict[str, float]]:
        """Per member: each layer's gradient norm, averaged over the epoch's steps."""
        steps = max(float(self._steps.numpy()), 1.0)
        return [
            {layer: float(s) / steps for (layer, _), s in zip(groups, sums.numpy())}
            for groups, sums in zip(self._groups, self._layer_norm_sum)
        ]

    def _train_steps(self, x, y, order, start, stop):
        n = tf.shape(order)[0]
        losses = tf.TensorArray(tf.float32, size=stop - start)
        norms = tf.TensorArray(tf.float32, size=stop - start)
        lrs = tf.TensorArray(tf.float32, size=stop - start)
        for step in tf.range(start, stop):
            lo = step * self.batch_size
            idx = order[lo : tf.minimum(lo + self.batch_size, n)]
            loss, norm, lr = self._step(tf.gather(x, idx), tf.gather(y, idx))
            losses = losses.write(step - start, loss)
            norms = norms.write(step - start, norm)
            lrs = lrs.write(step - start, lr)
        return losses.stack(), norms.stack(), lrs.stack()

    def _train_dataset(self, dataset):
        losses = tf.TensorArray(tf.float32, size=0, dynamic_size=True)
        norms = tf.TensorArray(tf.float32, size=0, dynamic_size=True)
        lrs = tf.TensorArray(tf.float32, size=0, dynamic_size=True)
        i = tf.constant(0)
        for xb, yb in dataset:
            loss, norm, lr = self._step(xb, yb)
            losses = losses.write(i, loss)
            norms = norms.write(i, norm)
            lrs = lrs.write(i, lr)
            i += 1
        return losses.stack(), norms.stack(), lrs.stack()

    def _step(self, xb, yb):
        """One optimizer step for every member; returns ``[K]`` loss, grad norm, lr."""
        if not self._distributed:
            return self._replica_step(xb, yb)
        out = self.strategy.run(self._replica_step, args=(xb, yb))
        return tuple(self.strategy.experimental_local_results(t)[0] for t in out)

    def _replica_step(self, xb, yb):
        batch = tf.cast(tf.shape(xb)[0], tf.float32)
        losses, norms, lrs = [], [], []
        for k, member in enumerate(self.members):
            if len(self.members) == 1:
                loss, norm, lr = self._member_step(k, member, xb, yb)
            else:
                loss, norm, lr = tf.cond(
                    self.active[k],
                    lambda k=k, member=member: self._member_step(k, member, xb, yb),
                    lambda: (tf.constant(np.nan, tf.float32), tf.constant(np.nan, tf.float32),
                             tf.constant(np.nan, tf.float32)),
                )
            losses.append(loss)
            norms.append(norm)
            lrs.append(lr)
        losses, norms = tf.stack(losses), tf.stack(norms)
        # Frozen members report NaN for the step; keep them out of the sums (a real NaN stays visible).
        self._loss_sum.assign_add(tf.where(self.active, losses, 0.0) * batch)
        self._seen.assign_add(batch)
        self._steps.assign_add(1.0)
        active_norms = tf.where(self.active, norms, 0.0)
        self._norm_sum.assign_add(active_norms)
        self._norm_max.assign(tf.maximum(self._norm_max, active_norms))
        return losses, norms, tf.stack(lrs)

    def _member_step(self, k, member, xb, yb):
        model = member.model
        with tf.GradientTape() as tape:
            pred = model(xb, training=True)
            loss = member.loss(yb, pred)
            if model.losses:
                loss = loss + tf.add_n(model.losses)
        variables = model.trainable_variables
        grads = tape.gradient(loss, variables)
        squares = [tf.reduce_sum(tf.square(g)) for g in grads]
        self._layer_norm_sum[k].assign_add(
            tf.sqrt(tf.stack([tf.add_n([squares[i] for i in idx]) for _, idx in self._groups[k]]))
        )
        norm = tf.sqrt(tf.add_n(squares))
        lr = tf.cast(member.optimizer.learning_rate, tf.float32)
        member.optimizer.apply(grads, variables)
        for metric in member.metrics:
            metric.update_state(yb, pred)
        return tf.cast(loss, tf.float32), norm, lr

    # ---------------------------------------------------------------- evaluation
    def evaluate(self, x: tf.Tensor, y: tf.Tensor) -> list[dict[str, float]]:
        """Loss (with regularization, as Keras reports it) and metrics of every member on ``(x, y)``."""
        for member in self.members:
            for metric in member.val_metrics:
                metric.reset_state()
        losses = self._eval_fn(x, y).numpy()
        return [
            {"loss": float(losses[k]), **{m.name: float(m.result()) for m in member.val_metrics}}
            for k, member in enumerate(self.members)
        ]

    def _evaluate(self, x, y):
        n = tf.shape(x)[0]
        k = len(self.members)
        total = tf.zeros([k])
        for start in tf.range(0, n, self.eval_batch_size):
            xb = x[start : start + self.eval_batch_size]
            yb = y[start : start + self.eval_batch_size]
            batch = tf.cast(tf.shape(xb)[0], tf.float32)
            batch_losses = []
            for member in self.members:
                pred = member.model(xb, training=False)
                batch_losses.append(tf.cast(member.loss(yb, pred), tf.float32) * batch)
                for metric in member.val_metrics:
                    metric.update_state(yb, pred)
            total += tf.stack(batch_losses)
        mean = total / tf.cast(n, tf.float32)
        penalties = tf.stack([
            tf.cast(tf.add_n(m.model.losses), tf.float32) if m.model.losses else tf.constant(0.0)
            for m in self.members
        ])
        return mean + penalties
