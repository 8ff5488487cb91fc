"""Hyper-parameters held in variables: runs that differ only there train in one traced program.

A traced program reads a Python number as a constant: a model's dropout rate or an optimizer's
momentum is part of the program, and another value needs another trace. What an engine holds in
variables instead can change between the runs it trains (:meth:`Engine.restart`) with no new tracing,
which is how a search trains population after population in the programs it traced once:

- the learning rate, when it is a number: Keras keeps it in a variable already (``optimizer.learning_rate``);
- the rate of each Keras ``Dropout`` layer (with no ``noise_shape``): :func:`hold` makes the layer's draw
  read two variables, the rate and ``1 / (1 - rate)``, with the very operations that
  ``tf.nn.experimental.stateless_dropout`` runs when Keras calls it with a Python rate, so the masks and
  values are the same bit for bit (tested). The layer keeps its class and its ``rate`` (its config and a
  saved model are a plain Keras ``Dropout``'s).

Everything else (the architecture, the optimizer's kind and other settings, schedules, regularization
strengths, loss parameters) stays a constant of the program: :func:`program` is what two models must
share, and :func:`trainlab.training.cohort.same_program` what two recipes must.
"""

from __future__ import annotations

import types
from typing import Any

import keras
import tensorflow as tf

from trainlab.optimizers import unwrap

_VARIABLES = "_trainlab_held"  # a held layer's (rate, scale) variables; set past Keras' tracking: not model state


def holdable(layer: keras.layers.Layer) -> bool:
    """Whether ``layer``'s rate can be held: a Keras ``Dropout`` (the class itself), no noise shape, a rate in (0, 1).

    A rate of 0 is no layer in trainlab's models (and no draw in Keras'): another program, not another value.
    """
    return type(layer) is keras.layers.Dropout and layer.noise_shape is None and 0.0 < float(layer.rate) < 1.0


def dropout_layers(model: keras.Model) -> list[keras.layers.Dropout]:
    """``model``'s holdable dropout layers, nested models included, in the model's order."""
    return [layer for layer in model._flatten_layers(include_self=False) if holdable(layer)]


class Held:
    """One engine member's hyper-parameters held in variables: its dropout rates and its learning rate.

    Args:
        model: the member's model, before its programs are traced (its dropout layers are changed).
        optimizer: the member's optimizer.
    """

    def __init__(self, model: keras.Model, optimizer: keras.optimizers.Optimizer) -> None:
        self.layers = dropout_layers(model)
        for layer in self.layers:
            hold(layer)
        inner = unwrap(optimizer)
        self.optimizer = inner if isinstance(getattr(inner, "_learning_rate", None), keras.Variable) else None

    def assign(self, model: keras.Model, learning_rate: float | None) -> None:
        """Take another run's values: the rates of ``model``'s dropout layers (its own, unheld, the same
        layers), and ``learning_rate`` (a number: the run's; None: the member's stays).

        Raises:
            ValueError: ``model`` has another number of holdable dropout layers.
        """
        theirs = dropout_layers(model)
        if len(theirs) != len(self.layers):
            raise ValueError(f"the members' models differ: {len(theirs)} dropout layers, not {len(self.layers)}")
        for mine, other in zip(self.layers, theirs):
            set_rate(mine, float(other.rate))
        if learning_rate is not None and self.optimizer is not None:
            self.optimizer.learning_rate = float(learning_rate)


def hold(layer: keras.layers.Dropout) -> None:
    """Make ``layer`` draw its masks with its rate read from variables (see the module's docstring)."""
    if getattr(layer, _VARIABLES, None) is not None:
        return
    rate = tf.Variable(0.0, dtype=tf.float64, trainable=False, name="held_rate")
    scale = tf.Variable(1.0, dtype=tf.float64, trainable=False, name="held_scale")
    object.__setattr__(layer, _VARIABLES, (rate, scale))  # past Keras' tracking: not weights, not saved
    object.__setattr__(layer, "call", types.MethodType(_held_call, layer))
    set_rate(layer, float(layer.rate))


def set_rate(layer: keras.layers.Dropout, rate: float) -> None:
    """Give a held layer another rate: its variables, and its ``rate`` (its config, as a saved model shows it)."""
    layer.rate = rate
    held_rate, held_scale = getattr(layer, _VARIABLES)
    held_rate.assign(rate)
    held_scale.assign(1.0 / (1.0 - rate))  # in float64, as TensorFlow computes a Python rate's scale


def _held_call(self: keras.layers.Dropout, inputs: Any, training: bool = False) -> Any:
    """``keras.layers.Dropout.call`` with the rate read from variables: the operations of
    ``tf.nn.experimental.stateless_dropout`` (scale, uniform draw, keep where draw >= rate), the seed drawn
    from the layer's seed generator as Keras draws and casts it."""
    if not training:
        return inputs
    rate, scale = getattr(self, _VARIABLES)
    seed = self.seed_generator.next()
    if seed.dtype != tf.int32:  # Keras' cast of a seed generator's int64 state for the stateless ops
        seed = tf.cast(tf.math.floormod(seed, tf.int32.max - 1), tf.int32)
    dtype = inputs.dtype
    scaled = inputs * tf.cast(scale, dtype)
    draw = tf.random.stateless_uniform(tf.shape(inputs), seed=seed, dtype=dtype)
    return tf.where(draw >= tf.cast(rate, dtype), scaled, tf.zeros([], dtype))


def program(model: keras.Model) -> list[tuple[str, Any]]:
    """What of ``model`` a traced program holds as constants: each layer's class and config (not its name),
    the held dropout rates left out. Two models with the same program train in one traced program."""
    out: list[tuple[str, Any]] = []
    for layer in model._flatten_layers(include_self=False):
        config = {k: v for k, v in layer.get_config().items() if k != "name"} if not isinstance(
            layer, keras.Model) else {}
        if holdable(layer):
            config.pop("rate", None)
        out.append((type(layer).__name__, _plain(config)))
    return out


def _plain(value: Any) -> Any:
    """A layer config as plain data (nested configs and tuples as lists), for comparison."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
