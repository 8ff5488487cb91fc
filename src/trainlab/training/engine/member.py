"""An engine member: one model with everything that is its own."""

from __future__ import annotations

from dataclasses import dataclass, field

import keras


@dataclass
class Member:
    """One model trained by the engine, with everything that is its own.

    Attributes:
        model: a built ``keras.Model``.
        optimizer: its optimizer (clipping configured on it, Keras-style).
        loss: the loss; the model's regularization losses are added to it.
        metrics: fresh metric objects for training; ``val_metrics`` the same for validation.
    """

    model: keras.Model
    optimizer: keras.optimizers.Optimizer
    loss: keras.losses.Loss
    metrics: list[keras.metrics.Metric] = field(default_factory=list)
    val_metrics: list[keras.metrics.Metric] = field(default_factory=list)

    def layer_groups(self) -> list[tuple[str, list[int]]]:
        """Trainable variables grouped by the layer that owns them: ``[(layer, [indices])]``.

        The layers are those of :func:`record_layers`: an LSTM with its cell, or a
        MultiHeadAttention with its projections, is one layer (one row of the records).
        """
        groups: dict[str, list[int]] = {}
        for i, layer in enumerate(variable_layers(self.model)):
            groups.setdefault(layer, []).append(i)
        return list(groups.items())


def variable_layers(model: keras.Model) -> list[str]:
    """The name of the layer (of :func:`record_layers`) that owns each of ``model.trainable_variables``."""
    owners = {id(v): layer.name for layer in record_layers(model) for v in layer.trainable_variables}
    # A variable no layer owns (a subclassed model's own weight) is named by its path, as Keras builds it.
    return [owners.get(id(v), v.path.split("/")[-2] if "/" in v.path else v.path) for v in model.trainable_variables]


def record_layers(model: keras.Model) -> list[keras.layers.Layer]:
    """The layers the records name: the model's own, and those of the models nested in it.

    A layer made of sub-layers (a recurrent layer and its cell, a ``Bidirectional`` wrapper,
    ``MultiHeadAttention``) is one layer; its sub-layers are not listed.
    """
    found = []
    for layer in model._flatten_layers(include_self=False, recursive=False):
        found.extend(record_layers(layer) if isinstance(layer, keras.Model) else [layer])
    return found

