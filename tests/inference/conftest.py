"""Tiny trained runs for the inference tests, one per kind of data, and their raw test splits.

Each run trains once per test session (a few epochs on a few hundred samples). ``raw_split``
rebuilds a run's test split as the source gave it (before scaling and standardization), by the
split indices :func:`trainlab.data.split_indices` draws from the run's data seed, and checks it
against the split that training used.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pytest

import trainlab
from trainlab.data import DataConfig, load, sources, split_indices

from inference_helpers import tiny_images  # noqa: E402 (tests/inference is on the path: pytest put it there)

TRAINING = {"epochs": 3, "batch_size": 32, "verbose": 0, "tensorboard": False, "checkpoint": {"enabled": False}}


@dataclass
class TrainedRun:
    """A run, with its raw test split (inputs as the source gave them, labels as class names or values)."""

    run: Any
    x_test: Any
    y_test: np.ndarray

    @property
    def dir(self) -> Path:
        return self.run.dir

    @property
    def summary(self) -> dict:
        return self.run.summary


def raw_split(raw_x: Any, codes: np.ndarray, data: dict, seed: int, split: str = "test") -> np.ndarray:
    """The row indices of a split, drawn as training draws them (stratified by the class codes)."""
    config = DataConfig.model_validate(data)
    train, val, test = split_indices(len(codes), config.validation_split, config.test_split, seed,
                                     labels=codes if config.stratify else None)
    return {"train": train, "val": val, "test": test}[split]


def _check_raw(rows_x: np.ndarray, data: dict, seed: int, scale: float = 1.0) -> None:
    """The raw rows, scaled as the source scales them, are the test split training used (unstandardized)."""
    plain = load(DataConfig.model_validate({**data, "standardize": False}), seed=seed)
    np.testing.assert_array_equal(plain.x_test, (np.asarray(rows_x) * scale).astype(plain.x_test.dtype))


@pytest.fixture(scope="session")
def runs_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("inference-runs")


@pytest.fixture(scope="session")
def table_run(runs_dir):
    """breast_cancer with a test split; early stopping keeps the epoch of the *highest* val_loss (mode max), so
    the restored weights are an earlier epoch's than the last one's."""
    from sklearn.datasets import load_breast_cancer

    data = {"source": "breast_cancer", "validation_split": 0.2, "test_split": 0.2}
    recipe = {"name": "bc", "seed": 3, "data": data, "model": {"hidden": [8]},
              "training": {**TRAINING, "early_stopping": {"monitor": "val_loss", "mode": "max", "patience": 10,
                                                          "restore_best_weights": True}}}
    run = trainlab.train(recipe, out=runs_dir / "bc")
    bunch = load_breast_cancer()
    rows = raw_split(bunch.data, bunch.target, data, 3)
    _check_raw(bunch.data[rows], data, 3)
    return TrainedRun(run, bunch.data[rows], np.asarray(bunch.target_names)[bunch.target[rows]])


@pytest.fixture(scope="session")
def regression_run(runs_dir):
    from sklearn.datasets import load_diabetes

    data = {"source": "diabetes", "validation_split": 0.2, "test_split": 0.2}
    run = trainlab.train({"name": "diabetes", "seed": 1, "data": data, "model": {"hidden": [8]},
                          "training": TRAINING}, out=runs_dir / "diabetes")
    bunch = load_diabetes()
    rows = raw_split(bunch.data, bunch.target, {**data, "stratify": False}, 1)
    _check_raw(bunch.data[rows], data, 1)
    return TrainedRun(run, bunch.data[rows], bunch.target[rows])


def tiny_cnn() -> keras.Model:
    keras.utils.set_random_seed(0)
    return keras.Sequential([
        keras.Input((8, 8, 1)),
        keras.layers.Conv2D(4, 3, activation="relu"),
        keras.layers.Flatten(),
        keras.layers.Dense(10, activation="softmax"),
    ], name="tiny_cnn")


@pytest.fixture(scope="session")
def image_run(runs_dir):
    """scikit-learn's digits as 8x8 images (raw pixels 0-16) and a tiny CNN given from Python."""
    from sklearn.datasets import load_digits

    data = {"source": "digits", "images": True, "validation_split": 0.2, "test_split": 0.2}
    run = trainlab.train({"name": "digits-cnn", "seed": 2, "data": data, "training": TRAINING},
                         out=runs_dir / "digits", model=tiny_cnn())
    bunch = load_digits()
    rows = raw_split(bunch.data, bunch.target, data, 2)
    pixels = bunch.data[rows].reshape(-1, 8, 8, 1)
    _check_raw(pixels, data, 2, scale=1 / 16)
    return TrainedRun(run, pixels, bunch.target[rows].astype(str))


def tiny_gru(vocab: int) -> keras.Model:
    keras.utils.set_random_seed(0)
    return keras.Sequential([
        keras.Input((12,), dtype="int32"),
        keras.layers.Embedding(vocab, 8),
        keras.layers.GRU(8),
        keras.layers.Dense(3, activation="softmax"),
    ], name="tiny_gru")


@pytest.fixture(scope="session")
def token_run(runs_dir):
    """Token sequences (synthetic_sequences, kind tokens) and a tiny GRU given from Python."""
    data = {"source": "synthetic_sequences", "kind": "tokens", "n_samples": 300, "n_classes": 3, "length": 12,
            "vocab_size": 20, "validation_split": 0.2, "test_split": 0.2}
    run = trainlab.train({"name": "tokens-gru", "seed": 5, "data": data, "training": TRAINING},
                         out=runs_dir / "tokens", model=tiny_gru(20))
    spec = {"name": "synthetic_sequences", **{k: v for k, v in data.items() if k not in ("source", "validation_split",
                                                                                           "test_split")}}
    raw = sources.build(spec, where="data", seed=5)
    rows = raw_split(raw.x, raw.y, data, 5)
    _check_raw(raw.x[rows], data, 5)
    return TrainedRun(run, raw.x[rows], raw.y[rows])


@pytest.fixture(scope="session")
def csv_run(runs_dir):
    """A numeric CSV with text labels (features by name), as the csv source reads it today."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(240, 3)) * [1.0, 10.0, 0.1] + [0.0, 50.0, 1.0]
    labels = np.where(x[:, 0] + 0.1 * (x[:, 1] - 50) > 0, "yes", "no")
    folder = runs_dir / "csv-data"
    folder.mkdir()
    lines = ["alpha,beta,gamma,answer"] + [f"{a!r},{b!r},{c!r},{t}" for (a, b, c), t in zip(x.tolist(), labels)]
    (folder / "data.csv").write_text("\n".join(lines) + "\n")
    data = {"source": "csv", "path": str(folder / "data.csv"), "target": "answer", "validation_split": 0.2,
            "test_split": 0.25}
    run = trainlab.train({"name": "csv", "seed": 4, "data": data, "model": {"hidden": [8]}, "training": TRAINING},
                         out=runs_dir / "csv")
    codes = (labels == "yes").astype(np.int64)  # classes sorted: no, yes
    rows = raw_split(x, codes, data, 4)
    test = folder / "test.csv"  # the test rows, columns in another order, with an extra one
    cells = x.tolist()
    test.write_text("\n".join(["id,gamma,answer,alpha,beta"] + [
        f"r{i},{cells[i][2]!r},{labels[i]},{cells[i][0]!r},{cells[i][1]!r}" for i in rows]) + "\n")
    return TrainedRun(run, test, labels[rows])


@pytest.fixture(scope="session")
def mnist_run(runs_dir):
    """A local Keras-format mnist.npz of tiny 8x8 images (pixels 0-255, its own test split) and a tiny CNN."""
    rng = np.random.default_rng(3)
    x_train, y_train = tiny_images(240, rng)
    x_test, y_test = tiny_images(45, rng)
    folder = runs_dir / "mnist-data"
    folder.mkdir()
    np.savez(folder / "mnist.npz", x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    data = {"source": "mnist", "path": str(folder / "mnist.npz"), "validation_split": 0.2}
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(4, 3, activation="relu"),
                              keras.layers.Flatten(), keras.layers.Dense(3, activation="softmax")], name="cnn")
    run = trainlab.train({"name": "mnist-tiny", "seed": 6, "data": data, "training": TRAINING},
                         out=runs_dir / "mnist", model=model)
    return TrainedRun(run, x_test, y_test.astype(str))

