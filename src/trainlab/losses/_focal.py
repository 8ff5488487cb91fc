"""Focal losses (Lin et al. 2017, https://arxiv.org/abs/1708.02002) Keras lacks or hides.

Keras has binary and categorical focal cross-entropy; trainlab adds the
integer-label form, and a pure binary function that spells out the formula.
"""

from __future__ import annotations

from typing import Any

import keras
from keras import ops


def focal_loss(
    y_true: Any, y_pred: Any, alpha: float = 0.25, gamma: float = 2.0, from_logits: bool = False
) -> Any:
    """Binary focal loss, averaged over the last axis, with class balancing.

    Each element's cross-entropy is weighted by ``alpha_t * (1 - p_t) ** gamma``,
    where ``p_t`` is the probability given to the true class, and only then
    averaged. (Averaging the cross-entropy over the batch before weighting, as
    the tutorial did, gives a different and wrong number.) Equals Keras'
    ``binary_focal_crossentropy(..., apply_class_balancing=True)``.

    Args:
        y_true: 0/1 labels.
        y_pred: probabilities, or logits when ``from_logits``.
        alpha: weight of the positive class; the negative class gets ``1 - alpha``.
        gamma: focusing exponent; 0 gives alpha-weighted cross-entropy.
        from_logits: whether ``y_pred`` holds logits.

    Returns:
        The loss per sample (the mean over the last axis): a scalar for 1-D input.

    Example:
        >>> float(focal_loss([0, 1, 1, 0, 1], [0.1, 0.9, 0.8, 0.2, 0.7]))  # ~0.0036009
    """
    y_pred = ops.convert_to_tensor(y_pred)
    if not keras.backend.is_float_dtype(y_pred.dtype):
        y_pred = ops.cast(y_pred, keras.backend.floatx())
    y_true = ops.cast(y_true, y_pred.dtype)
    # Per element, before any reduction.
    cross_entropy = ops.binary_crossentropy(y_true, y_pred, from_logits=from_logits)
    p = ops.sigmoid(y_pred) if from_logits else y_pred
    p_true = y_true * p + (1.0 - y_true) * (1.0 - p)
    alpha_true = y_true * alpha + (1.0 - y_true) * (1.0 - alpha)
    return ops.mean(alpha_true * ops.power(1.0 - p_true, gamma) * cross_entropy, axis=-1)


def sparse_categorical_focal_loss(
    y_true: Any, y_pred: Any, alpha: Any = 0.25, gamma: float = 2.0, from_logits: bool = False
) -> Any:
    """Categorical focal loss for integer labels.

    Args:
        y_true: class indices, shaped ``(batch,)`` or ``(batch, 1)``.
        y_pred: class probabilities, or logits when ``from_logits``, shaped ``(batch, classes)``.
        alpha: a weight for all classes, or one weight per class.
        gamma: focusing exponent.
        from_logits: whether ``y_pred`` holds logits.

    Returns:
        The loss per sample, shaped ``(batch,)``.

    Example:
        >>> sparse_categorical_focal_loss([0, 2], [[2.0, 0.5, 0.1], [0.2, 0.3, 2.1]], from_logits=True)
    """
    y_pred = ops.convert_to_tensor(y_pred)
    labels = ops.cast(y_true, "int32")
    if len(labels.shape) == len(y_pred.shape):
        labels = ops.squeeze(labels, axis=-1)
    # The one-hot form is exactly Keras' categorical focal loss; reuse it.
    one_hot = ops.one_hot(labels, y_pred.shape[-1], dtype=y_pred.dtype)
    return keras.losses.categorical_focal_crossentropy(
        one_hot, y_pred, alpha=alpha, gamma=gamma, from_logits=from_logits
    )


@keras.saving.register_keras_serializable(package="trainlab")
class SparseCategoricalFocalCrossentropy(keras.losses.Loss):
    """Keras loss for :func:`sparse_categorical_focal_loss`.

    Args:
        alpha: a weight for all classes, or one weight per class.
        gamma: focusing exponent.
        from_logits: whether predictions are logits.
        reduction: Keras' reduction over the batch.
        name: the loss's name.
        dtype: the computation dtype (default: Keras' floatx).

    Example:
        >>> model.compile(loss=SparseCategoricalFocalCrossentropy(gamma=2.0, from_logits=True))
    """

    def __init__(
        self,
        alpha: Any = 0.25,
        gamma: float = 2.0,
        from_logits: bool = False,
        reduction: str | None = "sum_over_batch_size",
        name: str = "sparse_categorical_focal_crossentropy",
        dtype: Any = None,
    ) -> None:
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.alpha = alpha
        self.gamma = gamma
        self.from_logits = from_logits

    def call(self, y_true: Any, y_pred: Any) -> Any:
        return sparse_categorical_focal_loss(
            y_true, y_pred, alpha=self.alpha, gamma=self.gamma, from_logits=self.from_logits
        )

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "alpha": self.alpha, "gamma": self.gamma, "from_logits": self.from_logits}
