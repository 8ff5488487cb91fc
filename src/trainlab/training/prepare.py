"""Preparing a run: a recipe checked and loaded, its ``auto`` choices resolved, its pieces built.

Everything between the recipe and the engine: the component checks (before any data is loaded
or any run directory made), TensorFlow's thread pools and a multi-worker run's cluster (before
TensorFlow starts), the seeds, the ``auto`` choices resolved against the data, the model, the
member (optimizer, loss, metrics), and the data as the engine takes it (tensors, the fixed
samples of the activation probe and of the train-eval pass).
"""

from __future__ import annotations

import random
import warnings
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf
from keras.src.utils import rng_utils  # keras.utils.set_random_seed's state, set without TensorFlow's seed (below)

from trainlab import callbacks, data as tl_data, losses, metrics, models, optimizers, runtime
from trainlab.config import Recipe
from trainlab.config import load_recipe as load_valid_recipe
from trainlab.config.recipe import PRECISIONS
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
        TrainlabError: an unknown name or argument, a value its component rejects, or two ways of
            accumulating gradients at once (``training.accumulate_grad_batches`` and the optimizer's own).
    """
    if recipe.loss != "auto":
        losses.build(recipe.loss, where="loss")
    models.registry.canonical(recipe.model.name, "model.name")
    keys = recipe.model.builder_arguments()  # the chosen model's keys only
    if isinstance(keys.get("activation"), str):
        check_keras_name(keras.activations, keys["activation"], "model.activation", "activation")
    if isinstance(keys.get("kernel_initializer"), str):
        check_keras_name(keras.initializers, keys["kernel_initializer"], "model.kernel_initializer", "initializer")
    optimizer = optimizers.build(recipe.optimizer.spec(), where="optimizer")
    if recipe.training.accumulate_grad_batches > 1 and optimizer.gradient_accumulation_steps:
        raise TrainlabError(
            "training.accumulate_grad_batches", "accumulates gradients over batches, as optimizer."
            "gradient_accumulation_steps (Keras' own) does; set one of them", recipe.training.accumulate_grad_batches,
        )
    for i, item in enumerate(recipe.training.callbacks):
        # No run directory yet: file arguments stay relative and nothing is written.
        callbacks.build(item, None, where=f"training.callbacks[{i}]")
    tl_data.augment.check(recipe.data.augment, jit_compile=recipe.training.jit_compile)
    if recipe.metrics != "auto":
        for i, name in enumerate(recipe.metrics):
            metrics.check_name(name, f"metrics[{i}]")


def build_augment(recipe: Recipe, data: Any) -> keras.layers.Layer | None:
    """The recipe's ``data.augment`` as one layer for the run's training batches, seeded by the run's seed
    (each run of a study augments its own way; a resumed run continues its stream). None: no augmentation.

    Raises:
        TrainlabError: an image augmentation on data that are not images, or on named (dict) inputs.
    """
    if not recipe.data.augment:
        return None
    shape = data.input_shape
    if isinstance(shape, Mapping):
        raise TrainlabError("data.augment", "works on one input; this data has named inputs", ", ".join(shape))
    return tl_data.augment.build(recipe.data.augment, tuple(shape), seed=recipe.seed,
                                 jit_compile=recipe.training.jit_compile)


def seed_everything(seed: int, deterministic: bool = False) -> None:
    """Seed Python, NumPy, TensorFlow and Keras (``keras.utils.set_random_seed``); optionally turn on op determinism.

    When TensorFlow's global seed is this seed already (the next run of a study or a search, in this
    process), it is left as it is: setting it also clears TensorFlow's caches of the programs it has
    prepared, so an engine that trains run after run would prepare its traced programs anew for each
    (measured: 2 s more for the first epoch of a fused engine of 8 members). Python's, NumPy's and Keras'
    generators are seeded anew as always; Keras' layers and trainlab's programs draw their random numbers
    from seeds of their own (stateless operations), not from TensorFlow's global seed. What is not reset
    then is TensorFlow's sequence of operation seeds: a TensorFlow random operation created without a seed
    of its own (in a model or data source of one's own) draws by what ran before it in the process.
    """
    if _tensorflow_seed() == seed:
        random.seed(seed)
        np.random.seed(seed)
        rng_utils.global_state.set_global_attribute(rng_utils.GLOBAL_RANDOM_SEED, seed)
        rng_utils.global_state.set_global_attribute(rng_utils.seed_generator.GLOBAL_SEED_GENERATOR, None)
    else:
        keras.utils.set_random_seed(seed)
    if deterministic:
        tf.config.experimental.enable_op_determinism()


def _tensorflow_seed() -> int | None:
    """TensorFlow's global seed (None when unset): read from its eager context, which has no public getter
    (``tf.compat.v1.get_seed`` draws an operation seed as it reads)."""
    from tensorflow.python.eager import context  # noqa: PLC0415 (the one reader of a private attribute)

    return context.global_seed() if tf.executing_eagerly() else None


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
    training = recipe.training
    if model is not None:
        training = training.model_copy(update={"precision": given_precision(recipe.training.precision, model)})
    return recipe.model_copy(update={
        "loss": loss, "metrics": names, "model": recipe.model.model_copy(update={"output": output}),
        "training": training,
    })


def given_precision(precision: str, model: keras.Model) -> str:
    """``training.precision`` for a model given from Python: the dtype policy it was built with, which is what it
    trains in (its layers keep the policy they were made under).

    The recipe's ``float32`` (the default) gives way to the model's ``mixed_float16`` or ``mixed_bfloat16``, so
    that the run's ``recipe.yaml`` says what trained; a mixed precision the model was not built with is refused.

    Raises:
        TrainlabError: ``training.precision`` asks for a mixed policy the model was not built with.
    """
    policy = model.dtype_policy.name
    if precision != "float32" and policy != precision:
        raise TrainlabError(
            "training.precision", f"a model given from Python trains in the dtype policy it was built with"
            f" ({policy}); build it under keras.config.set_dtype_policy({precision!r}), or leave the key out",
            precision,
        )
    return policy if policy in PRECISIONS else precision


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
    with dtype_policy(recipe.training.precision):  # each layer keeps the policy it is made under
        return models.build(
            spec, where="model", input_shape=tuple(int(d) for d in input_shape), n_outputs=int(n_outputs),
            input_dtype=str(getattr(data, "input_dtype", "float32")), vocab_size=getattr(data, "vocab_size", None),
        )


@contextmanager
def dtype_policy(name: str) -> Iterator[None]:
    """Keras' global dtype policy set to ``name`` inside the block and put back after it, so that a run's
    ``training.precision`` does not leak into the next (a study's runs may differ).

    Example:
        >>> with dtype_policy("mixed_float16"):
        ...     model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
        >>> model.layers[0].compute_dtype
        'float16'
    """
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(name)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def build_member(
    model: keras.Model, recipe: Recipe, traits: Any, sample: tuple,
    steps_per_epoch: int | None = None,
) -> Member:
    """Build the optimizer, loss and metrics for ``model`` and compile it.

    Compiling makes the trained model usable as is (``evaluate``, ``save``); building the
    compiled metrics on a two-sample batch lets stock callbacks (EarlyStopping,
    ModelCheckpoint, ...) infer whether a metric is maximized, as they do under ``fit``.
    The member trains with the optimizer compiling gives the model: for a ``mixed_float16``
    model, a ``keras.optimizers.LossScaleOptimizer`` around the recipe's (dynamic loss scaling).
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
    x, y = (tf.nest.map_structure(lambda t: t[:2], part) for part in sample[:2])  # x: maybe a dict of named inputs
    model.compute_metrics(x, y, model(x), sample_weight=None)
    model.reset_metrics()
    # compile wraps the optimizer of a mixed_float16 model in a LossScaleOptimizer: train with what it gives.
    return Member(model, model.optimizer, loss, train_metrics, val_metrics)



PROBE_SAMPLES = 256  # training samples the activation probe (dead / saturated units) looks at

# A split as the engine takes it: ``(x, y)``, or ``(x, y, sample_weight)`` when its samples are weighted.
# ``x`` is a tensor, or (streams) a structure of them: a dict of a multi-input model's named inputs.
Split = tuple


def subset(n: int, seed: int, size: int) -> np.ndarray:
    """A fixed random subset of ``size`` of ``n`` indices, sorted (all of them when fewer)."""
    return np.arange(n) if n <= size else np.sort(np.random.default_rng(seed).choice(n, size, replace=False))


def sample_count(split: Split) -> int:
    """How many samples a split of tensors holds."""
    return int(tf.nest.flatten(split[0])[0].shape[0])


def take(split: Split, idx: Any) -> Split:
    """Samples ``idx`` of every part of a split (its inputs, targets and weights)."""
    return tuple(tf.nest.map_structure(lambda t: tf.gather(t, idx), split))


def head(split: Split, n: int) -> Split:
    """A split's first ``n`` samples."""
    return tuple(tf.nest.map_structure(lambda t: t[:n], split))


def probe_sample(sample: Split, seed: int, size: int) -> Split:
    """A fixed random subset of ``size`` training samples (all of them when fewer), the same every epoch."""
    n = sample_count(sample)
    if n <= size:
        return sample
    return take(sample, subset(n, seed, size))


def train_eval_sample(sample: Split, seed: int, size: int, probe: int) -> tuple[Split, Split]:
    """The train-eval sample (a fixed random subset of ``size`` training samples, all of them when fewer) and
    the activation probe's, which is its head: ``probe`` of its samples drawn as :func:`probe_sample` draws
    them (the same samples, when the training set is no larger than ``size``), then the rest. One inference
    pass over the sample then gives both (:meth:`Engine.evaluate_splits`)."""
    rows = subset(sample_count(sample), seed, size)
    first = subset(len(rows), seed, probe)
    order = rows[np.concatenate([first, np.setdiff1d(np.arange(len(rows)), first)])]
    drawn = take(sample, order)
    return drawn, head(drawn, len(first))


def input_tensor(t: tf.Tensor) -> tf.Tensor:
    """A streamed input as the models take it: 32- and 64-bit integers stay integers (token ids, int32),
    anything else numeric is float32 (smaller integers are values: an image's uint8 pixels)."""
    if t.dtype in (tf.int32, tf.int64):
        return tf.cast(t, tf.int32)
    return tf.cast(t, tf.float32) if t.dtype.is_floating or t.dtype.is_integer or t.dtype.is_bool else t


def label_fn(labels: str, n_classes: int | None, batched: bool = False):
    """The map that puts a stream's elements in the form the loss expects.

    It takes ``(x, y)`` or ``(x, y, sample_weight)``, single samples or (``batched``) batches,
    and gives the same with the inputs as :func:`input_tensor` makes them, the targets as the
    loss reads them (integer codes, one-hot rows, or float columns) and float32 weights.
    """
    one = [-1] if batched else []  # one number per sample: a batch's vector, or a sample's scalar

    def fix(x, y, *w):
        x = tf.nest.map_structure(input_tensor, x)
        if labels in ("sparse", "onehot"):
            codes = tf.reshape(tf.cast(y, tf.int32), one)
            y = codes if labels == "sparse" else tf.one_hot(codes, int(n_classes))
        else:
            y = tf.cast(y, tf.float32)
            y = tf.reshape(y, [tf.shape(y)[0], -1]) if batched else tf.reshape(y, [-1])
        if not w:
            return x, y
        return x, y, tf.reshape(tf.cast(w[0], tf.float32), one)

    return fix


def tensors(
    x: np.ndarray, y: np.ndarray, labels: str, n_classes: int | None, w: np.ndarray | None = None
) -> Split:
    """Arrays in the form the loss expects: column vectors, integer labels, or one-hot rows; with weights,
    a third tensor (float32 ``[N]``)."""
    y = np.asarray(y)
    if labels == "sparse":
        y = y.astype(np.int32)
    elif labels == "onehot":
        y = np.eye(int(n_classes), dtype=np.float32)[y.astype(np.int64)]
    else:
        y = y.astype(np.float32).reshape(len(y), -1)
    x = np.asarray(x)
    xy = (tf.constant(x if x.dtype == np.int32 else x.astype(np.float32, copy=False)), tf.constant(y))
    return xy if w is None else (*xy, tf.constant(np.asarray(w, dtype=np.float32).reshape(-1)))


def class_weights(spec: Any, data: Any) -> np.ndarray | None:
    """``training.class_weight`` as one weight per class code (float64), or None when not set.

    ``balanced`` is scikit-learn's ``compute_class_weight("balanced")`` on the training split:
    ``n_samples / (n_classes * count)`` per class. A mapping's keys are class names (the data's
    ``class_names``) or codes ``0..K-1``; classes it leaves out weigh 1.

    Raises:
        TrainlabError: regression data, an unknown class, or ``balanced`` on a stream (whose classes
            cannot be counted up front).
    """
    if spec is None:
        return None
    shown = spec if isinstance(spec, str) else dict(spec)
    if data.task == "regression":
        raise TrainlabError("training.class_weight", "weighs classes; this data has a regression target", shown)
    n = int(data.n_classes)
    if spec == "balanced":
        if isinstance(data, tl_data.Streams):
            raise TrainlabError("training.class_weight", "balanced counts the training split's classes, which a"
                                " stream cannot give up front; give {class: weight}", "balanced")
        counts = np.bincount(np.asarray(data.y_train, dtype=np.int64), minlength=n).astype(np.float64)
        # A class absent from the training split weighs nothing: no training sample carries it.
        return np.divide(len(data.y_train), n * counts, out=np.zeros(n), where=counts > 0)
    names = [str(c) for c in data.class_names] if getattr(data, "class_names", None) else [str(i) for i in range(n)]
    weights = np.ones(n)
    for key, value in spec.items():
        text = str(key)
        # A name first; else a code (a recipe written back to YAML holds an integer key as text).
        code = names.index(text) if text in names else int(text) if text.isdigit() and int(text) < n else None
        if code is None:
            raise TrainlabError("training.class_weight",
                                f"names no class of the data (its classes: {', '.join(names)})", key)
        weights[code] = float(value)
    return weights


@dataclass
class Inputs:
    """A run's data as the engine takes it.

    Attributes:
        splits: ``{"train": ..., "val": ..., "test": ...}``: each a :data:`Split` of tensors (``(x, y)``, or
            ``(x, y, w)`` with sample weights), or for streamed data a ``tf.data`` dataset of such elements,
            single samples or batches as the stream gives them (splits the data lacks are left out). The
            training split's weights include the class weights (``training.class_weight``).
        sample: ``(x, y)`` training samples the member's metrics are built on.
        train_eval: the train-eval sample (None when off), with the data's own weights (not the class
            weights: it is evaluated as the validation split is, so that the two compare).
        probe: the activation probe's samples (the head of the train-eval sample), likewise weighted.
        class_weight: the class weights in use, by class name (None without).
        streamed: whether the splits are streams; then the fixed samples above are the stream's first
            samples, not a random subset.
        batched: whether a stream's elements are batches already (the trainer then does not batch them).
    """

    splits: dict[str, Any]
    sample: Split
    train_eval: Split | None
    probe: Split
    class_weight: dict[str, float] | None = None
    streamed: bool = False
    batched: bool = False


def inputs(
    data: Any, labels: str, data_seed: int, train_eval_samples: int, class_weight: Any = None
) -> Inputs:
    """The data in the form the loss expects (``labels``: the loss's label kind), with the fixed samples.

    Args:
        data: :class:`trainlab.data.Splits` or :class:`trainlab.data.Streams`.
        labels: ``binary``, ``sparse``, ``onehot`` or ``real`` (see :func:`trainlab.losses.traits`).
        data_seed: the seed the fixed samples are drawn with.
        train_eval_samples: ``training.train_eval_samples`` (0: no train-eval sample).
        class_weight: ``training.class_weight`` (see :func:`class_weights`).

    Returns:
        The :class:`Inputs`: each split ``(x, y)``, or ``(x, y, w)`` where the data has sample weights
        (or, for training, class weights: a sample's weight times its class's).

    Raises:
        TrainlabError: a class weight that does not fit the data, or an empty training stream.

    Example:
        >>> found = inputs(splits, "sparse", data_seed=0, train_eval_samples=2048, class_weight="balanced")
        >>> x, y, w = found.splits["train"]
    """
    weights = class_weights(class_weight, data)
    named = None if weights is None else dict(zip(_class_names(data), (float(v) for v in weights)))
    if isinstance(data, tl_data.Streams):
        return _stream_inputs(data, labels, train_eval_samples, weights, named)
    splits = {
        split: tensors(x, y, labels, data.n_classes, w)
        for split, x, y, w in (
            ("train", data.x_train, data.y_train, getattr(data, "w_train", None)),
            ("val", data.x_val, data.y_val, getattr(data, "w_val", None)),
            ("test", data.x_test, data.y_test, getattr(data, "w_test", None)),
        )
        if x is not None and len(x)
    }
    own = splits["train"]
    if weights is not None:  # training only, as Keras' fit(class_weight=...); times the data's own weights
        w = weights[np.asarray(data.y_train, dtype=np.int64)].astype(np.float32)
        if len(own) == 3:
            w = w * own[2].numpy()
        splits["train"] = (own[0], own[1], tf.constant(w))
    sample = own[:2]
    if train_eval_samples:
        train_eval, probe = train_eval_sample(own, data_seed, train_eval_samples, PROBE_SAMPLES)
        return Inputs(splits, sample, train_eval, probe, named)
    return Inputs(splits, sample, None, probe_sample(own, data_seed, PROBE_SAMPLES), named)


def _class_names(data: Any) -> list[str]:
    names = getattr(data, "class_names", None)
    return [str(c) for c in names] if names else [str(i) for i in range(int(data.n_classes))]


def _stream_inputs(
    data: Any, labels: str, train_eval_samples: int, weights: np.ndarray | None, named: dict[str, float] | None
) -> Inputs:
    """:func:`inputs` of streams: each dataset mapped to the loss's form; the fixed samples from the first ones.

    The streams are never read whole: the fixed samples (metrics' build, train-eval, probe) are the
    training stream's first ``max(train_eval_samples, PROBE_SAMPLES)`` samples, read once.
    """
    fix = label_fn(labels, data.n_classes, data.batched)
    own = {
        split: ds.map(fix, num_parallel_calls=tf.data.AUTOTUNE)
        for split, ds in (("train", data.train), ("val", data.val), ("test", data.test))
        if ds is not None
    }
    splits = dict(own)
    if weights is not None:
        splits["train"] = data.train.map(_class_weigher(weights, data.batched)).map(
            fix, num_parallel_calls=tf.data.AUTOTUNE)
    flat = own["train"].unbatch() if data.batched else own["train"]
    size = max(train_eval_samples, PROBE_SAMPLES)
    try:
        first = next(iter(flat.take(size).batch(size)))
    except StopIteration:
        raise TrainlabError("data.train", "the training stream is empty", "no element") from None
    first = tuple(first)
    train_eval = head(first, train_eval_samples) if train_eval_samples else None
    probe = head(first, min(PROBE_SAMPLES, train_eval_samples) if train_eval_samples else PROBE_SAMPLES)
    return Inputs(splits, first[:2], train_eval, probe, named, streamed=True, batched=data.batched)


def _class_weigher(weights: np.ndarray, batched: bool):
    """The map that gives a stream's elements their class weight (times a weight they carry), as Keras'
    ``fit(class_weight=...)`` does for a dataset: the class is the target rounded to an integer."""
    table = tf.constant(weights, tf.float32)
    one = [-1] if batched else []

    def weigh(x, y, *w):
        codes = tf.reshape(tf.cast(tf.round(tf.cast(y, tf.float32)), tf.int32), one)
        cw = tf.gather(table, codes)
        return x, y, cw if not w else cw * tf.reshape(tf.cast(w[0], tf.float32), one)

    return weigh


def epoch_steps(data: Any, inputs: Inputs, batch_size: int, accumulate: int = 1) -> int | None:
    """Optimizer steps per epoch of ``data`` (None for a stream of unknown length); a batched stream's
    epoch is its batches, whatever ``batch_size``. With ``accumulate`` (``training.accumulate_grad_batches``)
    a step takes that many batches, the last step of an epoch those that are left."""
    if not inputs.streamed:
        return steps_per_epoch(len(data.x_train), batch_size, accumulate)
    n = int(inputs.splits["train"].cardinality())
    if n < 0:
        return None
    return -(-n // accumulate) if inputs.batched else steps_per_epoch(n, batch_size, accumulate)
