"""The evaluation's numbers against scikit-learn and closed forms, and its page in headless Chromium."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from sklearn import metrics as sk

import trainlab
from trainlab.inference.evaluation import (
    calibration,
    class_scores,
    confusion_matrix,
    evaluate_outputs,
    regression_scores,
)
from trainlab.inference.evaluation_page import write_evaluation


def _probabilities(rng, n, k):
    logits = rng.normal(size=(n, k)) * 2
    p = np.exp(logits)
    return p / p.sum(axis=1, keepdims=True)


@pytest.mark.parametrize("k", [2, 4])
def test_confusion_matrix_and_class_scores_are_scikit_learns(k):
    rng = np.random.default_rng(k)
    truth = rng.integers(0, k, 200)
    predicted = np.where(rng.random(200) < 0.6, truth, rng.integers(0, k, 200))
    predicted[predicted == k - 1] = 0  # the last class is never predicted: its precision is 0/0
    matrix = confusion_matrix(truth, predicted, k)
    np.testing.assert_array_equal(matrix, sk.confusion_matrix(truth, predicted, labels=range(k)))
    per_class, averages = class_scores(matrix, [f"c{i}" for i in range(k)])
    p, r, f, s = sk.precision_recall_fscore_support(truth, predicted, labels=range(k), zero_division=0)
    np.testing.assert_allclose([c["precision"] for c in per_class], p)
    np.testing.assert_allclose([c["recall"] for c in per_class], r)
    np.testing.assert_allclose([c["f1"] for c in per_class], f)
    assert [c["support"] for c in per_class] == s.tolist()
    for average in ("macro", "weighted"):
        expected = sk.precision_recall_fscore_support(truth, predicted, labels=range(k), average=average,
                                                      zero_division=0)
        assert [averages[average][m] for m in ("precision", "recall", "f1")] == pytest.approx(expected[:3])
    assert averages["accuracy"] == pytest.approx(sk.accuracy_score(truth, predicted))


def test_calibration_bins_and_ece_by_hand():
    # Confidences 0.95, 0.95 (right, wrong), 0.65 (right), 1.0 (right: in the last bin), 0.55 (binary: max(p, 1 - p)).
    p = np.array([[0.05, 0.95], [0.05, 0.95], [0.35, 0.65], [0.0, 1.0], [0.55, 0.45]])
    truth = np.array([1, 0, 1, 1, 0])
    found = calibration(p, truth)
    bins = {round(b["lower"], 1): b for b in found["bins"] if b["n"]}
    assert sorted(bins) == [0.5, 0.6, 0.9]
    assert bins[0.9]["n"] == 3 and bins[0.9]["confidence"] == pytest.approx((0.95 + 0.95 + 1.0) / 3)
    assert bins[0.9]["accuracy"] == pytest.approx(2 / 3)
    expected = (abs(2 / 3 - 2.9 / 3) * 3 + abs(1 - 0.65) * 1 + abs(1 - 0.55) * 1) / 5
    assert found["ece"] == pytest.approx(expected)
    assert sum(b["n"] for b in found["bins"]) == 5 and len(found["bins"]) == 10


def test_a_perfectly_calibrated_model_has_a_small_ece():
    rng = np.random.default_rng(0)
    p = _probabilities(rng, 20000, 3)
    truth = np.array([rng.choice(3, p=row) for row in p])  # labels drawn from the probabilities themselves
    assert calibration(p, truth)["ece"] < 0.02
    assert calibration(p, np.argmin(p, axis=1))["ece"] > 0.3  # always wrong: far from calibrated


@pytest.mark.parametrize("targets", [1, 3])
def test_regression_scores_are_scikit_learns(targets):
    rng = np.random.default_rng(targets)
    truth = rng.normal(size=(100, targets))
    predicted = truth + rng.normal(scale=0.3, size=truth.shape)
    found = regression_scores(truth[:, 0] if targets == 1 else truth, predicted[:, 0] if targets == 1 else predicted)
    assert found["mae"] == pytest.approx(sk.mean_absolute_error(truth, predicted))
    assert found["rmse"] == pytest.approx(np.mean(np.sqrt(((truth - predicted) ** 2).mean(axis=0))))
    assert found["r2"] == pytest.approx(sk.r2_score(truth, predicted))
    assert found["residual_mean"] == pytest.approx((truth - predicted).mean())
    assert ("per_target" in found) == (targets > 1)


def test_the_evaluation_record(tmp_path):
    rng = np.random.default_rng(1)
    p = _probabilities(rng, 50, 3)
    truth = rng.integers(0, 3, 50)
    evaluation = evaluate_outputs(p, truth, "multiclass", ["a", "b", "c"], {"loss": 1.0, "accuracy": 0.4},
                                  run="r", data="d.csv")
    json_path, html_path = write_evaluation(evaluation, tmp_path / "ev")
    record = json.loads(json_path.read_text())
    assert record["run"] == "r" and record["data"] == "d.csv" and record["n"] == 50 and record["task"] == "multiclass"
    assert record["metrics"] == {"loss": 1.0, "accuracy": 0.4} and record["class_names"] == ["a", "b", "c"]
    assert np.array(record["confusion_matrix"]).sum() == 50 and len(record["per_class"]) == 3
    assert set(record["averages"]) == {"accuracy", "macro", "weighted"} and "regression" not in record
    assert html_path.read_text().startswith("<!DOCTYPE html>")
    assert sorted(p.name for p in (tmp_path / "ev").iterdir()) == ["evaluation.html", "evaluation.json"]


@pytest.mark.parametrize("name", ["table_run", "regression_run"])
def test_the_evaluation_page_renders_in_chromium_offline(request, chromium, tmp_path, name):
    trained = request.getfixturevalue(name)
    evaluation = trainlab.load(trained.dir).evaluate_split("test")
    _, page_path = write_evaluation(evaluation, tmp_path)
    source = page_path.read_text(encoding="utf-8")
    assert not re.search(r'(?:src|href)\s*=\s*"https?:', source) and "<script" not in source
    page = chromium(page_path)
    assert page.console == [] and page.requests == []
    assert f"<h1>{trained.run.recipe.name}: evaluation</h1>" in page.dom
    sections = ["metrics", "confusion", "per-class", "calibration"] if name == "table_run" else ["metrics", "residuals"]
    assert re.findall(r'<section id="([^"]+)"', page.dom) == sections
    figures = 2 if name == "table_run" else 1  # confusion matrix and reliability diagram; residuals
    assert len(re.findall(r'<img src="data:image/png;base64,', page.dom)) == figures
    from PIL import Image

    pixels = np.asarray(Image.open(page.screenshot).convert("RGB"), dtype=np.int32)
    colours = (pixels[..., 0] << 16) | (pixels[..., 1] << 8) | pixels[..., 2]
    assert len(np.unique(colours)) > 500  # text, tables and figures, not a blank page
