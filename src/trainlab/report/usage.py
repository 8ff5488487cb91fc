"""How to use a run's model: the commands the run report and ``trainlab show`` print.

Read from the run directory's files alone (``preprocessing.json``, ``summary.json``): no model, no
TensorFlow. A run without ``model.keras`` (it failed, or is still training) or without
``preprocessing.json`` (an older trainlab trained it) has no commands.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

from trainlab.rundir import layout


def usage(run_dir: str | Path, summary: dict[str, Any] | None = None) -> list[tuple[str, str]]:
    """``(what it does, command)`` pairs for predicting with, evaluating and exporting the run's model.

    Args:
        run_dir: the run directory, as the commands should name it.
        summary: its ``summary.json`` (read when None).

    Returns:
        The pairs, or ``[]`` when the run has no model or no ``preprocessing.json``.

    Example:
        >>> usage("runs/bc")[0]  # doctest: +SKIP
        ('predict: one row per input, the class and its probabilities', 'trainlab predict runs/bc new.csv --out ...')
    """
    folder = Path(run_dir)
    if not (folder / layout.MODEL).is_file() or not (folder / layout.PREPROCESSING).is_file():
        return []
    try:
        prep = json.loads((folder / layout.PREPROCESSING).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    if summary is None:
        try:
            summary = json.loads((folder / layout.SUMMARY).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            summary = {}
    run = shlex.quote(str(run_dir))
    example, what = _example(prep)
    classes = prep.get("class_names") is not None
    has_test = bool(((summary or {}).get("data") or {}).get("splits", {}).get("test", {}).get("n"))
    labelled = {"new.csv": "labelled.csv", "images/": "labelled_images/", "new.npz": "labelled.npz"}[example]
    return [
        (f"predict from {what}: one row per input, "
         + ("the class and each class's probability" if classes else "the predicted value"),
         f"trainlab predict {run} {example} --out predictions.csv"),
        ("evaluate on its test split: metrics, " + ("confusion matrix, calibration" if classes else "residuals")
         + " (evaluation.json, evaluation.html)" if has_test else
         f"evaluate on labelled data: metrics, {'confusion matrix, calibration' if classes else 'residuals'}",
         f"trainlab evaluate {run}" if has_test else f"trainlab evaluate {run} {labelled}"),
        ("export with its preprocessing, for serving (keras, saved_model or onnx)",
         f"trainlab export {run} --format saved_model"),
        ("in Python", f"trainlab.load({str(run_dir)!r}).predict(x)"),
    ]


def _example(prep: dict[str, Any]) -> tuple[str, str]:
    """An input file for ``trainlab predict`` of this run's kind, and what it holds."""
    meta = prep.get("meta") or {}
    shape = (prep.get("input") or {}).get("shape") or []
    if "image" in meta:
        return "images/", "a folder of images"
    if (prep.get("input") or {}).get("dtype") == "int32" or len(shape) != 1:
        return "new.npz", "an .npz of raw arrays (x)"
    names = [c["name"] for c in (prep.get("table") or {}).get("columns", [])] or prep.get("feature_names") or []
    shown = ", ".join(names[:3]) + (", ..." if len(names) > 3 else "")
    return "new.csv", f"a CSV with the columns {shown}" if names else "a CSV of the features"
