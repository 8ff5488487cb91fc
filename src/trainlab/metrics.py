"""Metrics by name, resolved for the task and the loss's label format.

``accuracy`` means binary, sparse-categorical or categorical accuracy as the loss
implies (with a threshold of 0 on logits); ``auc`` reads logits when the loss does;
any other Keras metric name (``mae``, ``precision``, ``top_k_categorical_accuracy``,
...) works as in ``model.compile``. Each call returns a fresh metric object, so two
models trained together never share state.
"""

from __future__ import annotations

import keras

from trainlab.errors import TrainlabError
from trainlab.keras_names import check_keras_name, keras_names

_ACCURACY = {"accuracy", "acc"}
_NAMES_FOR_TASK = {"classification": ["accuracy"], "regression": ["mae"]}


# Names trainlab resolves itself, and short names keras.metrics.get takes that are not attributes.
_OWN = ("accuracy", "acc", "auc")
_SHORT = ("mae", "mse", "mape", "msle")


def names() -> list[str]:
    """Every metric name a recipe may use."""
    return sorted(set(_OWN) | keras_names(keras.metrics, _SHORT))


def check_name(name: str, where: str = "metrics") -> None:
    """Raise a TrainlabError (with the valid names and a suggestion) unless ``name`` is a metric."""
    check_keras_name(keras.metrics, name, where, "metric", extra=_OWN, aliases=_SHORT)


def auto(task: str) -> list[str]:
    """The metrics ``metrics: auto`` stands for: accuracy, or MAE for regression."""
    return list(_NAMES_FOR_TASK["regression" if task == "regression" else "classification"])


def build(name: str, labels: str, from_logits: bool, where: str = "metrics") -> keras.metrics.Metric:
    """Build the metric ``name`` for labels of format ``labels`` (binary/sparse/onehot/real).

    Args:
        name: a metric name as in ``model.compile(metrics=[...])``.
        labels: the loss's label format, from :func:`trainlab.losses.traits`.
        from_logits: whether the model outputs logits.
        where: the recipe key path used in error messages.

    Returns:
        A new ``keras.metrics.Metric`` named ``name``.

    Raises:
        TrainlabError: an unknown metric name, or accuracy on a regression task.
    """
    key = name.lower()
    if key in _ACCURACY:
        if labels == "binary":
            return keras.metrics.BinaryAccuracy(name=name, threshold=0.0 if from_logits else 0.5)
        if labels == "sparse":
            return keras.metrics.SparseCategoricalAccuracy(name=name)
        if labels == "onehot":
            return keras.metrics.CategoricalAccuracy(name=name)
        raise TrainlabError(where, "accuracy needs a classification loss", name)
    if key == "auc":
        return keras.metrics.AUC(name=name, from_logits=from_logits)
    try:
        found = keras.metrics.get(name)
    except ValueError:
        raise TrainlabError(where, "unknown Keras metric", name) from None
    if isinstance(found, type):
        return found(name=name)
    if isinstance(found, keras.metrics.Metric):
        return found.__class__.from_config({**found.get_config(), "name": name})
    return keras.metrics.MeanMetricWrapper(found, name=name)
