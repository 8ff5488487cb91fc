"""Probes: what the engine reads off its members without training them (activations, gradients)."""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np
import tensorflow as tf

from trainlab.training.engine.member import record_names
from trainlab.training.engine.program import Program, plain


class EngineProbes:
    """The probing part of :class:`~trainlab.training.engine.Engine`."""

    def activation_stats(self, x: tf.Tensor) -> list[dict[str, dict[str, float]]]:
        """Per member, for each layer with a relu, sigmoid or tanh activation, on ``x`` in inference mode.

        ``dead_fraction`` (relu): the share of units that output zero for every sample of ``x``.
        ``saturated_fraction`` (sigmoid / tanh): the share of outputs in the flat tails, where the
        derivative is below 2% of its peak (sigmoid outside [0.01, 0.99]; |tanh| above 0.99).
        Models whose layers cannot be probed (subclassed models) give an empty dict.
        """
        if self._probe_fn is None:
            self._probe_fn = Program(tf.function(self._probe, reduce_retracing=True, autograph=False))
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

    @plain
    def _probe(self, x):
        results = []
        for probe in self._probes():
            if probe is None:
                results.append(tf.zeros([0]))
                continue
            model, layers, with_output = probe
            outputs = model(x, training=False)
            outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
            results.append(layer_activation_stats(layers, outputs[:-1] if with_output else outputs))
        return results

    def gradients(
        self, x: tf.Tensor, y: tf.Tensor, sample_weight: tf.Tensor | None = None
    ) -> list[dict[str, np.ndarray]]:
        """Per member: each trainable variable's gradient (by path) on ``(x, y)`` (each sample's loss weighted by
        ``sample_weight``, when given), in inference mode.

        Nothing is updated (no optimizer step, no batch-norm statistics): this is a probe for
        gradient histograms, not a training step.
        """
        if self._grad_fn is None:
            self._grad_fn = Program(tf.function(self._gradients, reduce_retracing=True, autograph=False))
        grads = self._grad_fn(x, y) if sample_weight is None else self._grad_fn(x, y, sample_weight)
        return [
            {v.path: g.numpy() for v, g in zip(m.model.trainable_variables, member_grads)}
            for m, member_grads in zip(self.members, grads)
        ]

    def _gradients(self, x, y, w=None):
        out = []
        for member in self.members:
            # Dynamic loss scaling, as in training: unscaled, a mixed_float16 model's small gradients underflow.
            dynamic = isinstance(member.optimizer, keras.optimizers.LossScaleOptimizer)
            scale = member.optimizer.dynamic_scale if dynamic else None
            with tf.GradientTape() as tape:
                pred = member.model(x, training=False)
                loss = member.loss(y, pred) if w is None else member.loss(y, pred, sample_weight=w)
                scaled = loss if scale is None else loss * tf.cast(scale, loss.dtype)
            grads = tape.gradient(scaled, member.model.trainable_variables)
            out.append(grads if scale is None else [g / tf.cast(scale, g.dtype) for g in grads])
        return out


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
        # Some layers' outputs are not in the model's graph (an RNN's cell, a layer inside a nested model or
        # a wrapper): probe the others. None when no output can be reached (a subclassed model).
        layers = [(layer, kind) for layer, kind in layers if _reachable(model, layer)]
        if not layers:
            return None
        probe = keras.Model(model.inputs, [*(layer.output for layer, _ in layers), *tail])
    names = {id(layer): name for layer, name in record_names(model)}
    return probe, [(names.get(id(layer), layer.name), kind) for layer, kind in layers], bool(tail)


def _reachable(model: keras.Model, layer: keras.layers.Layer) -> bool:
    """Whether ``layer``'s output is a tensor of ``model``'s own graph."""
    try:
        keras.Model(model.inputs, layer.output)
    except (AttributeError, ValueError, TypeError):
        return False
    return True


def layer_activation_stats(layers: list[tuple[str, str]], outputs: Sequence[tf.Tensor]) -> tf.Tensor:
    """Each probed layer's statistic (see :meth:`Engine.activation_stats`) from its outputs, ``[layers]``.

    A unit of a layer whose outputs have more axes than ``(samples, units)`` (a convolution's
    ``(samples, height, width, channels)``, a sequence's ``(samples, steps, units)``) is a
    channel, the last axis: it is dead when it is zero at every position of every sample, as
    the same filter (or the same weights, step after step) computes every position.
    """
    stats = []
    for (_, kind), out in zip(layers, outputs):
        out = tf.cast(out, tf.float32)
        if kind == "dead":
            units = tf.reshape(out, [-1, tf.shape(out)[-1]]) if out.shape.rank and out.shape.rank >= 2 \
                else tf.reshape(out, [tf.shape(out)[0], -1])
            stats.append(tf.reduce_mean(tf.cast(tf.reduce_all(units <= 0.0, axis=0), tf.float32)))
            continue
        flat = tf.reshape(out, [tf.shape(out)[0], -1])
        if kind == "saturated_sigmoid":
            stats.append(tf.reduce_mean(tf.cast((flat < 0.01) | (flat > 0.99), tf.float32)))
        else:
            stats.append(tf.reduce_mean(tf.cast(tf.abs(flat) > 0.99, tf.float32)))
    return tf.stack(stats)
