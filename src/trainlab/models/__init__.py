"""Model builders by name (``mlp``), and any ``keras.Model`` through the Python API."""

from trainlab.models._mlp import OUTPUTS, build_mlp, output_for, registry

__all__ = ["OUTPUTS", "build_mlp", "output_for", "registry"]
