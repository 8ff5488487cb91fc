"""Evaluation: every member's loss and metrics on a split, in one compiled pass for all."""

from __future__ import annotations

from collections.abc import Sequence

import tensorflow as tf

from trainlab.training.engine.batches import first, unpack
from trainlab.training.engine.probes import layer_activation_stats
from trainlab.training.engine.program import plain


class EngineEvaluation:
    """The evaluating part of :class:`~trainlab.training.engine.Engine`."""

    def evaluate(self, x: tf.Tensor, y: tf.Tensor, sample_weight: tf.Tensor | None = None) -> list[dict[str, float]]:
        """Loss (with regularization, as Keras reports it) and metrics of every member on ``(x, y)``.

        With ``sample_weight`` (``[N]``), each sample's loss and metrics are weighted as Keras'
        ``evaluate(x, y, sample_weight=...)`` weighs them. ``x`` may be a structure of tensors.
        """
        split = (x, y) if sample_weight is None else (x, y, sample_weight)
        # One program for every split and sample count: traced with the batch dimension left open.
        if all(isinstance(t, tf.Tensor) for t in split):
            key = tuple((tuple(t.shape[1:]), t.dtype) for t in split)
        else:  # named inputs
            key = repr(tf.nest.map_structure(lambda t: (tuple(t.shape[1:]), t.dtype.name), split))
        program = self._eval_programs.get(key)
        if program is None:
            program = self._eval_programs[key] = self._eval_fn.get_concrete_function(
                *tf.nest.map_structure(lambda t: tf.TensorSpec([None, *t.shape[1:]], t.dtype), split))
        return self._eval_dicts(*program(*split))

    def evaluate_dataset(self, dataset: tf.data.Dataset) -> list[dict[str, float]]:
        """:meth:`evaluate` over a ``tf.data.Dataset`` of ``(x, y)`` or ``(x, y, sample_weight)`` batches."""
        return self._eval_dicts(*self._eval_dataset_fn(dataset))

    def can_probe_in_eval(self, rows: int) -> bool:
        """Whether :meth:`evaluate_splits` can read ``rows`` samples' activations off an evaluation's first batch."""
        return (0 < rows <= self.eval_batch_size and not self._distributed
                and all(probe is None or probe[2] for probe in self._probes()))

    def evaluate_splits(
        self, splits: Sequence[tuple[tf.Tensor, ...]], probe_rows: int = 0
    ) -> tuple[list[list[dict[str, float]]], list[dict[str, dict[str, float]]] | None]:
        """:meth:`evaluate` of each split (``(x, y)`` or ``(x, y, sample_weight)``), in one compiled call; with
        ``probe_rows``, also :meth:`activation_stats` of the last split's first ``probe_rows`` samples, read off
        that split's own forward pass.

        What an epoch ends with (validation, the train-eval sample, the activation probe) costs one
        call and no inference pass of the probe's own. The
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

    def _evaluate(self, *split):
        (result,), _ = self._evaluate_splits([split], 0)
        return result

    def _evaluate_dataset(self, dataset):
        self._reset_metrics("val_metrics")
        total, n = tf.zeros([len(self.members)]), tf.constant(0.0)
        for batch in dataset:
            xb, yb, wb = unpack(batch)
            total += self._eval_batch(xb, yb, wb=wb)
            n += tf.cast(tf.shape(first(xb))[0], tf.float32)
        return self._eval_result(total, n)

    def _evaluate_splits(self, splits, probe_rows):
        results, stats = [], None
        step = self.eval_batch_size
        for i, split in enumerate(splits):
            x, y, w = unpack(split)

            def rows(lo, hi, x=x, y=y, w=w):  # samples [lo, hi) of the split
                return (tf.nest.map_structure(lambda t: t[lo:hi], x), y[lo:hi], None if w is None else w[lo:hi])

            self._reset_metrics("val_metrics")  # after the previous split's results were read (program order)
            xb, yb, wb = rows(None, step)
            if probe_rows and i == len(splits) - 1:
                total, stats = self._eval_batch(xb, yb, probe_rows, wb)
            else:
                total = self._eval_batch(xb, yb, wb=wb)
            n = tf.shape(first(x))[0]
            size = first(x).shape[0]
            if size is None or size > step:  # the other batches, unless the traced shape says none

                def more(start, total, rows=rows):
                    xb, yb, wb = rows(start, start + step)
                    return start + step, total + self._eval_batch(xb, yb, wb=wb)

                _, total = tf.while_loop(lambda start, _, n=n: start < n, more, (tf.constant(step), total))
            results.append(self._eval_result(total, tf.cast(n, tf.float32)))
        return results, stats

    @plain
    def _eval_batch(self, xb, yb, rows=None, wb=None):
        """Every member's summed loss on one batch (each sample's loss times its weight ``wb``, when given);
        updates the validation metrics. With ``rows``, also each member's activation statistics of the batch's
        first ``rows`` samples, read off the same forward pass."""
        batch = tf.cast(tf.shape(first(xb))[0], tf.float32)
        losses, stats = [], []
        for member, probe in zip(self.members, self._probes() if rows else [None] * len(self.members)):
            if probe is None:
                pred = member.model(xb, training=False)
                stats.append(tf.zeros([0]))
            else:
                model, layers, _ = probe
                *outputs, pred = model(xb, training=False)
                stats.append(layer_activation_stats(layers, [out[:rows] for out in outputs]))
            # Keras' mean-reduced loss divides the weighted sum by the batch size, not by the weights' sum.
            loss = member.loss(yb, pred) if wb is None else member.loss(yb, pred, sample_weight=wb)
            losses.append(tf.cast(loss, tf.float32) * batch)
            for metric in member.val_metrics:
                if wb is None:
                    metric.update_state(yb, pred)
                else:
                    metric.update_state(yb, pred, sample_weight=wb)
        return (tf.stack(losses), stats) if rows else tf.stack(losses)

    @plain
    def _eval_result(self, total, n):
        # Keras adds the regularization penalty to each batch's loss; its mean is the penalty itself.
        penalties = tf.stack([
            tf.add_n([tf.cast(p, tf.float32) for p in m.model.losses]) if m.model.losses else tf.constant(0.0)
            for m in self.members
        ])
        return total / tf.maximum(n, 1.0) + penalties, self._metric_results("val_metrics")

