"""Preparing a run: a recipe checked and loaded, its ``auto`` choices resolved, its pieces built.

Everything between the recipe and the engine: the component checks (before any data is loaded
or any run directory made), TensorFlow's thread pools and a multi-worker run's cluster (before
TensorFlow starts), the seeds, the ``auto`` choices resolved against the data, the model, the
member (optimizer, loss, metrics), and the data as the engine takes it (tensors, the fixed
samples of the activation probe and of the train-eval pass).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from trainlab import callbacks, data as tl_data, losses, metrics, models, optimizers, runtime
from trainlab.config import Recipe
from trainlab.config import load_recipe as load_valid_recipe
from trainlab.errors import TrainlabError
from trainlab.keras_names import check_keras_name
from trainlab.training import distribute
from trainlab.training.engine import Member, steps_per_epoch


def load_recipe(
    recipe: str | Path | Mapping[str, Any] | Recipe | None = None,
    overrides: Mapping[str, Any] | Iterable[str] | None = None,
    *,
    connect: bool = False,
) -> tuple[Recipe, Path | None, str]:
    """Load, validate and check a recipe for training (:func:`trainlab.config.load_recipe`, then more).

    After the recipe validates, ``training.threads`` sets TensorFlow's thread pools; with
    ``connect`` (training does; ``trainlab check`` does not), a recipe with
    ``training.distribute: multi_worker`` joins its cluster. Both before anything starts
    TensorFlow's runtime, which the component checks do last (:func:`check_components`).

    Returns:
        ``(recipe, base_dir, name)`` as :func:`trainlab.config.load_recipe` returns them.

    Raises:
        TrainlabError: any problem, worded ``<file or key>: <rule>, got <value>``.

    Example:
        >>> recipe, base_dir, name = load_recipe("examples/basic.yaml", ["training.epochs=5"])
    """
    validated, base_dir, name = load_valid_recipe(recipe, overrides)
    if validated.training.threads is not None:
        runtime.apply_threads(validated.training.threads)  # before check_components starts TensorFlow's runtime
    if connect and validated.training.distribute == "multi_worker":
        distribute.place(validated.training)  # likewise; waits for the other workers (distribute_timeout_s)
    check_components(validated)
    return validated, base_dir, name


def check_components(recipe: Recipe) -> None:
    """Check every named component, its arguments and their values, before any data is loaded.

    Losses, optimizers (with their learning-rate schedule) and callbacks are built
    once and dropped: building runs each factory's own checks, so ``trainlab check``
    reports ``optimizer.learning_rate.decay_steps: must be > 0, got 0`` as
    ``trainlab run`` would, and a run fails before it creates its run directory.

    Raises:
        TrainlabError: an unknown name or argument, or a value its component rejects.
    """
    if recipe.loss != "auto":
        losses.build(recipe.loss, where="loss")
    models.registry.canonical(recipe.model.name, "model.name")
    keys = recipe.model.builder_arguments()  # the chosen model's keys only
    if isinstance(keys.get("activation"), str):
        check_keras_name(keras.activations, keys["activation"], "model.activation", "activation")
    if isinstance(keys.get("kernel_initializer"), str):
        check_keras_name(keras.initializers, keys["kernel_initializer"], "model.kernel_initializer", "initializer")
    optimizers.build(recipe.optimizer.spec(), where="optimizer")
    for i, item in enumerate(recipe.training.callbacks):
        # No run directory yet: file arguments stay relative and nothing is written.
        callbacks.build(item, None, where=f"training.callbacks[{i}]")
    if recipe.metrics != "auto":
        for i, name in enumerate(recipe.metrics):
            metrics.check_name(name, f"metrics[{i}]")


def seed_everything(seed: int, deterministic: bool = False) -> None:
    """Seed Python, NumPy, TensorFlow and Keras; optionally turn on op determinism."""
    keras.utils.set_random_seed(seed)
    if deterministic:
        tf.config.experimental.enable_op_determinism()


def resolve(recipe: Recipe, data: Any, model: keras.Model | None = None) -> Recipe:
    """Fill the ``auto`` choices (loss, metrics, output) from the data and check they fit.

    Raises:
        TrainlabError: the labels do not fit the loss (e.g. three classes with binary cross-entropy).
    """
    task = data.task
    loss = recipe.loss
    if loss == "auto":
        loss = {"binary": "binary_crossentropy", "multiclass": "sparse_categorical_crossentropy"}.get(task, "mse")
    traits = losses.traits(loss)
    check_task(traits, data)
    output = check_output(recipe.model.output, traits) if model is None else recipe.model.output
    names = metrics.auto("regression" if traits.labels == "real" else task) if recipe.metrics == "auto" \
        else list(recipe.metrics)
    for i, name in enumerate(names):  # fail early on a bad name, before any training
        metrics.build(name, traits.labels, traits.from_logits, where=f"metrics[{i}]")
    return recipe.model_copy(
        update={"loss": loss, "metrics": names, "model": recipe.model.model_copy(update={"output": output})}
    )


def check_output(output: str, traits: Any) -> str:
    """The output layer for the loss: ``auto`` resolved, a mismatch fixed (with a warning) or refused.

    Raises:
        TrainlabError: an output the loss cannot read (softmax over binary cross-entropy's
            single unit, sigmoid under a multi-class loss, logits under a loss that reads probabilities).
    """
    wanted = models.output_for(traits.labels, traits.from_logits)
    if output in ("auto", wanted):
        return wanted
    if traits.from_logits and output in ("sigmoid", "softmax"):
        warnings.warn(
            f"model.output is {output!r} but the loss reads logits (from_logits: true); "
            "using a linear 'logits' output instead", stacklevel=3,
        )
        return "logits"
    if traits.labels == "real" and output in ("linear", "sigmoid", "logits"):
        return output  # a bounded regression target may use a sigmoid
    reason = (
        f"{traits.name} reads probabilities; use {wanted!r} or set the loss's from_logits: true"
        if output == "logits" else f"{traits.name} needs a {wanted!r} output"
    )
    raise TrainlabError("model.output", reason, output)


def check_task(traits: Any, data: Any) -> None:
    """Raise if the data's task does not fit the loss."""
    name = traits.name if hasattr(traits, "name") else "the loss"
    source = getattr(data, "source", "data")
    if data.task == "regression" and traits.task != "regression":
        raise TrainlabError(
            "loss", f"a classification loss, but data.source {source!r} has a regression target;"
            " use a regression loss (mse, mae, huber, msle)", name,
        )
    if data.task == "multiclass" and traits.labels == "binary":
        raise TrainlabError(
            "loss", f"needs 2 classes but data.source {source!r} has {data.n_classes} classes;"
            " use sparse_categorical_crossentropy", name,
        )


def build_model(recipe: Recipe, data: Any) -> keras.Model:
    """Build the recipe's model for the data's sample shape, dtype and task.

    Raises:
        TrainlabError: data the model cannot read (``model: cnn needs images (N, H, W, C), got
            float32 data of shape (N, 64)``), or a key value its builder refuses.
    """
    labels = losses.traits(recipe.loss).labels
    # The loss decides the output width: one sigmoid unit for binary cross-entropy, one unit
    # per class for the categorical losses (also on two-class data), the targets for regression.
    if labels == "binary":
        n_outputs = 1
    elif labels in ("sparse", "onehot"):
        n_outputs = data.n_classes
    else:
        n_outputs = data.n_outputs if data.task == "regression" else 1
    spec = {"name": recipe.model.name, **recipe.model.builder_arguments()}
    # Data without a sample shape (a flat table) has one axis of n_features.
    input_shape = getattr(data, "input_shape", None) or (data.n_features,)
    return models.build(
        spec, where="model", input_shape=tuple(int(d) for d in input_shape), n_outputs=int(n_outputs),
        input_dtype=str(getattr(data, "input_dtype", "float32")), vocab_size=getattr(data, "vocab_size", None),
    )


def build_member(
    model: keras.Model, recipe: Recipe, traits: Any, sample: tuple[tf.Tensor, tf.Tensor],
    steps_per_epoch: int | None = None,
) -> Member:
    """Build the optimizer, loss and metrics for ``model`` and compile it.

    Compiling makes the trained model usable as is (``evaluate``, ``save``); building the
    compiled metrics on a two-sample batch lets stock callbacks (EarlyStopping,
    ModelCheckpoint, ...) infer whether a metric is maximized, as they do under ``fit``.
    """
    optimizer = optimizers.build(recipe.optimizer.spec(), where="optimizer", steps_per_epoch=steps_per_epoch)
    loss = losses.build(recipe.loss, where="loss")
    names = list(recipe.metrics)
    train_metrics = [metrics.build(n, traits.labels, traits.from_logits) for n in names]
    val_metrics = [metrics.build(n, traits.labels, traits.from_logits) for n in names]
    model.compile(
        optimizer=optimizer, loss=loss,
        metrics=[metrics.build(n, traits.labels, traits.from_logits) for n in names],
    )
    x, y = sample
    model.compute_metrics(x[:2], y[:2], model(x[:2]), sample_weight=None)
    model.reset_metrics()
    return Member(model, optimizer, loss, train_metrics, val_metrics)



PROBE_SAMPLES = 256  # training samples the activation probe (dead / saturated units) looks at


def subset(n: int, seed: int, size: int) -> np.ndarray:
    """A fixed random subset of ``size`` of ``n`` indices, sorted (all of them when fewer)."""
    return np.arange(n) if n <= size else np.sort(np.random.default_rng(seed).choice(n, size, replace=False))


def probe_sample(sample: tuple[tf.Tensor, tf.Tensor], seed: int, size: int) -> tuple[tf.Tensor, tf.Tensor]:
    """A fixed random subset of ``size`` training samples (all of them when fewer), the same every epoch."""
    x, y = sample
    n = int(x.shape[0])
    if n <= size:
        return x, y
    idx = subset(n, seed, size)
    return tf.gather(x, idx), tf.gather(y, idx)


def train_eval_sample(
    sample: tuple[tf.Tensor, tf.Tensor], seed: int, size: int, probe: int
) -> tuple[tuple[tf.Tensor, tf.Tensor], tuple[tf.Tensor, tf.Tensor]]:
    """The train-eval sample (a fixed random subset of ``size`` training samples, all of them when fewer) and
    the activation probe's, which is its head: ``probe`` of its samples drawn as :func:`probe_sample` draws
    them (the same samples, when the training set is no larger than ``size``), then the rest. One inference
    pass over the sample then gives both (:meth:`Engine.evaluate_splits`)."""
    x, y = sample
    rows = subset(int(x.shape[0]), seed, size)
    head = subset(len(rows), seed, probe)
    order = rows[np.concatenate([head, np.setdiff1d(np.arange(len(rows)), head)])]
    xs, ys = tf.gather(x, order), tf.gather(y, order)
    return (xs, ys), (xs[: len(head)], ys[: len(head)])


def label_fn(labels: str, n_classes: int | None):
    """The per-element map that puts a stream's targets in the form the loss expects."""

    def fix(x, y):
        x = tf.cast(x, tf.float32)
        if labels == "sparse":
            return x, tf.cast(y, tf.int32)
        if labels == "onehot":
            return x, tf.one_hot(tf.cast(y, tf.int32), int(n_classes))
        return x, tf.reshape(tf.cast(y, tf.float32), [-1])

    return fix


def tensors(x: np.ndarray, y: np.ndarray, labels: str, n_classes: int | None) -> tuple[tf.Tensor, tf.Tensor]:
    """Arrays in the form the loss expects: column vectors, integer labels, or one-hot rows."""
    y = np.asarray(y)
    if labels == "sparse":
        y = y.astype(np.int32)
    elif labels == "onehot":
        y = np.eye(int(n_classes), dtype=np.float32)[y.astype(np.int64)]
    else:
        y = y.astype(np.float32).reshape(len(y), -1)
    x = np.asarray(x)
    return tf.constant(x if x.dtype == np.int32 else x.astype(np.float32, copy=False)), tf.constant(y)



@dataclass
class Inputs:
    """A run's data as the engine takes it.

    Attributes:
        splits: ``{"train": ..., "val": ..., "test": ...}``: ``(x, y)`` tensors, or ``tf.data``
            datasets of single samples for streamed data (splits the data lacks are left out).
        sample: the training samples the member's metrics are built on (a stream's first batch).
        train_eval: the train-eval sample (None when off, or for a stream).
        probe: the activation probe's samples.
    """

    splits: dict[str, Any]
    sample: tuple[tf.Tensor, tf.Tensor]
    train_eval: tuple[tf.Tensor, tf.Tensor] | None
    probe: tuple[tf.Tensor, tf.Tensor]


def inputs(data: Any, labels: str, data_seed: int, train_eval_samples: int) -> Inputs:
    """The data in the form the loss expects (``labels``: the loss's label kind), with the fixed samples.

    Args:
        data: :class:`trainlab.data.Splits` or :class:`trainlab.data.Streams`.
        labels: ``binary``, ``sparse``, ``onehot`` or ``real`` (see :func:`trainlab.losses.traits`).
        data_seed: the seed the fixed samples are drawn with.
        train_eval_samples: ``training.train_eval_samples`` (0: no train-eval sample).
    """
    if isinstance(data, tl_data.Streams):
        fix = label_fn(labels, data.n_classes)
        splits = {
            split: ds.map(fix, num_parallel_calls=tf.data.AUTOTUNE)
            for split, ds in (("train", data.train), ("val", data.val), ("test", data.test))
            if ds is not None
        }
        sample = next(iter(splits["train"].batch(PROBE_SAMPLES)))
        return Inputs(splits, sample, None, probe_sample(sample, data_seed, PROBE_SAMPLES))
    splits = {
        split: tensors(x, y, labels, data.n_classes)
        for split, x, y in (
            ("train", data.x_train, data.y_train),
            ("val", data.x_val, data.y_val),
            ("test", data.x_test, data.y_test),
        )
        if x is not None and len(x)
    }
    sample = splits["train"]
    if train_eval_samples:
        train_eval, probe = train_eval_sample(sample, data_seed, train_eval_samples, PROBE_SAMPLES)
        return Inputs(splits, sample, train_eval, probe)
    return Inputs(splits, sample, None, probe_sample(sample, data_seed, PROBE_SAMPLES))


def epoch_steps(data: Any, inputs: Inputs, batch_size: int) -> int | None:
    """Optimizer steps per epoch of ``data`` (None for a stream of unknown length)."""
    streamed = isinstance(data, tl_data.Streams)
    n = len(data.x_train) if not streamed else int(inputs.splits["train"].cardinality())
    return steps_per_epoch(n, batch_size) if n >= 0 else None
