"""The loss registry: Keras' losses by name, the focal family, and what each loss expects."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import keras

from trainlab.errors import TrainlabError
from trainlab.losses._focal import SparseCategoricalFocalCrossentropy
from trainlab.registry import Registry
from trainlab import checks

Loss = keras.losses.Loss
Task = Literal["binary", "multiclass", "regression"]
Labels = Literal["binary", "sparse", "onehot", "real"]

registry: Registry[Loss] = Registry("loss", base=Loss, key="loss")


@dataclass(frozen=True)
class LossTraits:
    """What a loss expects of the model and the data.

    Attributes:
        task: ``"binary"``, ``"multiclass"`` or ``"regression"``.
        labels: the label format the loss reads: ``"binary"`` (0/1), ``"sparse"``
            (class indices), ``"onehot"`` or ``"real"``.
        from_logits: whether the loss expects raw scores rather than probabilities.
        name: the loss's registered name (its class name for an instance given
            directly), for messages; not part of equality.
    """

    task: Task
    labels: Labels
    from_logits: bool = False
    name: str = field(default="", compare=False)

    @property
    def output_activation(self) -> str:
        """The activation the model's last layer needs: sigmoid, softmax or linear."""
        if self.from_logits or self.task == "regression":
            return "linear"
        return "sigmoid" if self.task == "binary" else "softmax"


# Canonical name -> (task, labels); filled in by _register.
_TRAITS: dict[str, tuple[Task, Labels]] = {}


def _register(name: str, task: Task, labels: Labels, aliases: Iterable[str] = ()) -> Callable:
    def add(factory: Callable[..., Loss]) -> Callable[..., Loss]:
        registry.register(name, factory, aliases=aliases)
        _TRAITS[name] = (task, labels)
        return factory

    return add


def _check_cross_entropy(from_logits: Any, label_smoothing: Any = 0.0) -> None:
    checks.boolean(from_logits, "from_logits")
    checks.between(label_smoothing, "label_smoothing", 0.0, 1.0)


def _check_focal(alpha: Any, gamma: Any) -> None:
    for a in alpha if isinstance(alpha, (list, tuple)) else [alpha]:
        checks.require(checks.is_number(a) and 0 <= a <= 1, "alpha", "must be in [0, 1]", alpha)
    checks.non_negative(gamma, "gamma")


@_register("binary_crossentropy", "binary", "binary", aliases=["bce"])
def binary_crossentropy(from_logits: bool = False, label_smoothing: float = 0.0) -> Loss:
    """Binary cross-entropy on 0/1 labels (Keras ``BinaryCrossentropy``)."""
    _check_cross_entropy(from_logits, label_smoothing)
    return keras.losses.BinaryCrossentropy(from_logits=from_logits, label_smoothing=label_smoothing)


@_register("categorical_crossentropy", "multiclass", "onehot", aliases=["cce"])
def categorical_crossentropy(from_logits: bool = False, label_smoothing: float = 0.0) -> Loss:
    """Cross-entropy on one-hot labels (Keras ``CategoricalCrossentropy``)."""
    _check_cross_entropy(from_logits, label_smoothing)
    return keras.losses.CategoricalCrossentropy(from_logits=from_logits, label_smoothing=label_smoothing)


@_register("sparse_categorical_crossentropy", "multiclass", "sparse", aliases=["scce", "sparse_cce"])
def sparse_categorical_crossentropy(from_logits: bool = False) -> Loss:
    """Cross-entropy on class indices (Keras ``SparseCategoricalCrossentropy``)."""
    _check_cross_entropy(from_logits)
    return keras.losses.SparseCategoricalCrossentropy(from_logits=from_logits)


@_register("mse", "regression", "real", aliases=["mean_squared_error"])
def mse() -> Loss:
    """Mean squared error (Keras ``MeanSquaredError``)."""
    return keras.losses.MeanSquaredError()


@_register("mae", "regression", "real", aliases=["mean_absolute_error"])
def mae() -> Loss:
    """Mean absolute error (Keras ``MeanAbsoluteError``)."""
    return keras.losses.MeanAbsoluteError()


@_register("huber", "regression", "real")
def huber(delta: float = 1.0) -> Loss:
    """Quadratic within ``delta`` of the target, linear beyond (Keras ``Huber``)."""
    checks.positive(delta, "delta")
    return keras.losses.Huber(delta=delta)


@_register("msle", "regression", "real", aliases=["mean_squared_logarithmic_error"])
def msle() -> Loss:
    """Mean squared error of ``log(1 + y)`` (Keras ``MeanSquaredLogarithmicError``)."""
    return keras.losses.MeanSquaredLogarithmicError()


@_register("focal", "binary", "binary", aliases=["binary_focal"])
def focal(alpha: float = 0.25, gamma: float = 2.0, from_logits: bool = False, label_smoothing: float = 0.0) -> Loss:
    """Binary focal loss, ``alpha`` on the positive class
    (Keras ``BinaryFocalCrossentropy(apply_class_balancing=True)``)."""
    _check_focal(alpha, gamma)
    _check_cross_entropy(from_logits, label_smoothing)
    return keras.losses.BinaryFocalCrossentropy(
        apply_class_balancing=True, alpha=alpha, gamma=gamma, from_logits=from_logits, label_smoothing=label_smoothing
    )


@_register("categorical_focal", "multiclass", "onehot")
def categorical_focal(
    alpha: float | Sequence[float] = 0.25, gamma: float = 2.0, from_logits: bool = False, label_smoothing: float = 0.0
) -> Loss:
    """Focal loss on one-hot labels; ``alpha`` for all classes or one per class
    (Keras ``CategoricalFocalCrossentropy``)."""
    _check_focal(alpha, gamma)
    _check_cross_entropy(from_logits, label_smoothing)
    return keras.losses.CategoricalFocalCrossentropy(
        alpha=alpha, gamma=gamma, from_logits=from_logits, label_smoothing=label_smoothing
    )


@_register("sparse_categorical_focal", "multiclass", "sparse", aliases=["sparse_focal"])
def sparse_categorical_focal(
    alpha: float | Sequence[float] = 0.25, gamma: float = 2.0, from_logits: bool = False
) -> Loss:
    """Focal loss on class indices; ``alpha`` for all classes or one per class."""
    _check_focal(alpha, gamma)
    _check_cross_entropy(from_logits)
    return SparseCategoricalFocalCrossentropy(alpha=alpha, gamma=gamma, from_logits=from_logits)


# Loss instances given directly: the most specific class first.
_INSTANCE_TRAITS: list[tuple[type, Task, Labels]] = [
    (keras.losses.BinaryFocalCrossentropy, "binary", "binary"),
    (keras.losses.BinaryCrossentropy, "binary", "binary"),
    (keras.losses.CategoricalFocalCrossentropy, "multiclass", "onehot"),
    (keras.losses.CategoricalCrossentropy, "multiclass", "onehot"),
    (SparseCategoricalFocalCrossentropy, "multiclass", "sparse"),
    (keras.losses.SparseCategoricalCrossentropy, "multiclass", "sparse"),
    (keras.losses.MeanSquaredError, "regression", "real"),
    (keras.losses.MeanAbsoluteError, "regression", "real"),
    (keras.losses.Huber, "regression", "real"),
    (keras.losses.MeanSquaredLogarithmicError, "regression", "real"),
    (keras.losses.LogCosh, "regression", "real"),
    (keras.losses.MeanAbsolutePercentageError, "regression", "real"),
]


def build(spec: Any, where: str = "loss", **defaults: Any) -> Loss:
    """Build a Keras loss from a name, a mapping or an instance.

    Args:
        spec: ``"bce"``, ``{"name": "focal", "gamma": 3.0}`` or a Keras ``Loss``
            (returned unchanged).
        where: the recipe key path, for error messages.
        **defaults: arguments used unless the spec sets them and ignored by
            losses that do not take them (e.g. ``from_logits=True``).

    Returns:
        The loss.

    Raises:
        TrainlabError: unknown name or argument, or a value that breaks a rule
            (``loss.gamma: must be >= 0, got -1``).

    Example:
        >>> loss = build({"name": "focal", "alpha": 0.25, "gamma": 2.0})
    """
    if isinstance(spec, Loss):
        return spec
    name, kwargs = registry.split(spec, where)
    params = registry.entry(name).parameters()
    merged = {k: v for k, v in defaults.items() if k in params}
    merged.update(kwargs)
    return registry.call(name, merged, where)


def traits(spec: Any, where: str = "loss") -> LossTraits:
    """What the loss ``spec`` expects: task, label format, logits or probabilities.

    Args:
        spec: anything :func:`build` accepts.
        where: the recipe key path, for error messages.

    Returns:
        The loss's :class:`LossTraits`.

    Raises:
        TrainlabError: an unknown name or argument, or a loss instance whose
            class trainlab does not know.

    Example:
        >>> traits({"name": "scce", "from_logits": True})
        LossTraits(task='multiclass', labels='sparse', from_logits=True, name='sparse_categorical_crossentropy')
    """
    if isinstance(spec, Loss):
        for cls, task, labels in _INSTANCE_TRAITS:
            if isinstance(spec, cls):
                from_logits = bool(spec.get_config().get("from_logits", False))
                return LossTraits(task, labels, from_logits, name=type(spec).__name__)
        raise TrainlabError(
            where,
            f"cannot tell what this loss expects; name one of: {', '.join(registry.names())}",
            type(spec).__name__,
        )
    name, kwargs = registry.split(spec, where)
    task, labels = _TRAITS[name]
    from_logits = kwargs.get("from_logits", False)
    if not isinstance(from_logits, bool):
        raise TrainlabError(f"{where}.from_logits", "must be true or false", from_logits)
    return LossTraits(task, labels, from_logits, name=name)
