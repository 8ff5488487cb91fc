"""The rules on tiny real runs built to show them (and a healthy one that must raise nothing serious).

The pathological runs are the corpus's (``corpus.pathological``: the recipes these tests trained
before, trained once per session).
"""

from __future__ import annotations

import pytest

import trainlab
from trainlab.diagnose import diagnose

QUIET = {"verbose": 0, "tensorboard": False}


def train(tmp_path, name, **recipe):
    run = trainlab.train({"name": name, "seed": 1, **recipe}, out=tmp_path / name)
    return diagnose(run.dir)


def run_of(corpus, name):
    return diagnose(corpus[name].run_dir)


def rules(findings):
    return [f.rule for f in findings]


def test_huge_learning_rate_is_nonfinite(corpus):
    findings = run_of(corpus, "nan")
    first = findings[0]
    assert first.rule == "nonfinite" and first.severity == "error"
    assert first.evidence["first_epoch"] == 1 and first.evidence["lr"] > 1e11


def test_deep_sigmoid_mlp_has_vanishing_gradients(corpus):
    findings = run_of(corpus, "vanish")
    assert "vanishing_gradients" in rules(findings)
    finding = next(f for f in findings if f.rule == "vanishing_gradients")
    assert finding.evidence["first_layer"] == "dense_1" and finding.evidence["output_layer"] == "output"
    assert finding.evidence["ratio"] < 1e-2 and finding.evidence["n_layers"] == 7


def test_wide_network_on_tiny_noisy_data_overfits(corpus):
    findings = run_of(corpus, "overfit")
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


def test_plain_sgd_with_a_small_rate_is_lr_too_low(corpus):
    findings = run_of(corpus, "slow")
    assert rules(findings) == ["lr_too_low"]
    assert findings[0].evidence["lr"] == pytest.approx(1e-3)


def test_sgd_with_rate_5_breaks_down(corpus):
    # A chaotic run: which other rules fire besides the one that defines it depends on the CPU's
    # rounding (oneDNN on or off), so only the defining finding is asserted: an error saying the rate
    # broke training (the loss rose back, or went non-finite) and to lower it.
    findings = run_of(corpus, "bouncy")
    assert findings[0].severity == "error" and findings[0].rule in {"divergence", "nonfinite"}
    assert "lower the learning rate" in findings[0].advice


def test_relu_layer_with_a_negative_bias_is_dead(corpus):
    findings = run_of(corpus, "dead")
    dead = next(f for f in findings if f.rule == "dead_relu")
    assert dead.evidence["dead_fraction"]["dense_1"] > 0.9


def test_tanh_with_large_initial_weights_saturates(corpus):
    findings = run_of(corpus, "saturated")
    saturated = next(f for f in findings if f.rule == "saturation")
    assert saturated.evidence["saturated_fraction"]["dense_1"] > 0.5
