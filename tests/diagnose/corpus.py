"""A corpus of real runs for the diagnosis: healthy runs that must raise no warning, and pathological
runs that must each be named by the right rule.

Runs that share their data and epoch schedule train together in one fused study (one traced program
for all their variants and seeds); the two cases that need a hand-built model (a dead-ReLU bias, a
saturating initializer) train on their own. Built once per test session (see ``conftest.corpus``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import trainlab

QUIET = {"verbose": 0, "tensorboard": False}
EARLY = {"monitor": "val_loss", "patience": 6, "restore_best_weights": True}


@dataclass(frozen=True)
class CorpusRun:
    """One run of the corpus: where its records are and the rules any one of which must name it (none: healthy)."""

    name: str
    run_dir: Path
    expected: tuple[str, ...]


def _study(name: str, data: dict, epochs: int, variants: dict[str, dict], seeds: list[int], out: Path,
           batch_size: int = 32) -> list[CorpusRun]:
    """Train ``variants`` x ``seeds`` of healthy runs on one data set in one fused study."""
    spec = {"name": name, "base": {"name": name, "data": data,
                                   "training": {**QUIET, "epochs": epochs, "batch_size": batch_size}},
            "vary": variants, "seeds": seeds, "metric": "val_loss"}
    study = trainlab.study(spec, out=out / name, figures=False)
    return [CorpusRun(f"{name}/{v}/seed{s}", study.dir / "runs" / v / f"seed{s}", ()) for v in variants for s in seeds]


def healthy(out: Path) -> list[CorpusRun]:
    """Well-set runs on five data sources, several model sizes, optimizers and seeds (no warning expected)."""
    cls = {"source": "synthetic_classification", "n_samples": 600, "n_features": 16, "seed": 3}
    # Targets are not standardized (their scale is ~100): rates that suit it, and few informative features.
    reg = {"source": "synthetic_regression", "n_samples": 400, "n_features": 8, "n_informative": 4, "noise": 5.0,
           "seed": 4}
    early = {"training.early_stopping": EARLY}
    runs = _study("healthy_cls", cls, 40, {
        "adam_64_32": {"model.hidden": [64, 32], "optimizer": {"name": "adam", "learning_rate": 1e-3}, **early},
        "adam_16": {"model.hidden": [16], "model.dropout": 0.0,
                    "optimizer": {"name": "adam", "learning_rate": 3e-3}, **early},
        "momentum_32_16": {"model.hidden": [32, 16], "optimizer": {"name": "sgd", "learning_rate": 0.01,
                                                                   "momentum": 0.9}, **early},
        "rmsprop_32": {"model.hidden": [32], "optimizer": {"name": "rmsprop", "learning_rate": 1e-3}, **early},
    }, [0, 1], out)
    runs += _study("healthy_reg", reg, 60, {
        "adam_32": {"model.hidden": [32], "model.dropout": 0.0, "optimizer": {"name": "adam", "learning_rate": 3e-2},
                    **early},
        "adam_64_32": {"model.hidden": [64, 32], "model.dropout": 0.0,
                       "optimizer": {"name": "adam", "learning_rate": 1e-2}, **early},
        "huber_32": {"model.hidden": [32], "model.dropout": 0.0, "loss": "huber",
                     "optimizer": {"name": "adam", "learning_rate": 3e-2}, **early},
    }, [0, 1], out)
    runs += _study("healthy_cancer", {"source": "breast_cancer"}, 30, {
        "adam_32_16": {"model.hidden": [32, 16], "optimizer": {"name": "adam", "learning_rate": 1e-3}, **early},
        "adamw_16": {"model.hidden": [16], "optimizer": {"name": "adamw", "learning_rate": 1e-3}, **early},
    }, [0, 1], out)
    runs += _study("healthy_digits", {"source": "digits"}, 25, {
        "adam_64": {"model.hidden": [64], "optimizer": {"name": "adam", "learning_rate": 1e-3}, **early},
        "nadam_32": {"model.hidden": [32], "optimizer": {"name": "nadam", "learning_rate": 2e-3}, **early},
    }, [0], out, batch_size=64)
    runs += _study("healthy_iris", {"source": "iris"}, 60, {
        "adam_16": {"model.hidden": [16], "model.dropout": 0.0, "optimizer": {"name": "adam", "learning_rate": 1e-2},
                    **early},
        "adam_8_8": {"model.hidden": [8, 8], "model.dropout": 0.0,
                     "optimizer": {"name": "adam", "learning_rate": 1e-2}, **early},
    }, [0], out, batch_size=16)
    return runs


SMALL = {"source": "synthetic_classification", "n_samples": 400, "n_features": 10}


def pathological(out: Path) -> list[CorpusRun]:
    """Runs built to show one fault each, trained one at a time (seed 1), with the rule that must name it."""
    def train(name: str, expected: str | tuple[str, ...], model=None, **recipe) -> CorpusRun:
        training = {**QUIET, **recipe.pop("training")}
        if isinstance(model, dict):
            recipe["model"], model = model, None
        run = trainlab.train({"name": name, "seed": 1, **recipe, "training": training}, out=out / name, model=model)
        return CorpusRun(name, run.dir, (expected,) if isinstance(expected, str) else expected)

    return [
        train("nan", "nonfinite", data={**SMALL, "n_samples": 200, "n_features": 8}, model={"hidden": [16]},
              optimizer={"name": "sgd", "learning_rate": 1e12}, training={"epochs": 3, "on_nonfinite": "stop"}),
        train("vanish", "vanishing_gradients", data=SMALL, model={"hidden": [32] * 6, "activation": "sigmoid",
              "dropout": 0.0}, optimizer={"name": "sgd", "learning_rate": 0.01}, training={"epochs": 5}),
        train("overfit", "overfitting",
              data={"source": "synthetic_classification", "n_samples": 120, "n_features": 20, "flip_y": 0.3},
              model={"hidden": [256, 256], "dropout": 0.0}, optimizer={"name": "adam", "learning_rate": 0.01},
              training={"epochs": 60}),
        train("slow", "lr_too_low", data=SMALL, model={"hidden": [32, 16]},
              optimizer={"name": "sgd", "learning_rate": 1e-3}, training={"epochs": 20}),
        train("crawl", "lr_too_low", data={"source": "synthetic_classification", "n_samples": 1000},
              model={"hidden": [64, 32]}, optimizer={"name": "sgd", "learning_rate": 1e-5}, training={"epochs": 30}),
        # chaotic: the loss rises back, or (with other rounding) goes non-finite
        train("bouncy", ("divergence", "nonfinite"), data=SMALL, model={"hidden": [32, 16]},
              optimizer={"name": "sgd", "learning_rate": 5.0}, training={"epochs": 20}),
        # Adam at 1.0: the gradient norm jumps ~700x its recent median (and the hidden units die)
        train("too_fast", "exploding_gradients", data=SMALL, model={"hidden": [32, 16]},
              optimizer={"name": "adam", "learning_rate": 1.0}, training={"epochs": 20}),
        train("dead", "dead_relu", data=SMALL, model=_mlp("relu", "glorot_uniform", bias=-4.0), training={"epochs": 6}),
        train("saturated", "saturation", data=SMALL, model=_mlp("tanh", _normal(2.0)), training={"epochs": 6}),
    ]


def _normal(stddev: float):
    import keras

    return keras.initializers.RandomNormal(stddev=stddev)


def _mlp(activation, initializer, bias=0.0, n_inputs=10):
    """A 32-16 MLP built by hand (the recipe cannot set a bias initializer), seeded like the runs."""
    import keras

    keras.utils.set_random_seed(1)
    inputs = keras.Input((n_inputs,))
    x = keras.layers.Dense(32, activation=activation, kernel_initializer=initializer,
                           bias_initializer=keras.initializers.Constant(bias), name="dense_1")(inputs)
    x = keras.layers.Dense(16, activation=activation, kernel_initializer=initializer, name="dense_2")(x)
    return keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid", name="output")(x))
