"""Each verdict and line the tour prints comes from the numbers it computed: a wrong number turns it.

The sections' verdicts are built from small functions of the run's numbers; each is fed the right
number and a wrong one here (section 1 runs whole, with its computation replaced), without training.
"""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest

from trainlab.tour.section import Context, find_examples
from trainlab.tour.sections import advice, basics, callbacks, runs, studies

FOCAL_CORRECT, FOCAL_TUTORIAL = 0.0036009, 0.0029397
REGULARIZATION = {"none": 0.9533, "dropout": 0.9333, "batch_norm": 0.9467, "both": 0.9467}


@pytest.fixture
def ctx(tmp_path):
    return Context(tmp_path, True, find_examples())


def _row(section, what):
    return next(c for c in section.compared if c.what.startswith(what))


def test_section_1_the_focal_loss_is_fixed_only_when_it_equals_the_correct_value(ctx, monkeypatch):
    right = basics.losses(ctx)
    assert right.values["focal_correct"] == pytest.approx(FOCAL_CORRECT, abs=1e-7)  # the definition, recomputed
    assert _row(right, "focal loss").verdict == "fixed" and "does NOT" not in right.line
    monkeypatch.setattr(basics, "focal_value", lambda y, p: FOCAL_TUTORIAL)  # the tutorial's bug, say
    wrong = basics.losses(ctx)
    assert _row(wrong, "focal loss").verdict == "differs"
    assert f"focal {FOCAL_TUTORIAL:.5f} does NOT match the correct {FOCAL_CORRECT:.5f}" in wrong.line


def _race(steps_to_tol, final_sgd, diverged=()):
    names = ["sgd", "momentum", "adam", "rmsprop", "adagrad"]
    functions = ["quadratic", "rosenbrock"]
    to_tol = {(o, f): steps_to_tol.get(o) if f == "quadratic" else None for o in names for f in functions}
    final = {(o, f): 1e-9 for o in names for f in functions}
    final[("sgd", "quadratic")] = final_sgd
    gone = {(o, f): (3 if (o, f) in diverged else None) for o in names for f in functions}
    return functions, to_tol, final, gone


def test_section_2_the_caption_names_the_winner_and_checks_the_closed_form():
    closed = 1.63e-9
    caption = basics.race_caption(*_race({"sgd": 21, "momentum": 10, "adam": 30}, 1.62e-9,
                                         {("sgd", "rosenbrock")}), closed)
    assert "momentum gets there first (step 10)" in caption and "SGD follows its closed form" in caption
    assert "on rosenbrock, sgd diverges" in caption
    caption = basics.race_caption(*_race({"sgd": 21, "momentum": 25, "adam": 4}, 5e-9), closed)
    assert "adam gets there first (step 4)" in caption and "momentum" not in caption.split("first")[0]
    assert "SGD does NOT follow its closed form" in caption
    assert "on rosenbrock, none diverge" in caption


def test_section_5_the_stop_is_described_from_the_run():
    assert runs.stop_compared(48, 33, True, 15).note.startswith("15 epochs after the best one (33), as patience 15")
    late = runs.stop_compared(52, 33, True, 15)
    assert late.note.startswith("19 epochs after the best one (33), though patience is 15")
    assert late.verdict == "differs"
    assert runs.stop_compared(33, 18, True, 15).verdict == "same"  # the tutorial's epoch
    never = runs.stop_compared(100, 90, False, 15)
    assert never.trainlab == "100 (did not stop)" and never.note.startswith("did not stop")


def _curve(exact, fired):
    return {"exact": exact, "fired": fired}


def test_section_8_the_plateau_row_is_fixed_only_when_the_check_was_exact_and_a_reduction_fired():
    assert callbacks.plateau_compared({"a": _curve(True, []), "b": _curve(True, [18])}).verdict == "fixed"
    inexact = callbacks.plateau_compared({"a": _curve(True, []), "b": _curve(False, [18])})
    assert inexact.verdict == "differs" and "NOT" in inexact.trainlab
    assert callbacks.plateau_compared({"a": _curve(True, []), "b": _curve(True, [])}).verdict == "differs"


def _splits(rng, own_statistics=False):
    raw_train, raw_val = rng.normal(3.0, 2.0, (400, 5)), rng.normal(3.5, 2.5, (100, 5))
    mean, std = raw_train.mean(axis=0), raw_train.std(axis=0)
    x_val = ((raw_val - raw_val.mean(axis=0)) / raw_val.std(axis=0) if own_statistics else (raw_val - mean) / std)
    return SimpleNamespace(x_train=((raw_train - mean) / std).astype(np.float32), x_val=x_val.astype(np.float32),
                           mean=mean, std=std, standardized=True)


def test_section_10_the_scaling_row_is_fixed_only_when_the_training_statistics_scaled_the_validation_split():
    rng = np.random.default_rng(0)
    right = runs.scaling_check(_splits(rng))
    assert right["training_statistics"] and right["max_shift"] > 0.1
    assert runs.scaling_compared(right).verdict == "fixed"
    leaked = runs.scaling_check(_splits(rng, own_statistics=True))  # the tutorial's way
    assert not leaked["training_statistics"] and leaked["max_shift"] < 1e-5
    assert runs.scaling_compared(leaked).verdict == "differs"


def test_section_10_the_int64_row_is_fixed_only_with_int64_labels_and_a_finite_accuracy():
    assert runs.labels_compared(np.dtype("int64"), 0.85).verdict == "fixed"
    assert runs.labels_compared(np.dtype("float32"), 0.85).verdict == "differs"
    assert runs.labels_compared(np.dtype("int64"), float("nan")).verdict == "differs"


def _values(**means):
    spread = {"tight": [-0.002, 0.0, 0.002], "loose": [-0.04, 0.0, 0.04]}
    return {v: [m + d for d in spread[kind]] for v, (m, kind) in means.items()}


def test_section_6_a_noise_level_swap_does_not_overturn_the_ranking():
    # 'batch_norm' edges out the tutorial's best 'none' by noise; 'dropout' is clearly last: the ranking survives,
    # though the means' order is not the tutorial's (the old verdict said it did not survive).
    values = _values(none=(0.950, "loose"), batch_norm=(0.955, "loose"), both=(0.947, "loose"),
                     dropout=(0.700, "tight"))
    verdict = studies.ranking_verdict(REGULARIZATION, values)
    assert verdict["order"][0] == "batch_norm" and verdict["same_order"] is False
    assert verdict["ranking"] == "survives" and verdict["below"] == ["batch_norm", "both", "none"]
    assert verdict["sentence"].startswith("The tutorial's ranking survives at 3 seeds")


def test_section_6_a_distinguishably_beaten_best_does_not_survive():
    values = _values(none=(0.90, "tight"), batch_norm=(0.96, "tight"), both=(0.95, "tight"), dropout=(0.93, "tight"))
    verdict = studies.ranking_verdict(REGULARIZATION, values)
    assert verdict["ranking"] == "does not survive" and verdict["beaten"] == ["none"]
    assert "'none' is distinguishable from the best, 'batch_norm'" in verdict["sentence"]


def test_section_6_overlapping_seeds_leave_the_ranking_undecided():
    values = _values(none=(0.95, "loose"), batch_norm=(0.94, "loose"), both=(0.945, "loose"), dropout=(0.935, "loose"))
    verdict = studies.ranking_verdict(REGULARIZATION, values)
    assert verdict["ranking"] == "undecided" and verdict["same_order"] is True  # the means agree; the tests cannot
    assert verdict["sentence"].startswith("The seeds cannot decide the tutorial's ranking at 3 seeds")


def test_sections_6_and_7_say_which_executor_ran(tmp_path):
    (tmp_path / "study.json").write_text(json.dumps({"wall_time_s": 4.0}))
    study = SimpleNamespace(results=[{}] * 8, dir=tmp_path, executors={"none": "sequential", "l1": "sequential"},
                            spec=SimpleNamespace(variants=["none", "l1"], config=SimpleNamespace(seeds=[0, 1, 2, 3])))
    headline = studies.study_headline(study, 36.9)
    assert headline == "8 runs (2 variants x 4 seeds, sequential) in 4.0 s (tutorial 36.9 s for 4)"
    study.executors = {"none": "fused (2 runs together, 4 seeds in turn in one traced program)",
                       "l1": "dask: fused (2 runs together)"}
    assert "(2 variants x 4 seeds, dask: fused, fused)" in studies.study_headline(study, 36.9)


def test_section_11_looks_up_every_feature_it_names(ctx, monkeypatch):
    section = advice.advice(ctx)
    assert section.values["missing"] == [] and section.values["claims"] > 20
    claims = {**advice.CLAIMS, "Schedule the learning rate": [("schedule", "cosine"), ("schedule", "no_such")]}
    monkeypatch.setattr(advice, "CLAIMS", claims)
    section = advice.advice(ctx)
    assert section.values["missing"] == ["schedule no_such"] and "MISSING: schedule no_such" in section.line
    assert not advice.exists("key", "training.no_such") and advice.exists("key", "training.early_stopping")
