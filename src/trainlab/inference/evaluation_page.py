"""``evaluation.html``: one self-contained page about an evaluation, in the run report's style.

Framed and styled by :mod:`trainlab.report.page` (everything inline, a Content-Security-Policy that
forbids loading anything else, no JavaScript); the figures are PNGs drawn by Agg
(:mod:`trainlab.monitor.axes`) and embedded as ``data:`` URIs. Every text from the data is escaped.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from trainlab.inference.evaluation import BINS, HTML, JSON, Evaluation
from trainlab.monitor import axes as draw
from trainlab.rundir import layout
from trainlab.report.page import escape as _e
from trainlab.report.page import nav_and_body, page, png_uri

#: Classes up to which the confusion matrix figure writes each cell's count.
ANNOTATED_CLASSES = 20


def render_page(evaluation: Evaluation) -> str:
    """The page of an evaluation as one HTML string (UTF-8, no external reference of any kind)."""
    ev = evaluation
    sections = [("metrics", "Metrics", _metrics(ev))]
    if ev.class_names is not None:
        sections += [
            ("confusion", "Confusion matrix", _confusion(ev)),
            ("per-class", "Per class", _per_class(ev)),
            ("calibration", "Calibration", _calibration(ev)),
        ]
    else:
        sections.append(("residuals", "Residuals", _residuals(ev)))
    nav, body = nav_and_body(sections)
    facts = [f"{ev.task}", f"{ev.n} samples", f"data: {ev.data}"]
    header = (f"<h1>{_e(ev.run)}: evaluation</h1>\n"
              f'<p class="facts">{_e(" · ".join(facts))}</p>')
    return page(title=f"{ev.run}: evaluation on {ev.data} (trainlab)", header=header, nav=nav, body=body,
                footer=_e(f"Drawn by trainlab evaluate: the model of the run {ev.run} on {ev.data}."))


# ---------------------------------------------------------------------------------- sections
def _metrics(ev: Evaluation) -> str:
    rows = list(ev.metrics.items())
    if ev.averages is not None and "accuracy" not in ev.metrics:
        rows.append(("accuracy (the most probable class)", ev.averages["accuracy"]))
    if ev.calibration is not None:
        rows.append(("expected calibration error", ev.calibration["ece"]))
    if ev.regression is not None:
        rows += [(name, ev.regression[key]) for name, key in (("MAE", "mae"), ("RMSE", "rmse"), ("R²", "r2"))
                 if key not in ev.metrics]
    cells = "".join(f"<tr><th>{_e(k)}</th><td>{_e(_fmt(v))}</td></tr>" for k, v in rows)
    note = ('<p class="note">The first rows are the run\'s own loss and metrics, as its history names them '
            "(the loss includes the model's regularization, as Keras reports it).</p>") if ev.metrics else ""
    return f'<table class="metrics"><tbody>{cells}</tbody></table>{note}'


def _confusion(ev: Evaluation) -> str:
    names = ev.class_names or []
    head = "".join(f"<th>{_e(n)}</th>" for n in names)
    body = "".join(
        f"<tr><th>{_e(name)}</th>" + "".join(f"<td>{int(c)}</td>" for c in row) + "</tr>"
        for name, row in zip(names, ev.confusion)
    )
    table = (f'<table class="metrics"><thead><tr><th>true \\ predicted</th>{head}</tr></thead>'
             f"<tbody>{body}</tbody></table>")
    return _figure(confusion_figure(ev), "Confusion matrix", "Rows: the true class; columns: the most probable "
                   "class. The diagonal holds the correct predictions.") + table


def _per_class(ev: Evaluation) -> str:
    rows = "".join(
        f"<tr><th>{_e(c['class'])}</th><td>{_fmt(c['precision'])}</td><td>{_fmt(c['recall'])}</td>"
        f"<td>{_fmt(c['f1'])}</td><td>{c['support']}</td></tr>" for c in ev.per_class or []
    )
    for name in ("macro", "weighted"):
        avg = ev.averages[name]
        rows += (f"<tr><th>{name} average</th><td>{_fmt(avg['precision'])}</td><td>{_fmt(avg['recall'])}</td>"
                 f"<td>{_fmt(avg['f1'])}</td><td>{ev.n}</td></tr>")
    return ('<table class="metrics"><thead><tr><th>class</th><th>precision</th><th>recall</th><th>F1</th>'
            f"<th>support</th></tr></thead><tbody>{rows}</tbody></table>"
            '<p class="note">A score whose denominator is 0 (a class never predicted, or absent) is 0. '
            "The weighted average weighs each class by its support.</p>")


def _calibration(ev: Evaluation) -> str:
    cal = ev.calibration
    rows = "".join(
        f"<tr><th>[{b['lower']:.1f}, {b['upper']:.1f}{']' if b['upper'] == 1 else ')'}</th><td>{b['n']}</td>"
        f"<td>{_fmt(b['confidence'])}</td><td>{_fmt(b['accuracy'])}</td></tr>" for b in cal["bins"]
    )
    table = ('<table class="metrics"><thead><tr><th>confidence bin</th><th>samples</th><th>mean confidence</th>'
             f"<th>accuracy</th></tr></thead><tbody>{rows}</tbody></table>")
    note = (f'<p class="note">Confidence is the predicted class\'s probability; {BINS} equal-width bins. '
            f"Expected calibration error (ECE) = Σ |accuracy − confidence| · n<sub>bin</sub> / n = "
            f"<strong>{_fmt(cal['ece'])}</strong>. A calibrated model's bars reach the diagonal.</p>")
    return _figure(reliability_figure(ev), "Reliability diagram", "Accuracy per confidence bin against the "
                   "diagonal of perfect calibration; below, how many samples each bin holds.") + note + table


def _residuals(ev: Evaluation) -> str:
    reg = ev.regression
    rows = [("MAE", reg["mae"]), ("RMSE", reg["rmse"]), ("R²", reg["r2"]),
            ("residual mean", reg["residual_mean"]), ("residual std", reg["residual_std"])]
    cells = "".join(f"<tr><th>{_e(k)}</th><td>{_fmt(v)}</td></tr>" for k, v in rows)
    return _figure(residual_figure(ev), "Residuals", "Left: residual (truth − prediction) against the prediction; "
                   "right: prediction against truth, with the diagonal of a perfect fit.") + \
        f'<table class="metrics"><tbody>{cells}</tbody></table>'


def _figure(figure: Figure, title: str, caption: str) -> str:
    return (f'<figure><img src="{png_uri(draw.png_bytes(figure))}" alt="{_e(title)}">'
            f"<figcaption>{_e(caption)}</figcaption></figure>")


# ---------------------------------------------------------------------------------- figures
def confusion_figure(ev: Evaluation) -> Figure:
    """The confusion matrix as a heat map (counts written in each cell up to :data:`ANNOTATED_CLASSES`)."""
    matrix = np.asarray(ev.confusion)
    k = len(matrix)
    size = min(12.0, 4.5 + 0.45 * k)
    fig = draw.new_figure(size + 1.0, size)
    ax = fig.subplots()
    image = ax.imshow(matrix, cmap="Blues", vmin=0)
    fig.colorbar(image, ax=ax, shrink=0.8, label="samples")
    labels = [_short(n) for n in ev.class_names or []]
    ax.set_xticks(range(k), labels, rotation=45 if k > 4 else 0, ha="right" if k > 4 else "center")
    ax.set_yticks(range(k), labels)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    if k <= ANNOTATED_CLASSES:
        high = matrix.max() if matrix.size else 0
        for (i, j), count in np.ndenumerate(matrix):
            ax.text(j, i, str(count), ha="center", va="center", fontsize=9,
                    color="white" if high and count > high / 2 else "black")
    draw.set_suptitle(fig, f"{ev.run}: confusion matrix ({ev.n} samples)", 12)
    return fig


def reliability_figure(ev: Evaluation) -> Figure:
    """Accuracy against confidence per bin (the reliability diagram) over the bins' sample counts."""
    bins = ev.calibration["bins"]
    fig = draw.new_figure(6.5, 6.5)
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=[3, 1])
    width = 1.0 / len(bins)
    filled = [b for b in bins if b["n"]]
    centres = [(b["lower"] + b["upper"]) / 2 for b in filled]
    accuracy = np.array([b["accuracy"] for b in filled])
    confidence = np.array([b["confidence"] for b in filled])
    top.bar(centres, accuracy, width=width * 0.95, color="tab:blue", edgecolor="white", label="accuracy")
    top.bar(centres, np.abs(confidence - accuracy), bottom=np.minimum(confidence, accuracy), width=width * 0.95,
            fill=False, edgecolor="tab:red", hatch="///", linewidth=0.8, label="gap to the mean confidence")
    top.plot([0, 1], [0, 1], color="dimgray", linestyle="--", linewidth=1, label="perfect calibration")
    top.set_xlim(0, 1)
    top.set_ylim(0, 1)
    top.set_ylabel("accuracy")
    top.legend(loc="upper left", fontsize=9)
    top.set_title(f"ECE {ev.calibration['ece']:.4f}", fontsize=10)
    bottom.bar([(b["lower"] + b["upper"]) / 2 for b in bins], [b["n"] for b in bins], width=width * 0.95,
               color="tab:gray")
    bottom.set_xlabel("confidence (the predicted class's probability)")
    bottom.set_ylabel("samples")
    draw.set_suptitle(fig, f"{ev.run}: reliability diagram", 12)
    return fig


def residual_figure(ev: Evaluation) -> Figure:
    """Residuals against predictions, and predictions against truth."""
    truth = np.asarray(ev.truth, np.float64).reshape(-1)
    predicted = np.asarray(ev.predicted, np.float64).reshape(-1)
    residuals = truth - predicted
    fig = draw.new_figure(11, 4.8)
    left, right = fig.subplots(1, 2)
    left.scatter(predicted, residuals, s=10, alpha=0.6, color="tab:blue", edgecolors="none")
    left.axhline(0.0, color="dimgray", linestyle="--", linewidth=1)
    left.set_xlabel("prediction")
    left.set_ylabel("residual (truth − prediction)")
    right.scatter(truth, predicted, s=10, alpha=0.6, color="tab:orange", edgecolors="none")
    low, high = (float(min(truth.min(), predicted.min())), float(max(truth.max(), predicted.max()))) \
        if len(truth) else (0.0, 1.0)
    right.plot([low, high], [low, high], color="dimgray", linestyle="--", linewidth=1)
    right.set_xlabel("truth")
    right.set_ylabel("prediction")
    draw.set_suptitle(fig, f"{ev.run}: residuals ({ev.n} samples)", 12)
    return fig


# ---------------------------------------------------------------------------------- helpers
def _fmt(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        value = float(value)
        if not math.isfinite(value):
            return str(value)
        return f"{value:.3e}" if value != 0 and abs(value) < 1e-3 else f"{value:.4f}"
    return str(value)


def _short(name: str, width: int = 14) -> str:
    return name if len(name) <= width else name[: width - 1] + "…"


def write_evaluation(evaluation: Evaluation, out: str | os.PathLike) -> tuple[Path, Path]:
    """Write ``evaluation.json`` and ``evaluation.html`` into the folder ``out`` (made if missing).

    Each file is written whole or not at all.

    Returns:
        The two paths.
    """
    folder = Path(out)
    page = render_page(evaluation)  # before any file is written: a failure leaves nothing half-done
    folder.mkdir(parents=True, exist_ok=True)
    json_path = folder / JSON
    layout.write_json(json_path, evaluation.to_dict())
    html_path = folder / HTML
    tmp = html_path.with_name(html_path.name + ".tmp")
    tmp.write_text(page, encoding="utf-8")
    os.replace(tmp, html_path)
    return json_path, html_path
