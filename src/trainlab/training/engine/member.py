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
        augment: a layer applied to each training batch's inputs before the model
            (``augment(x, training=True)``), never to evaluation or probe batches; its
            variables (a random layer's seed state) are part of the member's state, so a
            checkpoint holds them and a resumed run draws the same augmentations. Built
            before the engine first trains (call it once, or ``build`` it).
    """

    model: keras.Model
    optimizer: keras.optimizers.Optimizer
    loss: keras.losses.Loss
    metrics: list[keras.metrics.Metric] = field(default_factory=list)
    val_metrics: list[keras.metrics.Metric] = field(default_factory=list)
    augment: keras.layers.Layer | None = None

    def layer_groups(self) -> list[tuple[str, list[int]]]:
        """Trainable variables grouped by the layer that owns them: ``[(layer, [indices])]``, in variable order.

        A layer is one of the model's own layers, looked for inside nested models (a Sequential
        inside a functional model): its sub-layers' variables are its own (a MultiHeadAttention's
        query, key, value and output projections; a Bidirectional's two directions; an LSTM's
        cell), so each row of the records is a layer as ``model.summary()`` lists it, named as
        there. A name that two layers share (nested models) is given its path instead.
        """
        groups: dict[str, list[int]] = {}
        for i, layer in enumerate(variable_layers(self.model)):
            groups.setdefault(layer, []).append(i)
        return list(groups.items())


def variable_layers(model: keras.Model) -> list[str]:
    """The record name (see :func:`record_names`) of the layer that owns each of ``model.trainable_variables``."""
    owner: dict[int, str] = {}
    for layer, name in record_names(model):
        for variable in layer.trainable_variables:
            owner.setdefault(id(variable), name)
    # A variable no layer owns (a subclassed model's own weight): its path's last folder, as Keras names it.
    return [owner.get(id(v), v.path.split("/")[-2] if "/" in v.path else v.path) for v in model.trainable_variables]


def record_names(model: keras.Model) -> list[tuple[keras.layers.Layer, str]]:
    """``(layer, name)``: the name the records give each of ``model``'s layers with weights (see
    :meth:`Member.layer_groups`), in the model's order.

    Layers are looked for inside nested models, not inside other layers; a layer is named as
    ``model.summary()`` names it, or by its path through the nested models where two share a name.
    """
    found: list[tuple[str, keras.layers.Layer]] = []

    def visit(container: keras.Model, prefix: str) -> None:
        for layer in container._flatten_layers(include_self=False, recursive=False):
            if isinstance(layer, keras.Model):
                visit(layer, f"{prefix}{layer.name}/")
            elif layer.trainable_variables:
                found.append((f"{prefix}{layer.name}", layer))

    visit(model, "")
    short = [path.rsplit("/", 1)[-1] for path, _ in found]
    return [(layer, name if short.count(name) == 1 else path) for (path, layer), name in zip(found, short)]
