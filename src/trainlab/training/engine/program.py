"""How the engine calls its compiled programs."""

from __future__ import annotations

import tensorflow as tf

# What the compiled loops call is built as written, not rewritten by AutoGraph: only the loops over
# steps and batches need it. Keras 3's own trainer does the same (its step is ``do_not_convert``),
# so models, losses and schedules behave here as they do in ``fit``; and converting Keras' code
# cost about half of each program's tracing.
plain = tf.autograph.experimental.do_not_convert


class Program:
    """A ``tf.function`` called through the concrete function it traced for the arguments' types.

    Calling a ``tf.function`` looks its program up anew on every call, by a key that holds the type
    of every variable the program captures, hashed each time: for fused models with many variables,
    as much Python as some of these programs take to run, three calls an epoch (docs/performance.md).
    The concrete function is looked up once per argument signature (the tensors'
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
        key = signature(args)
        concrete = self._concrete.get(key) if key is not None else None
        if concrete is not None:
            return concrete(*args)
        out = self.function(*args)
        if key is not None:
            self._concrete[key] = self.function.get_concrete_function(*args)
        return out


def signature(value):
    """What picks a traced program for ``value``: dtypes and shapes of tensors, Python ints, bools and strings by
    type and value, nested lists, tuples and dicts of named inputs; None for anything else (a float: NaN is not
    equal to itself)."""
    if isinstance(value, tf.Tensor):
        return value.dtype, tuple(value.shape)
    if value is None or isinstance(value, (bool, int, str)):
        return type(value), value
    if isinstance(value, (list, tuple)):
        parts = tuple(signature(v) for v in value)
        return None if any(p is None for p in parts) else (type(value), parts)
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):  # named inputs
        parts = tuple((k, signature(value[k])) for k in sorted(value))
        return None if any(p is None for _, p in parts) else (dict, parts)
    return None

