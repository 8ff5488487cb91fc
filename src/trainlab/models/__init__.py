"""Model builders by name (``mlp``), and any ``keras.Model`` through the Python API."""

from typing import Any

import keras

from trainlab.models._mlp import OUTPUTS, build_mlp, output_for, registry


def build(spec: Any, where: str = "model", **defaults: Any) -> keras.Model:
    """Build a model from a name, ``{"name": "mlp", "hidden": [...], ...}`` or a ``keras.Model`` (passed through).

    Example:
        >>> build({"name": "mlp", "hidden": [32]}, n_inputs=20, n_outputs=1)
    """
    return registry.build(spec, where, **defaults)


__all__ = ["OUTPUTS", "build", "build_mlp", "output_for", "registry"]
