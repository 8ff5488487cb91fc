"""Data that streams: ``tf.data`` pipelines for data too large to hold in memory."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from trainlab.errors import TrainlabError

if TYPE_CHECKING:  # TensorFlow loads when a stream is made, not when the data package is imported
    import tensorflow as tf

_TASKS = ("binary", "multiclass", "regression")


@dataclass
class Streams:
    """Training, validation and test data as ``tf.data.Dataset`` objects of unbatched ``(x, y)`` pairs.

    The trainer batches, shuffles (``shuffle_buffer`` elements, seeded) and prefetches them.
    ``x`` is a float feature vector; ``y`` an integer class code ``0..K-1`` or a float target.

    Attributes:
        train, val, test: the datasets (``val`` and ``test`` may be None).
        task: "binary", "multiclass" or "regression" (a stream cannot be inspected up front).
        n_classes: the number of classes (classification), else None.
        n_outputs: output width: 1 for binary, K for multiclass, targets for regression.
        shuffle_buffer: elements held for shuffling the training stream.
    """

    train: tf.data.Dataset
    val: tf.data.Dataset | None
    test: tf.data.Dataset | None
    task: str
    n_classes: int | None
    n_outputs: int
    shuffle_buffer: int = 10_000
    source: str = "tf.data"

    @property
    def n_features(self) -> int:
        return int(self.train.element_spec[0].shape[-1])

    # The trainer asks in-memory data for arrays; streams have none.
    x_train = y_train = x_val = y_val = x_test = y_test = None

    def describe(self) -> dict[str, Any]:
        def size(ds: tf.data.Dataset | None) -> int | None:
            if ds is None:
                return 0
            n = int(ds.cardinality())
            return n if n >= 0 else None  # unknown or infinite

        return {
            "source": self.source, "task": self.task, "n_features": self.n_features, "n_classes": self.n_classes,
            "n_outputs": self.n_outputs, "streamed": True,
            "splits": {"train": {"n": size(self.train)}, "val": {"n": size(self.val)}, "test": {"n": size(self.test)}},
        }


def from_datasets(
    train: tf.data.Dataset,
    val: tf.data.Dataset | None = None,
    test: tf.data.Dataset | None = None,
    *,
    task: str,
    n_classes: int | None = None,
    n_targets: int = 1,
    shuffle_buffer: int = 10_000,
) -> Streams:
    """Wrap ``tf.data`` datasets of unbatched ``(features, target)`` pairs for ``trainlab.train(data=...)``.

    Args:
        train, val, test: the datasets; each element ``(x, y)`` with ``x`` a feature vector.
        task: "binary", "multiclass" or "regression".
        n_classes: the number of classes, required for "multiclass".
        n_targets: regression targets per sample.
        shuffle_buffer: elements held for shuffling the training stream each epoch.

    Raises:
        TrainlabError: a dataset that is not ``(x, y)`` of rank-1 features, or a task without its class count.

    Example:
        >>> ds = tf.data.Dataset.from_tensor_slices((x, y))
        >>> run = trainlab.train(recipe, data=trainlab.data.from_datasets(ds, val_ds, task="binary"))
    """
    import tensorflow as tf  # noqa: PLC0415 (see the top of the module)

    if task not in _TASKS:
        raise TrainlabError("data.task", f"must be one of {', '.join(_TASKS)} for streamed data", task)
    for name, ds in (("train", train), ("val", val), ("test", test)):
        if ds is None:
            continue
        spec = ds.element_spec
        if not isinstance(ds, tf.data.Dataset) or not isinstance(spec, tuple) or len(spec) != 2:
            raise TrainlabError(f"data.{name}", "must be a tf.data.Dataset of (features, target) pairs", spec)
        if spec[0].shape.rank != 1:
            raise TrainlabError(
                f"data.{name}", "features must be unbatched vectors (the trainer batches them)", str(spec[0].shape)
            )
    if task == "multiclass" and (n_classes is None or n_classes < 3):
        raise TrainlabError("data.n_classes", "multiclass streams need the number of classes (>= 3)", n_classes)
    n_classes = 2 if task == "binary" else n_classes if task == "multiclass" else None
    n_outputs = 1 if task == "binary" else n_classes if task == "multiclass" else int(n_targets)
    return Streams(train, val, test, task, n_classes, n_outputs, shuffle_buffer)
