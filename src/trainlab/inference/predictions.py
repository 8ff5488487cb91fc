"""The predictions ``trainlab predict`` writes: one CSV row per input.

Columns: ``id`` (the row number, from 0, or the image file's path in the folder), then for
classification ``predicted`` (the most probable class's name) and ``p_<class>`` per class (in
the run's class order), for regression ``predicted`` (``predicted_<i>`` per target). Numbers are
written with the shortest text that reads back to the same float32.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from trainlab.errors import TrainlabError
from trainlab.inference import inputs
from trainlab.inference.predictor import Predictor, classes_of


def predictions_csv(predictor: Predictor, path: str | os.PathLike, batch_size: int | None = None) -> str:
    """Predict every input of a file or folder; the CSV text (see the module).

    Raises:
        TrainlabError: an input the run cannot take, naming the file, column or row.
    """
    batch = inputs.read(path, predictor.preprocessing)
    predictor.check_inputs(batch.x)
    predicted = predictor.probabilities(predictor.outputs(batch.x, batch_size))
    return to_csv(batch.ids, predicted, predictor.class_names, predictor.output_names)


def to_csv(ids: Sequence[str], predicted: np.ndarray, class_names: Sequence[str] | None,
           columns: Sequence[str]) -> str:
    """Rows ``id, predicted[, p_<class> ...]`` as CSV text."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    predicted = np.asarray(predicted, np.float32)
    if class_names is not None:
        writer.writerow(["id", "predicted", *columns])
        for i, name, row in zip(ids, classes_of(predicted, class_names), predicted):
            writer.writerow([i, name, *(_number(v) for v in row)])
    else:
        writer.writerow(["id", *columns])
        for i, row in zip(ids, predicted.reshape(len(predicted), -1)):
            writer.writerow([i, *(_number(v) for v in row)])
    return buffer.getvalue()


def write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` to ``path`` whole or not at all (a temporary file, then a rename).

    Raises:
        TrainlabError: the path is a folder, or its folder does not exist.
    """
    target = Path(path)
    if target.is_dir():
        raise TrainlabError("--out", "is a folder; name the CSV file to write", str(path))
    if not target.parent.is_dir():
        raise TrainlabError("--out", f"folder not found: {target.parent}", str(path))
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, target)
    return target


def _number(value: np.floating) -> str:
    return str(np.float32(value))
