"""Use what a run trained: its model with its preprocessing, to predict, evaluate and export.

    import trainlab
    predictor = trainlab.load("runs/bc")               # model.keras + preprocessing.json + recipe.yaml
    predictor.predict("new.csv")                       # (N, K) probabilities, or (N,) values
    predictor.predict_classes(x_raw)                   # class names
    predictor.evaluate(x_raw, y)                       # {"loss": ..., "accuracy": ...}, history's names
    predictor.export(format="onnx")                    # runs/bc/export/model.onnx

- ``predictor``: :func:`load` and :class:`Predictor`.
- ``inputs``: raw inputs as the run's data source had them (arrays, CSV, DataFrame, npz, images).
- ``evaluation``: confusion matrix, per-class scores, calibration, residuals; ``evaluation.json``.
- ``evaluation_page``: ``evaluation.html``, in the run report's style.
- ``serving``: the Keras model from raw inputs to probabilities (the preprocessing as layers).
- ``export``: that model as ``keras``, ``saved_model`` or ``onnx``.

The face imports TensorFlow when first used (``trainlab --help`` stays fast); exporting is
:meth:`Predictor.export` (``trainlab.inference.export`` is its module).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from trainlab.lazy import lazy_names

if TYPE_CHECKING:
    from trainlab.inference.evaluation import Evaluation
    from trainlab.inference.evaluation_page import write_evaluation
    from trainlab.inference.export import FORMATS
    from trainlab.inference.predictor import Predictor, load

_LAZY = {
    "load": "trainlab.inference.predictor",
    "Predictor": "trainlab.inference.predictor",
    "Evaluation": "trainlab.inference.evaluation",
    "write_evaluation": "trainlab.inference.evaluation_page",
    "FORMATS": "trainlab.inference.export",
}

__all__ = list(_LAZY)

__getattr__, __dir__ = lazy_names(__name__, _LAZY)
