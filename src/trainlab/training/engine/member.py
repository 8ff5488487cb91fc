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
        """Trainable variables grouped by the layer that owns them: ``[(layer, [indices])]``."""
        groups: dict[str, list[int]] = {}
        for i, variable in enumerate(self.model.trainable_variables):
            layer = variable.path.split("/")[-2] if "/" in variable.path else variable.path
            groups.setdefault(layer, []).append(i)
        return list(groups.items())

