"""Shared test set-up: quiet TensorFlow, tiny recipes."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import pytest  # noqa: E402


@pytest.fixture
def tiny_recipe():
    """A recipe that trains in well under a second: 200 samples, 8 features, 5 epochs."""
    return {
        "name": "tiny",
        "seed": 7,
        "data": {"source": "synthetic_classification", "n_samples": 200, "n_features": 8},
        "model": {"hidden": [16, 8], "dropout": [0.1, 0.0]},
        "training": {"epochs": 5, "batch_size": 32, "verbose": 0, "tensorboard": False},
    }
