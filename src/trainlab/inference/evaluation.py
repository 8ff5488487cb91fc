"""A model's predictions against the truth: the run's metrics and a closer look, as ``evaluation.json``.

Classification:
    - the confusion matrix (rows: the true class, columns: the predicted class, the most probable);
    - per class precision, recall, F1 and support, as scikit-learn's
      ``precision_recall_fscore_support(..., zero_division=0)`` computes them, with their macro and
      support-weighted averages;
    - calibration: the reliability diagram's 10 equal-width bins of confidence over [0, 1] (the last
      one closed), where confidence is the predicted class's probability (for binary tasks too,
      so it lies in [0.5, 1]); per bin the samples, their mean confidence and their accuracy; and
      the expected calibration error ``ECE = sum over bins of |accuracy - confidence| * n_bin / n``.

Regression: MAE, RMSE and R² (scikit-learn's ``r2_score``, averaged over targets), and the
residuals (truth - prediction) against the predictions, summarized by their mean and standard deviation.

Everything here is NumPy on arrays; :func:`trainlab.inference.evaluation_page.write_evaluation` writes ``evaluation.json`` and the
page (:mod:`trainlab.inference.evaluation_page`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

JSON = "evaluation.json"
HTML = "evaluation.html"

#: The reliability diagram's equal-width confidence bins.
BINS = 10


@dataclass(eq=False)
class Evaluation:
    """What :func:`evaluate_outputs` found.

    Attributes:
        run: the run's name.
        data: what was evaluated (a file, a split).
        task: "binary", "multiclass" or "regression".
        n: the number of samples.
        metrics: the run's loss and metrics (``history.csv``'s names).
        class_names: the classes (classification), else None.
        confusion: ``(K, K)`` counts, rows the true class, columns the predicted one.
        per_class: per class ``{"class", "precision", "recall", "f1", "support"}``.
        averages: ``{"accuracy", "macro": {...}, "weighted": {...}}``.
        calibration: ``{"bins": [...], "ece": ...}`` (see the module).
        regression: ``{"mae", "rmse", "r2", "residual_mean", "residual_std"}`` (and per target for several).
        truth: the encoded labels or targets (for the figures; not written to JSON).
        predicted: the probabilities or predicted values (likewise).
    """

    run: str
    data: str
    task: str
    n: int
    metrics: dict[str, float]
    class_names: list[str] | None = None
    confusion: np.ndarray | None = None
    per_class: list[dict[str, Any]] | None = None
    averages: dict[str, Any] | None = None
    calibration: dict[str, Any] | None = None
    regression: dict[str, Any] | None = None
    truth: np.ndarray | None = field(default=None, repr=False)
    predicted: np.ndarray | None = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (``evaluation.json``)."""
        out: dict[str, Any] = {"run": self.run, "data": self.data, "task": self.task, "n": self.n,
                               "metrics": dict(self.metrics)}
        if self.class_names is not None:
            out.update(
                class_names=list(self.class_names),
                confusion_matrix=None if self.confusion is None else self.confusion.tolist(),
                per_class=self.per_class, averages=self.averages, calibration=self.calibration,
            )
        if self.regression is not None:
            out["regression"] = self.regression
        return out


def evaluate_outputs(
    predicted: np.ndarray,
    truth: np.ndarray,
    task: str,
    class_names: Sequence[str] | None,
    scores: Mapping[str, float] | None = None,
    *,
    run: str = "run",
    data: str = "inputs",
) -> Evaluation:
    """Evaluate predictions: probabilities ``(N, K)`` against class codes, or values against targets.

    Args:
        predicted: classification: ``(N, K)`` probabilities; regression: ``(N,)`` or ``(N, T)`` values.
        truth: class codes ``(N,)`` or targets.
        task: "binary", "multiclass" or "regression".
        class_names: the classes (None for regression).
        scores: the run's loss and metrics, computed by the caller.
        run: the run's name, for the record.
        data: what was evaluated, for the record.

    Returns:
        The :class:`Evaluation`.
    """
    predicted = np.asarray(predicted)
    truth = np.asarray(truth)
    base = dict(run=run, data=data, task=task, n=int(len(truth)), metrics=dict(scores or {}),
                truth=truth, predicted=predicted)
    if class_names is None:
        return Evaluation(**base, regression=regression_scores(truth, predicted))
    k = len(class_names)
    guess = np.argmax(predicted, axis=1)
    matrix = confusion_matrix(truth, guess, k)
    per_class, averages = class_scores(matrix, list(class_names))
    return Evaluation(**base, class_names=list(class_names), confusion=matrix, per_class=per_class,
                      averages=averages, calibration=calibration(predicted, truth))


def confusion_matrix(truth: np.ndarray, predicted: np.ndarray, k: int) -> np.ndarray:
    """``(K, K)`` int64 counts: row ``i``, column ``j`` = samples of class ``i`` predicted as ``j``."""
    matrix = np.zeros((k, k), dtype=np.int64)
    np.add.at(matrix, (np.asarray(truth, np.int64), np.asarray(predicted, np.int64)), 1)
    return matrix


def class_scores(matrix: np.ndarray, class_names: Sequence[str]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Per-class precision, recall, F1 and support from a confusion matrix, and their averages.

    A score whose denominator is 0 is 0 (scikit-learn's ``zero_division=0``).
    """
    matrix = np.asarray(matrix, np.float64)
    hits = np.diag(matrix)
    support = matrix.sum(axis=1)
    guessed = matrix.sum(axis=0)
    precision = _ratio(hits, guessed)
    recall = _ratio(hits, support)
    f1 = _ratio(2 * precision * recall, precision + recall)
    per_class = [
        {"class": str(name), "precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
        for name, p, r, f, s in zip(class_names, precision, recall, f1, support)
    ]
    total = support.sum()
    weights = support / total if total else np.zeros_like(support)
    averages = {
        "accuracy": float(hits.sum() / total) if total else 0.0,
        "macro": {"precision": float(precision.mean()), "recall": float(recall.mean()), "f1": float(f1.mean())},
        "weighted": {"precision": float(precision @ weights), "recall": float(recall @ weights),
                     "f1": float(f1 @ weights)},
    }
    return per_class, averages


def _ratio(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.divide(a, b, out=np.zeros_like(a, dtype=np.float64), where=b > 0)


def calibration(probabilities: np.ndarray, truth: np.ndarray, bins: int = BINS) -> dict[str, Any]:
    """The reliability diagram's bins and the expected calibration error (see the module).

    Returns:
        ``{"bins": [{"lower", "upper", "n", "confidence", "accuracy"}, ...], "ece": float}``;
        an empty bin has ``n`` 0 and None for its confidence and accuracy.
    """
    probabilities = np.asarray(probabilities, np.float64)
    guess = np.argmax(probabilities, axis=1)
    confidence = probabilities[np.arange(len(guess)), guess]
    correct = (guess == np.asarray(truth)).astype(np.float64)
    index = np.minimum((confidence * bins).astype(np.int64), bins - 1)  # [i/bins, (i+1)/bins); 1.0 in the last
    rows, ece = [], 0.0
    for i in range(bins):
        inside = index == i
        n = int(inside.sum())
        conf = float(confidence[inside].mean()) if n else None
        acc = float(correct[inside].mean()) if n else None
        if n:
            ece += abs(acc - conf) * n / len(confidence)
        rows.append({"lower": i / bins, "upper": (i + 1) / bins, "n": n, "confidence": conf, "accuracy": acc})
    return {"bins": rows, "ece": float(ece)}


def regression_scores(truth: np.ndarray, predicted: np.ndarray) -> dict[str, Any]:
    """MAE, RMSE, R² (averaged over targets, as ``r2_score``) and the residuals' mean and std."""
    truth = np.asarray(truth, np.float64).reshape(len(truth), -1)
    predicted = np.asarray(predicted, np.float64).reshape(len(truth), -1)
    residuals = truth - predicted
    mae = np.abs(residuals).mean(axis=0)
    rmse = np.sqrt((residuals**2).mean(axis=0))
    spread = ((truth - truth.mean(axis=0)) ** 2).sum(axis=0)
    # r2_score's rule for a constant target: 1 for a perfect fit, else 0.
    r2 = np.where(spread > 0, 1 - (residuals**2).sum(axis=0) / np.where(spread > 0, spread, 1),
                  np.where((residuals**2).sum(axis=0) == 0, 1.0, 0.0))
    out: dict[str, Any] = {"mae": float(mae.mean()), "rmse": float(rmse.mean()), "r2": float(r2.mean()),
                           "residual_mean": float(residuals.mean()), "residual_std": float(residuals.std())}
    if truth.shape[1] > 1:
        out["per_target"] = [{"target": j, "mae": float(mae[j]), "rmse": float(rmse[j]), "r2": float(r2[j])}
                             for j in range(truth.shape[1])]
    return out
