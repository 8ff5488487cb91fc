"""Recipes: pydantic models (one per section), YAML loading, ``--set`` overrides, error wording."""

from trainlab.data.config import DataConfig
from trainlab.config.loading import apply_overrides, parse_set, read_yaml, validate
from trainlab.config.recipe import (
    EarlyStoppingConfig,
    ModelConfig,
    OptimizerConfig,
    PlateauConfig,
    Recipe,
    TrainingConfig,
    load_recipe,
)

__all__ = [
    "DataConfig", "EarlyStoppingConfig", "ModelConfig", "OptimizerConfig", "PlateauConfig", "Recipe",
    "TrainingConfig", "apply_overrides", "load_recipe", "parse_set", "read_yaml", "validate",
]
