"""A trained run's model with the preprocessing it was trained with: :func:`load` and :class:`Predictor`.

``model.keras`` holds the weights the run ended with: the best epoch's when early stopping restored
them (the run saves the model after the restore). ``preprocessing.json`` says what the raw inputs went
through (a table's encoding, standardization, an image source's scale); ``recipe.yaml`` names the
loss and the metrics that :meth:`Predictor.evaluate` reports, under the names ``history.csv`` uses.

Example:
    >>> predictor = trainlab.load("runs/breast-cancer")
    >>> predictor.predict("new_patients.csv")          # (N, 2) probabilities, columns as class_names
    >>> predictor.predict_classes(x_raw)               # ['benign', 'malignant', ...]
    >>> predictor.evaluate(x_raw, y)                   # {'loss': 0.11, 'accuracy': 0.96}
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import keras
import numpy as np
import yaml

from trainlab import losses, metrics
from trainlab.data.preprocessing import Preprocessing
from trainlab.errors import TrainlabError
from trainlab.inference import inputs
from trainlab.inference.evaluation import Evaluation, evaluate_outputs
from trainlab import rundir
from trainlab.rundir import layout

#: Samples per forward pass when no batch size is given.
BATCH_SIZE = 256

_FROM_PYTHON = re.compile(r"^# This run's (.+?) came from Python", re.MULTILINE)


def load(run_dir: str | os.PathLike, *, custom_objects: Mapping[str, Any] | None = None) -> Predictor:
    """Load a run's model with its preprocessing, class names, loss and metrics.

    Args:
        run_dir: a run directory written by ``trainlab run`` or :func:`trainlab.train`.
        custom_objects: classes of a model given from Python that Keras cannot find by name
            (layers not registered with ``keras.saving.register_keras_serializable``).

    Returns:
        The :class:`Predictor`.

    Raises:
        TrainlabError: not a run directory, or it lacks ``model.keras`` (the run did not finish)
            or ``preprocessing.json`` (an older trainlab trained it), or the model cannot be loaded.

    Example:
        >>> predictor = load("runs/digits")
        >>> predictor.predict_classes(images)
    """
    folder = Path(run_dir)
    shown = os.fspath(run_dir)
    if folder.is_file():
        raise TrainlabError(shown, "is a file, not a run directory (give the folder trainlab run wrote)")
    if not folder.is_dir():
        raise TrainlabError(shown, "is not a run directory (no such folder)")
    if not (folder / layout.PREPROCESSING).is_file():
        raise TrainlabError(shown, f"has no {layout.PREPROCESSING}: not a run directory, or a run trained by an older"
                                   " trainlab (train it again to predict with it)")
    model_file = folder / layout.MODEL
    if not model_file.is_file():
        status = rundir.read_json(folder / layout.SUMMARY).get("status", "unknown")
        raise TrainlabError(shown, f"has no {layout.MODEL}: the run did not finish (status {status})")
    prep = Preprocessing.from_dict(rundir.read_json(folder / layout.PREPROCESSING), os.path.join(shown, layout.PREPROCESSING))
    recipe_text = (folder / layout.RECIPE).read_text(encoding="utf-8") if (folder / layout.RECIPE).is_file() else ""
    recipe = yaml.safe_load(recipe_text) or {} if recipe_text else {}
    model = _load_model(model_file, os.path.join(shown, layout.MODEL), custom_objects)
    note = _FROM_PYTHON.search(recipe_text)
    return Predictor(
        model, prep, loss=recipe.get("loss"), metric_names=recipe.get("metrics") or [],
        data=None if note and "data" in note.group(1) else recipe.get("data"),
        data_seed=_data_seed(recipe), run_dir=folder, name=str(recipe.get("name") or folder.name),
    )


def _load_model(file: Path, shown: str, custom_objects: Mapping[str, Any] | None) -> keras.Model:
    import trainlab.models  # noqa: F401, PLC0415 (registers trainlab's own layers, which Keras finds by name)

    try:
        return keras.models.load_model(file, custom_objects=dict(custom_objects or {}), compile=False)
    except (TypeError, ValueError, OSError, KeyError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise TrainlabError(shown, "cannot be loaded (a layer of a model given from Python? pass its class in"
                                   f" custom_objects); Keras says: {first}") from None


def _data_seed(recipe: Mapping[str, Any]) -> int:
    data = recipe.get("data") or {}
    seed = data.get("seed") if isinstance(data, Mapping) else None
    return int(seed if seed is not None else recipe.get("seed", 42))


class Predictor:
    """A run's model and what its inputs go through: predictions from raw inputs.

    Inputs are raw, as the run's data source had them (see :mod:`trainlab.inference.inputs`): an
    array, a pandas DataFrame or a mapping of columns (tables), raw pixel arrays, token ids, or the
    path of a CSV file, an ``.npz``, an image or a folder of images.

    Attributes:
        model: the trained ``keras.Model``; it takes preprocessed inputs (:meth:`transform`).
        preprocessing: the fitted :class:`~trainlab.data.Preprocessing`.
        class_names: one name per class, in the order of the probability columns; None for regression.
        task: "binary", "multiclass" or "regression".
        metric_names: the run's metrics (``history.csv``'s names); :meth:`evaluate` adds ``loss``.
        run_dir: the run directory it was loaded from (None when built directly).
        name: the run's name.
    """

    def __init__(
        self,
        model: keras.Model,
        preprocessing: Preprocessing,
        *,
        loss: Any = None,
        metric_names: Sequence[str] = (),
        data: Mapping[str, Any] | None = None,
        data_seed: int = 42,
        run_dir: Path | None = None,
        name: str = "run",
    ) -> None:
        self.model = model
        self.preprocessing = preprocessing
        self.class_names = None if preprocessing.class_names is None else list(preprocessing.class_names)
        self.task = preprocessing.task
        self.metric_names = list(metric_names)
        self.run_dir = run_dir
        self.name = name
        self._loss = loss
        self._data = data
        self._data_seed = data_seed
        self.traits = losses.traits(loss) if loss is not None else None
        self._vocab_size = _vocab_size(model) if preprocessing.input_dtype == "int32" else None

    def __repr__(self) -> str:
        what = f"{len(self.class_names)} classes" if self.class_names else self.task
        return f"Predictor({self.name!r}, {self.preprocessing.source}, {what}, inputs {self.preprocessing.input_shape})"

    @property
    def from_logits(self) -> bool:
        """Whether the model's outputs are logits (its loss reads them), turned into probabilities here."""
        return bool(self.traits is not None and self.traits.from_logits)

    @property
    def output_names(self) -> list[str]:
        """The columns :meth:`predict` returns: ``p_<class>`` per class, or ``predicted`` (``predicted_<i>``)."""
        if self.class_names is not None:
            return [f"p_{name}" for name in self.class_names]
        width = int(self.model.outputs[0].shape[-1]) if getattr(self.model, "outputs", None) else 1
        return ["predicted"] if width == 1 else [f"predicted_{i}" for i in range(width)]

    # ------------------------------------------------------------------------------ predictions
    def transform(self, x: Any) -> np.ndarray:
        """Raw inputs as the model takes them (a table encoded, images scaled, standardized).

        Raises:
            TrainlabError: inputs the run cannot take, naming the column, row or file.
        """
        x = inputs.model_inputs(x, self.preprocessing)
        self.check_inputs(x)
        return x

    def outputs(self, x: np.ndarray, batch_size: int | None = None) -> np.ndarray:
        """The model's own outputs (logits where it gives logits), ``(N, units)``, for model inputs ``x``."""
        batch_size = _batch_size(batch_size)
        out = self.model.predict(x, batch_size=batch_size, verbose=0)
        out = np.asarray(out[0] if isinstance(out, (list, tuple)) else out, np.float32)
        return out.reshape(len(out), -1)

    def probabilities(self, outputs: np.ndarray) -> np.ndarray:
        """The model's outputs as :meth:`predict` gives them: one probability per class, or the values.

        Logits go through a sigmoid or a softmax; a binary model's single unit ``p`` becomes the
        two columns ``1 - p, p`` (the classes in :attr:`class_names` order).
        """
        outputs = np.asarray(outputs, np.float32)
        if self.class_names is None:
            return outputs[:, 0] if outputs.shape[1] == 1 else outputs
        if outputs.shape[1] == 1:
            p = 1.0 / (1.0 + np.exp(-outputs[:, 0])) if self.from_logits else outputs[:, 0]
            return np.stack([np.float32(1.0) - p, p], axis=1).astype(np.float32)
        if self.from_logits:
            shifted = np.exp(outputs - outputs.max(axis=1, keepdims=True))
            return (shifted / shifted.sum(axis=1, keepdims=True)).astype(np.float32)
        return outputs

    def predict(self, x: Any, batch_size: int | None = None) -> np.ndarray:
        """Predict from raw inputs.

        Args:
            x: raw inputs (see the class), one sample or many.
            batch_size: samples per forward pass (default 256).

        Returns:
            Classification: float32 ``(N, K)`` probabilities, one column per class of
            :attr:`class_names` (binary too: ``1 - p, p``). Regression: ``(N,)`` values, or
            ``(N, T)`` for several targets.

        Raises:
            TrainlabError: inputs the run cannot take, naming the column, row or file.

        Example:
            >>> predictor.predict({"age": [41, 67], "smoker": ["no", "yes"]})
        """
        return self.probabilities(self.outputs(self.transform(x), batch_size))

    def predict_classes(self, x: Any, batch_size: int | None = None) -> np.ndarray:
        """The most probable class's name for each sample (a str array).

        Raises:
            TrainlabError: a regression run (it has no classes), or inputs it cannot take.
        """
        if self.class_names is None:
            raise TrainlabError("predict_classes", "needs a classification run; this run is a regression (use"
                                                   " predict)", self.task)
        return classes_of(self.predict(x, batch_size), self.class_names)

    # ------------------------------------------------------------------------------ evaluation
    def evaluate(self, x: Any, y: Any, batch_size: int | None = None, sample_weight: Any = None) -> dict[str, float]:
        """The run's loss and metrics on raw inputs and their labels, named as in ``history.csv``.

        Args:
            x: raw inputs (see the class).
            y: their labels, as the data had them (class names, or the original label values), or
                targets for regression.
            batch_size: samples per forward pass (default 256).
            sample_weight: one weight per sample (the loss and the metrics use them), or None.

        Returns:
            ``{"loss": ..., "accuracy": ..., ...}``: the same values the run records (its ``test``
            figures, for its raw test split), the loss with the model's regularization as Keras reports it.

        Raises:
            TrainlabError: inputs it cannot take, labels that are not the run's classes.
        """
        x = self.transform(x)
        return self.scores(self.outputs(x, batch_size), self.encode_labels(y, "y", len(x)), sample_weight)

    def evaluation(self, x: Any, y: Any, batch_size: int | None = None, data: str = "inputs") -> Evaluation:
        """:meth:`evaluate`'s numbers and the full evaluation: confusion matrix, per-class scores,
        calibration (classification) or residuals (regression); see :mod:`trainlab.inference.evaluation`.

        ``data`` names the inputs in the evaluation (a file, a split).
        """
        x = self.transform(x)
        return self.evaluation_of(x, self.encode_labels(y, data, len(x)), batch_size, data)

    def evaluation_of(self, x: np.ndarray, y: np.ndarray, batch_size: int | None = None,
                      data: str = "inputs") -> Evaluation:
        """:meth:`evaluation` of model inputs ``x`` and encoded labels ``y`` (codes, or target values)."""
        outputs = self.outputs(x, batch_size)
        return evaluate_outputs(
            self.probabilities(outputs), y, self.task, self.class_names, self.scores(outputs, y),
            run=self.name, data=data,
        )

    def evaluate_file(self, path: str | os.PathLike, target: str | None = None,
                      batch_size: int | None = None) -> Evaluation:
        """The full evaluation on a labelled file (see :func:`trainlab.inference.inputs.read`).

        Args:
            path: a CSV with a target column, an ``.npz`` with ``x`` and ``y`` (or ``x_test``
                and ``y_test``), or a folder with one sub-folder of images per class.
            target: the CSV's target column (default: the recipe's ``data.target``, else the one
                column that is not a feature).
            batch_size: samples per forward pass.

        Raises:
            TrainlabError: a file it cannot read, a missing column, labels that are not the run's classes.
        """
        if target is None and isinstance(self._data, Mapping) and self._data.get("source") == "csv":
            target = self._data.get("target")
        batch = inputs.read(path, self.preprocessing, labelled=True, target=target)
        self.check_inputs(batch.x)
        y = self.encode_labels(batch.y, batch.origin, len(batch.x))
        return self.evaluation_of(batch.x, y, batch_size, batch.origin)

    def evaluate_split(self, split: str = "test", batch_size: int | None = None) -> Evaluation:
        """The full evaluation on the run's own split (see :meth:`split`): its test split reproduces
        the ``test`` figures of ``summary.json``."""
        x, y = self.split(split)
        return self.evaluation_of(x, y, batch_size, f"the run's {split} split")

    def encode_labels(self, y: Any, origin: str = "y", n: int | None = None) -> np.ndarray:
        """Labels as the data had them as class codes ``0..K-1`` (classification) or float32 targets.

        A label is a class name (:attr:`class_names`, e.g. ``benign``; numbers as text compare as
        numbers: ``3.0`` is class ``3``), or, when no label is a name, a code ``0..K-1``.

        Raises:
            TrainlabError: another number of labels than samples, or a label that is no class of the run.
        """
        return inputs.labels(y, self.preprocessing, origin, n)

    def scores(self, outputs: np.ndarray, y: np.ndarray, sample_weight: Any = None) -> dict[str, float]:
        """The loss and the run's metrics of the model's outputs against encoded labels ``y``."""
        if self.traits is None:
            return {}
        import tensorflow as tf  # noqa: PLC0415 (loaded with Keras already)

        truth = _targets(y, self.traits.labels, len(self.class_names or []))
        predicted = tf.constant(outputs)
        weights = None if sample_weight is None else tf.constant(np.asarray(sample_weight, np.float32).reshape(-1))
        loss = losses.build(self._loss, where="loss")
        values = {"loss": float(loss(truth, predicted, sample_weight=weights))
                  + sum(float(penalty) for penalty in self.model.losses)}
        for name in self.metric_names:
            metric = metrics.build(name, self.traits.labels, self.traits.from_logits)
            metric.update_state(truth, predicted, sample_weight=weights)
            values[name] = float(metric.result())
        return values

    def split(self, name: str = "test") -> tuple[np.ndarray, np.ndarray]:
        """The run's own split, rebuilt from its recipe: ``(model inputs, encoded labels)``.

        Loading the recipe's data with the run's data seed gives the very splits it trained on.

        Raises:
            TrainlabError: the run's data came from Python, the run has no such split, or the data
                is no longer what the run trained on.
        """
        if name not in ("train", "val", "test"):
            raise TrainlabError("--split", "must be train, val or test", name)
        if not self._data:
            raise TrainlabError(str(self.run_dir or self.name), "this run's data came from Python; give the inputs"
                                                                " and labels to evaluate on")
        from trainlab.data import DataConfig, load as load_data  # noqa: PLC0415 (scikit-learn loads with the data)

        splits = load_data(DataConfig.model_validate(dict(self._data)), seed=self._data_seed, base_dir=self.run_dir)
        if splits.preprocessing.to_dict() != self.preprocessing.to_dict():
            raise TrainlabError(str(self.run_dir or self.name), "the recipe's data is no longer what the run trained on"
                                                                " (its preprocessing differs); give the inputs to"
                                                                " evaluate on")
        x, y = getattr(splits, f"x_{name}"), getattr(splits, f"y_{name}")
        if x is None or not len(x):
            raise TrainlabError("--split", f"this run has no {name} split", name)
        return x, y

    # ------------------------------------------------------------------------------ export
    def serving_model(self) -> keras.Model:
        """A ``keras.Model`` from raw inputs to what :meth:`predict` returns (see :mod:`trainlab.inference.serving`)."""
        from trainlab.inference.serving import serving_model  # noqa: PLC0415 (only exports need it)

        return serving_model(self)

    def export(self, path: str | os.PathLike | None = None, format: str = "keras") -> Path:  # noqa: A002
        """Write the serving model as ``keras``, ``saved_model`` or ``onnx`` (see :mod:`trainlab.inference.export`)."""
        from trainlab.inference.export import export  # noqa: PLC0415 (only exports need it)

        return export(self, format, path)

    def check_inputs(self, x: np.ndarray) -> None:
        """Refuse model inputs the model cannot read: token ids beyond its embedding's vocabulary.

        Raises:
            TrainlabError: naming the sample, the step and the id.
        """
        if self._vocab_size is None:
            return
        high = np.argwhere(x >= self._vocab_size)
        if len(high):
            i = tuple(int(v) for v in high[0])
            raise TrainlabError("inputs", f"token ids must be < {self._vocab_size} (the model's vocabulary); sample"
                                          f" {i[0]}, step {i[1]}", int(x[i]))


def classes_of(probabilities: np.ndarray, class_names: Sequence[str]) -> np.ndarray:
    """The most probable class's name per row of ``probabilities`` (ties: the first)."""
    return np.asarray(class_names, dtype=object)[np.argmax(probabilities, axis=1)].astype(str)


def _batch_size(batch_size: int | None) -> int:
    if batch_size is None:
        return BATCH_SIZE
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise TrainlabError("batch_size", "must be an integer >= 1", batch_size)
    return int(batch_size)


def _targets(y: np.ndarray, labels: str, n_classes: int) -> Any:
    """Encoded labels in the form the loss reads (as training feeds them)."""
    import tensorflow as tf  # noqa: PLC0415

    if labels == "sparse":
        return tf.constant(y.astype(np.int32))
    if labels == "onehot":
        return tf.constant(np.eye(n_classes, dtype=np.float32)[y.astype(np.int64)])
    return tf.constant(np.asarray(y, np.float32).reshape(len(y), -1))


def _vocab_size(model: keras.Model) -> int | None:
    """The input size of the model's first embedding (token ids must stay below it), or None."""
    for layer in model._flatten_layers(include_self=False):  # noqa: SLF001 (Keras' walk through nested models)
        if isinstance(layer, keras.layers.Embedding):
            return int(layer.input_dim)
    return None
