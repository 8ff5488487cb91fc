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
        owners = {id(v): layer.name for layer in record_layers(self.model) for v in layer.trainable_variables}
        groups: dict[str, list[int]] = {}
        for i, variable in enumerate(self.model.trainable_variables):
            fallback = variable.path.split("/")[-2] if "/" in variable.path else variable.path
            groups.setdefault(owners.get(id(variable), fallback), []).append(i)
        return list(groups.items())


def record_layers(model: keras.Model) -> list[keras.layers.Layer]:
    """The layers the records name: the model's own, and those of the models nested in it.

    A layer made of sub-layers (a recurrent layer and its cell, a ``Bidirectional`` wrapper,
    ``MultiHeadAttention``) is one layer; its sub-layers are not listed.
    """
    found = []
    for layer in model._flatten_layers(include_self=False, recursive=False):
        found.extend(record_layers(layer) if isinstance(layer, keras.Model) else [layer])
    return found

