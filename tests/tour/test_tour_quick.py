"""``trainlab tour --quick`` end to end: every section's numbers against the tutorial's (TUTORIAL-SPEC).

The tour runs once (the ``quick_tour`` fixture in conftest.py) through the command line, as a user
runs it; the tests then read its ``tour.json``, terminal lines and ``report.html``. The facts below
are copied from the tutorial's specification on purpose, not imported from ``trainlab.tour.sections.facts``:
a wrong fact in the tour must not check itself.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import unquote

import pytest

LOSS_TOL = 1e-4
# TUTORIAL-SPEC, section 1
BCE_PROBABILITIES, BCE_LOGITS = 0.20274, 0.20442
SPARSE_PER_SAMPLE = [0.31678, 0.17477, 0.27374, 0.44212, 0.42155]
REGRESSION = {"mean squared error": 0.022, "mean absolute error": 0.14, "Huber (delta 1)": 0.011,
              "mean squared logarithmic error": 0.0015700}
FOCAL_CORRECT, FOCAL_TUTORIAL = 0.0036009, 0.0029397
# Sections 4, 5 and 6 (trained: the stated tolerances)
FIRST_EPOCH = {"loss": 0.6361, "accuracy": 0.645, "val_loss": 0.5369, "val_accuracy": 0.78}
FIRST_EPOCH_TOL = 0.05
ADVANCED_VAL_ACCURACY, VAL_ACCURACY_TOL = 0.91, 0.03
REGULARIZATION = {"none": 0.9533, "dropout": 0.9333, "batch_norm": 0.9467, "both": 0.9467}
REGULARIZATION_TOL = 0.05


def values(quick_tour, number: int) -> dict:
    section = quick_tour["sections"][number]
    assert section["error"] is None, section["error"]
    return section["values"]


def test_every_section_ran_and_printed_one_line(quick_tour):
    errors = quick_tour["out"] / "errors.txt"
    assert quick_tour["status"] == 0, errors.read_text() if errors.exists() else quick_tour["stderr"]
    assert sorted(quick_tour["sections"]) == list(range(1, 12))
    assert all(s["error"] is None for s in quick_tour["sections"].values())
    lines = quick_tour["lines"]
    assert len(lines) == 12  # one per section, then where the report is
    for number, line in zip(range(1, 12), lines):
        assert re.match(rf"\s*{number}\. \S", line), line
        assert re.search(r"\d (ms|s) ", line), line  # the section's time
    assert lines[-1].startswith("report: ") and "report.html" in lines[-1]
    assert quick_tour["tour"]["quick"] is True
    assert not (quick_tour["out"] / "errors.txt").exists()


def test_section_1_losses_match_the_tutorial(quick_tour):
    v = values(quick_tour, 1)
    losses = v["losses"]
    assert losses["binary cross-entropy (probabilities)"] == pytest.approx(BCE_PROBABILITIES, abs=LOSS_TOL)
    assert losses["binary cross-entropy (logits)"] == pytest.approx(BCE_LOGITS, abs=LOSS_TOL)
    for name, expected in REGRESSION.items():
        assert losses[name] == pytest.approx(expected, abs=LOSS_TOL), name
    assert v["sparse_per_sample"] == pytest.approx(SPARSE_PER_SAMPLE, abs=LOSS_TOL)
    assert v["categorical_per_sample"] == pytest.approx(SPARSE_PER_SAMPLE, abs=LOSS_TOL)
    assert v["focal"] == pytest.approx(FOCAL_CORRECT, abs=LOSS_TOL)
    assert v["focal_correct"] == pytest.approx(FOCAL_CORRECT, abs=1e-7)  # the definition, recomputed
    assert v["focal_tutorial_formula"] == pytest.approx(FOCAL_TUTORIAL, abs=1e-7)  # the bug, reproduced
    assert v["focal_from_logits"] == pytest.approx(v["focal_on_sigmoid"], rel=1e-5)
    assert v["sparse_focal"] == pytest.approx(v["categorical_focal"], rel=1e-6)
    assert v["tf_keras_has"] == {"mean_squared_error": False, "mean_absolute_error": False,
                                 "mean_squared_logarithmic_error": False}
    assert all(v["keras_has"].values())


def test_section_2_race_follows_the_closed_form(quick_tour):
    v = values(quick_tour, 2)
    assert v["steps_to_tol"]["sgd/quadratic"] == 21  # 8 (1 - 2 lr)^(2t) < 1e-3 from t = 21
    assert v["final_loss"]["sgd/quadratic"] == pytest.approx(v["sgd_closed_form"], rel=0.05)
    assert v["steps_to_tol"]["adagrad/quadratic"] is None


def test_section_3_the_custom_schedule_bugs_are_fixed(quick_tour):
    v = values(quick_tour, 3)
    assert v["rate_at_50"] == pytest.approx(0.0005, rel=1e-6)  # halfway up the warm-up, from a Python int
    assert v["round_trip"] is True and v["saved"] is True
    assert v["empty_warmup_at_0"] == pytest.approx(0.001, rel=1e-6)
    assert v["keras_max_difference"] < 1e-7


def test_section_4_first_epoch_is_close_to_the_tutorials(quick_tour):
    v = values(quick_tour, 4)
    for key, expected in FIRST_EPOCH.items():
        assert v["first_epoch"][key] == pytest.approx(expected, abs=FIRST_EPOCH_TOL), key
    assert v["epochs"] == 10  # --quick


def test_section_5_stops_early_near_the_tutorials_accuracy(quick_tour):
    v = values(quick_tour, 5)
    assert v["stopped_early"] and v["restored_best_weights"]
    assert v["epochs"] == v["best_epoch"] + 15  # patience 15
    assert v["val_accuracy"] == pytest.approx(ADVANCED_VAL_ACCURACY, abs=VAL_ACCURACY_TOL)
    stop = next(c for c in quick_tour["sections"][5]["compared"] if c["what"] == "stopped at epoch")
    assert stop["note"].startswith(f"15 epochs after the best one ({v['best_epoch']}), as patience 15 says")


def test_section_6_runs_seeds_and_says_whether_the_ranking_survives(quick_tour):
    v = values(quick_tour, 6)
    assert v["seeds"] == [0, 1] and v["runs"] == 8
    assert set(v["executors"].values()) == {"fused (4 runs together, 2 seeds in turn in one traced program)"}
    for variant, expected in REGULARIZATION.items():
        assert v["final"][variant]["n"] == 2
        assert v["final"][variant]["mean"] == pytest.approx(expected, abs=REGULARIZATION_TOL), variant
    assert "x 2 seeds, fused) in " in quick_tour["lines"][5]  # what ran, from the study's record
    # The verdict follows the tests, whatever the order of the means: 'none' (the tutorial's best) beaten, or a
    # variant below 'dropout' (its worst), overturns it; 'dropout' below every other variant confirms it.
    overturned = "none" in v["beaten"] or v["worse_than_worst"] != []
    confirmed = not overturned and v["below"] == ["batch_norm", "both", "none"]
    assert v["ranking"] == ("does not survive" if overturned else "survives" if confirmed else "undecided")
    words = {"survives": "survives", "does not survive": "does not survive", "undecided": "is not decided by the seeds"}
    assert quick_tour["lines"][5].endswith(f"the tutorial's ranking {words[v['ranking']]} (tests at 2 seeds)")


def test_section_7_l1_shrinks_the_first_layer(quick_tour):
    v = values(quick_tour, 7)
    norms = v["norms"]
    assert norms["l1"]["l1"] < norms["none"]["l1"] / 2
    assert norms["l1"]["near_zero"] > norms["none"]["near_zero"]
    assert v["runs"] == 8


def test_section_8_the_plateau_rule_scales_the_schedule(quick_tour):
    v = values(quick_tour, 8)
    assert v["source"].startswith("digits")
    assert v["scale_is_power_of_half"] is True
    assert v["verdicts"]["rate after a plateau reduction"] == "fixed"
    found = json.loads((quick_tour["out"] / "08-lr-find" / "lr_find.json").read_text())  # lr-find ran, here
    rate = v["lr_find"]["suggestion"]
    assert rate == found["suggestion"] and 1e-4 < rate < 1.0 and v["lr_find"]["rule"] == found["rule"]
    recipe = (quick_tour["out"] / f"08-callbacks-lr-{rate:g}" / "recipe.yaml").read_text()
    assert f"initial_learning_rate: {rate}" in recipe  # the second run trained at the suggestion
    assert f"at lr-find's suggestion {rate:.2g} the plateau rule fired" in quick_tour["lines"][7]
    fired = v["plateau_epochs"]
    assert any(fired.values()), fired  # at lr-find's rate the validation loss stalls
    for label, epochs in fired.items():
        scales = v["scales"][label]
        for epoch in epochs:  # the rate halves at each reduction and stays there
            assert scales[epoch - 1] == pytest.approx(scales[epoch - 2] * 0.5, rel=1e-3)
    assert v["test_accuracy"] > 0.85
    assert "checkpoints/best.keras" in v["artifacts"]["model checkpoint (best val_accuracy)"]


def test_section_9_the_custom_stop_never_fires_on_random_labels(quick_tour):
    v = values(quick_tour, 9)
    assert v["stopped_at"] is None and v["epochs"] == 20 and v["callback_calls"] == 20
    assert v["best_val_accuracy"] < 0.95


def test_section_10_scales_validation_with_the_training_statistics(quick_tour):
    v = values(quick_tour, 10)
    assert v["standardized"] is True and v["label_dtype"] == "int64"
    leak = v["leak"]
    assert 0 < abs(leak["mean"]) < 0.2 and leak["max_shift"] > 0  # not the validation set's own statistics
    assert leak["training_statistics"] is True
    assert v["verdicts"] == {"validation features scaled with": "fixed", "accuracy with int64 labels": "fixed",
                             "gradient norm": "new", "diagnosis": "new"}
    assert quick_tour["lines"][9].endswith("validation scaled with the training statistics, int64 labels fine")
    assert v["epochs"] == 20


def test_section_11_finds_every_feature_its_advice_names(quick_tour):
    v = values(quick_tour, 11)
    assert v["missing"] == [] and v["claims"] > 20


def test_the_report_is_one_self_contained_page(quick_tour):
    out = quick_tour["out"]
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "Content-Security-Policy" in page and "<script" not in page
    assert not re.search(r'(?:src|href)\s*=\s*"(?:https?:|//)', page)
    for number in range(1, 12):
        assert f'<section id="s{number}"' in page
    figures = sum(len(s["figures"]) for s in quick_tour["sections"].values())
    assert figures >= 14
    assert len(re.findall(r'<img src="data:image/png;base64,', page)) == figures  # every figure drawn and inline
    links = re.findall(r'<a href="([^"#][^"]*)"', page)
    assert links
    for link in links:  # every run and study directory the tour made, relative to the report
        assert (out / unquote(link)).exists(), link
    for folder in ("04-basic", "05-advanced", "06-regularization", "07-weight-decay", "08-callbacks",
                   "09-custom-callback", "10-monitor"):
        assert (out / folder / "report.html").is_file(), folder
