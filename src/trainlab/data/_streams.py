"""Data that streams: ``tf.data`` pipelines, iterated batch by batch, never held in memory whole."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from trainlab.errors import TrainlabError

if TYPE_CHECKING:  # TensorFlow loads when a stream is made, not when the data package is imported
    import tensorflow as tf

_TASKS = ("binary", "multiclass", "regression")


@dataclass
class Streams:
    """Training, validation and test data as ``tf.data.Dataset`` objects.

    Each element is ``(x, y)`` or ``(x, y, sample_weight)``: ``x`` a tensor of any shape (a
    table's row, an image, a sequence) or a dict of them (a model with named inputs); ``y`` an
    integer class code ``0..K-1`` or a float target; the weight a number per sample. Elements
    are single samples, which the trainer shuffles (``shuffle_buffer`` elements, seeded, when
    ``training.shuffle``), batches (``training.batch_size``) and prefetches, or batches
    (``batched``), which it takes as they come: their size and order are the dataset's own.

    Attributes:
        train, val, test: the datasets (``val`` and ``test`` may be None).
        task: "binary", "multiclass" or "regression" (a stream cannot be inspected up front).
        n_classes: the number of classes (classification), else None.
        n_outputs: output width: 1 for binary, K for multiclass, targets for regression.
        shuffle_buffer: elements held for shuffling the training stream (single samples only).
        batched: whether the elements are batches.
    """

    train: tf.data.Dataset
    val: tf.data.Dataset | None
    test: tf.data.Dataset | None
    task: str
    n_classes: int | None
    n_outputs: int
    shuffle_buffer: int = 10_000
    source: str = "tf.data"
    batched: bool = False

    # The trainer asks in-memory data for arrays and names; streams have none.
    x_train = y_train = x_val = y_val = x_test = y_test = None
    w_train = w_val = w_test = None
    class_names = None
    vocab_size = None

    @property
    def input_shape(self) -> tuple[int | None, ...] | dict[str, tuple[int | None, ...]]:
        """One sample's shape (no batch axis; None where the stream leaves a length open), or, for named
        inputs, a dict of them by name."""
        def shape(spec: Any) -> tuple[int | None, ...]:
            dims = tuple(spec.shape)
            return dims[1:] if self.batched else dims

        x = self.train.element_spec[0]
        return {name: shape(spec) for name, spec in x.items()} if isinstance(x, dict) else shape(x)

    @property
    def input_dtype(self) -> str | dict[str, str]:
        """"int32" for token ids (32- or 64-bit integer inputs), else "float32" (what the trainer casts them
        to); a dict of them for named inputs."""
        def dtype(spec: Any) -> str:
            return "int32" if spec.dtype.name in ("int32", "int64") else "float32"

        x = self.train.element_spec[0]
        return {name: dtype(spec) for name, spec in x.items()} if isinstance(x, dict) else dtype(x)

    @property
    def n_features(self) -> int | None:
        """Numbers per sample (None for named inputs or a shape left open)."""
        shape = self.input_shape
        if isinstance(shape, dict) or any(d is None for d in shape):
            return None
        return math.prod(shape)

    @property
    def weighted(self) -> bool:
        """Whether the training elements carry sample weights."""
        return len(self.train.element_spec) == 3

    def describe(self) -> dict[str, Any]:
        """A JSON-ready summary: what the streams hold, as far as their specs tell (sizes when known)."""
        def size(ds: tf.data.Dataset | None) -> int | None:
            if ds is None:
                return 0
            n = int(ds.cardinality())
            return n if n >= 0 else None  # unknown or infinite

        shape = self.input_shape
        return {
            "source": self.source, "task": self.task, "n_features": self.n_features,
            "input_shape": {k: list(v) for k, v in shape.items()} if isinstance(shape, dict) else list(shape),
            "input_dtype": self.input_dtype, "n_classes": self.n_classes, "n_outputs": self.n_outputs,
            "weighted": self.weighted, "streamed": True, "batched": self.batched,
            # Sizes count the datasets' elements: batches when batched.
            "splits": {"train": {"n": size(self.train)}, "val": {"n": size(self.val)}, "test": {"n": size(self.test)}},
        }


def from_datasets(
    train: tf.data.Dataset,
    validation: tf.data.Dataset | None = None,
    test: tf.data.Dataset | None = None,
    *,
    task: str | None = None,
    n_classes: int | None = None,
    n_targets: int = 1,
    shuffle_buffer: int = 10_000,
    batched: bool | None = None,
    val: tf.data.Dataset | None = None,
) -> Streams:
    """Wrap ``tf.data`` datasets for ``trainlab.train(data=...)``; they are iterated, never held whole.

    Args:
        train, validation, test: the datasets; each element ``(x, y)`` or ``(x, y, sample_weight)``,
            ``x`` a tensor of any shape or a dict of them (a model with named inputs: give ``model=``).
            Integer inputs of 32 or 64 bits are token ids (kept as int32); other inputs become float32.
        task: "binary", "multiclass" or "regression" (required: a stream cannot be inspected up front).
        n_classes: the number of classes, required for "multiclass".
        n_targets: regression targets per sample.
        shuffle_buffer: elements held for shuffling the training stream each epoch (single samples only).
        batched: whether the elements are batches. None infers it from the target ``y``: batched when
            it has an axis more than one sample's target (which is a number, or a vector of
            ``n_targets`` > 1) and that axis is of open length or as long as the inputs' first axis. A
            batched stream is used as it comes: ``training.batch_size`` and ``training.shuffle`` do
            not apply (the summary says so), and an epoch is its batches.
        val: the former name of ``validation``.

    Returns:
        The :class:`Streams`.

    Raises:
        TrainlabError: a dataset whose elements are not ``(x, y)`` or ``(x, y, sample_weight)``, a missing
            task or class count, or datasets that disagree on batching.

    Example:
        >>> ds = tf.data.Dataset.from_tensor_slices((images, labels)).batch(64)
        >>> streams = trainlab.data.from_datasets(ds, validation=val_ds, task="multiclass", n_classes=10)
        >>> run = trainlab.train(recipe, data=streams, model=my_cnn)
    """
    import tensorflow as tf  # noqa: PLC0415 (see the top of the module)

    if val is not None:
        if validation is not None:
            raise TrainlabError("data.validation", "is given twice (validation= and its former name val=)", "both")
        validation = val
    if task is None:
        raise TrainlabError("data.task", "streamed data needs its task (binary, multiclass or regression): a stream"
                            " cannot be inspected up front", None)
    if task not in _TASKS:
        raise TrainlabError("data.task", f"must be one of {', '.join(_TASKS)} for streamed data", task)
    if task == "multiclass" and (n_classes is None or n_classes < 3):
        raise TrainlabError("data.n_classes", "multiclass streams need the number of classes (>= 3)", n_classes)
    target_rank = 1 if task == "regression" and n_targets > 1 else 0
    found = {}
    for name, ds in (("train", train), ("validation", validation), ("test", test)):
        if ds is not None:
            found[name] = _batching(name, ds, target_rank, batched, tf)
    if len(set(found.values())) > 1:
        raise TrainlabError("data", "the datasets must all be batched or all single samples; batched", found)
    batched = found["train"]
    n_classes = 2 if task == "binary" else n_classes if task == "multiclass" else None
    n_outputs = 1 if task == "binary" else n_classes if task == "multiclass" else int(n_targets)
    return Streams(train, validation, test, task, n_classes, n_outputs, shuffle_buffer, batched=batched)


def _batching(name: str, ds: Any, target_rank: int, batched: bool | None, tf: Any) -> bool:
    """Whether ``ds``'s elements are batches (``batched`` when given, else inferred: see :func:`from_datasets`).

    Raises:
        TrainlabError: elements that are not ``(x, y)`` or ``(x, y, sample_weight)`` of tensors.
    """
    spec = ds.element_spec if isinstance(ds, tf.data.Dataset) else None
    parts = spec if isinstance(spec, tuple) and len(spec) in (2, 3) else None
    if parts is None or not all(isinstance(s, tf.TensorSpec) for s in tf.nest.flatten(parts)) \
            or not isinstance(parts[1], tf.TensorSpec):
        raise TrainlabError(f"data.{name}", "must be a tf.data.Dataset of (x, y) or (x, y, sample_weight) elements"
                            " (x a tensor or a dict of them)", spec)
    y = parts[1]
    x_first = tf.nest.flatten(parts[0])[0].shape
    if batched is None:
        lead = y.shape[0] if y.shape.rank else None
        batched = bool(y.shape.rank is not None and y.shape.rank > target_rank
                       and (lead is None or (x_first.rank and x_first[0] == lead)))
    if batched and not (y.shape.rank and y.shape.rank > target_rank):
        raise TrainlabError(f"data.{name}", "batched=True needs targets with a batch axis; their shape",
                            [d for d in y.shape] if y.shape.rank is not None else None)
    return batched
