"""Losses: Keras' losses by name, the focal family, and the traits a trainer needs.

Example:
    >>> from trainlab import losses
    >>> loss = losses.build({"name": "focal", "gamma": 2.0})
    >>> losses.traits("focal").output_activation
    'sigmoid'
"""

from trainlab.losses._focal import SparseCategoricalFocalCrossentropy, focal_loss, sparse_categorical_focal_loss
from trainlab.losses._registry import LossTraits, build, registry, traits

__all__ = [
    "LossTraits",
    "SparseCategoricalFocalCrossentropy",
    "build",
    "focal_loss",
    "registry",
    "sparse_categorical_focal_loss",
    "traits",
]
