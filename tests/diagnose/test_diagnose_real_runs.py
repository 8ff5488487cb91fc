"""The rules on tiny real runs built to show them (and a healthy one that must raise nothing serious)."""

from __future__ import annotations

import pytest

import trainlab
from trainlab.diagnose import diagnose

QUIET = {"verbose": 0, "tensorboard": False}


def train(tmp_path, name, **recipe):
    run = trainlab.train({"name": name, "seed": 1, **recipe}, out=tmp_path / name)
    return diagnose(run.dir)


def rules(findings):
    return [f.rule for f in findings]


def test_huge_learning_rate_is_nonfinite(tmp_path):
    findings = train(tmp_path, "nan", data={"source": "synthetic_classification", "n_samples": 200, "n_features": 8},
                     model={"hidden": [16]}, optimizer={"name": "sgd", "learning_rate": 1e12},
                     training={**QUIET, "epochs": 3})
    first = findings[0]
    assert first.rule == "nonfinite" and first.severity == "error"
    assert first.evidence["first_epoch"] == 1 and first.evidence["lr"] > 1e11


def test_deep_sigmoid_mlp_has_vanishing_gradients(tmp_path):
    findings = train(tmp_path, "vanish",
                     data={"source": "synthetic_classification", "n_samples": 400, "n_features": 10},
                     model={"hidden": [32] * 6, "activation": "sigmoid", "dropout": 0.0},
                     optimizer={"name": "sgd", "learning_rate": 0.01}, training={**QUIET, "epochs": 5})
    assert "vanishing_gradients" in rules(findings)
    finding = next(f for f in findings if f.rule == "vanishing_gradients")
    assert finding.evidence["first_layer"] == "dense_1" and finding.evidence["output_layer"] == "output"
    assert finding.evidence["ratio"] < 1e-2 and finding.evidence["n_layers"] == 7


def test_wide_network_on_tiny_noisy_data_overfits(tmp_path):
    findings = train(tmp_path, "overfit",
                     data={"source": "synthetic_classification", "n_samples": 120, "n_features": 20, "flip_y": 0.3},
                     model={"hidden": [256, 256], "dropout": 0.0}, optimizer={"name": "adam", "learning_rate": 0.01},
                     training={**QUIET, "epochs": 60})
    assert rules(findings) == ["overfitting"]
    evidence = findings[0].evidence
    assert evidence["best_epoch"] < 20 and evidence["final_val_loss"] > 1.1 * evidence["min_val_loss"]
    assert evidence["final_gap"] > evidence["gap_at_best"]


def test_healthy_run_with_early_stopping_raises_nothing(tmp_path):
    findings = train(tmp_path, "healthy",
                     data={"source": "synthetic_classification", "n_samples": 1000, "n_features": 20,
                           "validation_split": 0.2},
                     model={"hidden": [64, 32], "dropout": [0.2, 0.0]},
                     optimizer={"name": "adam", "learning_rate": 1e-3},
                     training={**QUIET, "epochs": 100,
                               "early_stopping": {"monitor": "val_loss", "patience": 10, "restore_best_weights": True}})
    assert findings == []


SMALL = {"source": "synthetic_classification", "n_samples": 400, "n_features": 10}


def test_plain_sgd_with_a_small_rate_is_lr_too_low(tmp_path):
    findings = train(tmp_path, "slow", data=SMALL, model={"hidden": [32, 16]},
                     optimizer={"name": "sgd", "learning_rate": 1e-3}, training={**QUIET, "epochs": 20})
    assert rules(findings) == ["lr_too_low"]
    assert findings[0].evidence["lr"] == pytest.approx(1e-3)


def test_sgd_with_rate_5_breaks_down(tmp_path):
    findings = train(tmp_path, "bouncy", data=SMALL, model={"hidden": [32, 16]},
                     optimizer={"name": "sgd", "learning_rate": 5.0}, training={**QUIET, "epochs": 20})
    assert findings[0].severity == "error"
    assert {"divergence", "plateau"} <= set(rules(findings))


def _mlp(activation, initializer, bias=0.0, n_inputs=10):
    import keras

    inputs = keras.Input((n_inputs,))
    x = keras.layers.Dense(32, activation=activation, kernel_initializer=initializer,
                           bias_initializer=keras.initializers.Constant(bias), name="dense_1")(inputs)
    x = keras.layers.Dense(16, activation=activation, kernel_initializer=initializer, name="dense_2")(x)
    return keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid", name="output")(x))


def test_relu_layer_with_a_negative_bias_is_dead(tmp_path):
    import keras

    keras.utils.set_random_seed(1)
    run = trainlab.train({"name": "dead", "seed": 1, "data": SMALL, "training": {**QUIET, "epochs": 6}},
                         out=tmp_path / "dead", model=_mlp("relu", "glorot_uniform", bias=-4.0))
    findings = diagnose(run.dir)
    dead = next(f for f in findings if f.rule == "dead_relu")
    assert dead.evidence["dead_fraction"]["dense_1"] > 0.9


def test_tanh_with_large_initial_weights_saturates(tmp_path):
    import keras

    keras.utils.set_random_seed(1)
    run = trainlab.train({"name": "saturated", "seed": 1, "data": SMALL, "training": {**QUIET, "epochs": 6}},
                         out=tmp_path / "saturated", model=_mlp("tanh", keras.initializers.RandomNormal(stddev=2.0)))
    findings = diagnose(run.dir)
    saturated = next(f for f in findings if f.rule == "saturation")
    assert saturated.evidence["saturated_fraction"]["dense_1"] > 0.5
