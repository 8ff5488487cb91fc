"""Write a run's serving model (:mod:`trainlab.inference.serving`) as a file other programs load.

Formats:

- ``keras``: a ``.keras`` file; ``keras.models.load_model(path)`` gives the serving model (a
  model with trainlab's own layers, the ``transformer``'s, needs ``import trainlab.models`` first).
- ``saved_model``: a TensorFlow SavedModel folder written by Keras' ``model.export``: the
  ``serve`` endpoint and the ``serving_default`` signature, for TF Serving, TFLite converters,
  ``tf.saved_model.load``. No Python code of trainlab's or Keras' is needed to serve it.
- ``onnx``: an ONNX model (opset :data:`OPSET`) converted by tf2onnx from the serving model's frozen
  graph, for onnxruntime; needs the ``onnx`` extra (``pip install "trainlab[onnx]"``). ONNX has no
  string lookup that onnxruntime runs without extensions, so a table with text categories exports
  to ``keras`` or ``saved_model`` only. Its metadata (``metadata_props``) holds the class names.

Every format takes the same raw inputs as ``trainlab predict`` and gives the same numbers (to float
rounding): probabilities per class, or predicted values. A file is written whole or not at all.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from trainlab.errors import TrainlabError, did_you_mean
from trainlab.inference import serving

# ``predictor`` below is a :class:`trainlab.inference.predictor.Predictor`, whose methods call this module: it is
# not imported here, so the two modules do not import each other.
Predictor = Any

FORMATS = ("keras", "saved_model", "onnx")

#: Where ``export`` writes in the run directory when no path is given.
DEFAULT_PATHS = {"keras": "export/model.keras", "saved_model": "export/saved_model", "onnx": "export/model.onnx"}

#: The ONNX operator set the export targets (onnxruntime 1.16 and later run it).
OPSET = 17


def export(predictor: Predictor, format: str = "keras", path: str | os.PathLike | None = None) -> Path:  # noqa: A002
    """Write the predictor's serving model.

    Args:
        predictor: a loaded run (:func:`trainlab.load`).
        format: ``keras``, ``saved_model`` or ``onnx``.
        path: where to write (a ``.keras`` file, a folder, an ``.onnx`` file); default
            :data:`DEFAULT_PATHS` in the run directory. An existing file or folder there is replaced.

    Returns:
        The path written.

    Raises:
        TrainlabError: an unknown format; ``onnx`` for a table with text categories or without the
            ``onnx`` extra; a ``keras`` path that does not end in ``.keras``.

    Example:
        >>> export(trainlab.load("runs/bc"), "onnx")
        PosixPath('runs/bc/export/model.onnx')
    """
    if format not in FORMATS:
        raise TrainlabError("--format", f"unknown format{did_you_mean(str(format), FORMATS)}; formats:"
                                        f" {', '.join(FORMATS)}", format)
    if format == "onnx":
        _check_onnx(predictor)
    if path is None:
        if predictor.run_dir is None:
            raise TrainlabError("--out", "is needed: this predictor has no run directory to export into")
        path = predictor.run_dir / DEFAULT_PATHS[format]
    target = Path(path)
    if format == "keras" and target.suffix != ".keras":
        raise TrainlabError("--out", "a keras export is a file ending in .keras", str(path))
    if target.exists() and target.is_dir() != (format == "saved_model"):
        kind = "a folder" if target.is_dir() else "a file"
        raise TrainlabError("--out", f"is {kind}; a {format} export is "
                                     f"{'a folder' if format == 'saved_model' else 'a file'}", str(path))
    model = predictor.serving_model()
    target.parent.mkdir(parents=True, exist_ok=True)
    {"keras": _keras, "saved_model": _saved_model, "onnx": _onnx}[format](model, target, predictor)
    return target


def _keras(model: Any, target: Path, predictor: Predictor) -> None:
    tmp = target.with_name(f".{target.stem}.tmp.keras")
    model.save(tmp)
    os.replace(tmp, target)


def _saved_model(model: Any, target: Path, predictor: Predictor) -> None:
    tmp = target.with_name(f".{target.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    model.export(str(tmp), format="tf_saved_model", verbose=False)
    old = target.with_name(f".{target.name}.old")
    if target.exists():
        shutil.rmtree(old, ignore_errors=True)
        os.replace(target, old)
    os.replace(tmp, target)
    shutil.rmtree(old, ignore_errors=True)


def _check_onnx(predictor: Predictor) -> None:
    if serving.has_text_inputs(predictor):
        raise TrainlabError("--format", "onnx cannot hold this run's text category lookup (its table has categorical"
                                        " columns); export it as keras or saved_model", "onnx")
    try:
        import onnx  # noqa: F401, PLC0415 (an optional extra)
        import tf2onnx  # noqa: F401, PLC0415
    except ImportError:
        raise TrainlabError("--format", "onnx needs the onnx extra (tf2onnx, onnx): pip install \"trainlab[onnx]\"",
                            "onnx") from None


def _onnx(model: Any, target: Path, predictor: Predictor) -> None:
    with _quiet("tensorflow", "tf2onnx"):  # TF1 deprecation notices and tf2onnx's progress: not the user's concern
        data = onnx_bytes(model, predictor)
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, target)


def onnx_bytes(model: Any, predictor: Predictor) -> bytes:
    """The serving model as a serialized ONNX model (its inputs and output named as the Keras model's)."""
    import tensorflow as tf  # noqa: PLC0415
    import tf2onnx  # noqa: PLC0415 (an optional extra)
    from tf2onnx import tf_loader  # noqa: PLC0415

    specs = {t.name: tf.TensorSpec([None, *t.shape[1:]], t.dtype, name=t.name) for t in model.inputs}
    call = tf.function(lambda x: model(x, training=False))
    single = len(specs) == 1 and serving.INPUT in specs
    function = call.get_concrete_function(specs[serving.INPUT] if single else specs)
    # The raw inputs only: the standardization's constants are captured tensors, which freezing folds in.
    inputs = [t.name for t in function.inputs[: len(specs)]]
    outputs = [t.name for t in function.outputs]
    # tf2onnx's own freezing keeps while loops (recurrent layers) as functional control flow, which it
    # converts to an ONNX Loop; TensorFlow's default lowering would leave tensor lists it cannot convert.
    graph_def = tf_loader.from_function(function, inputs, outputs)
    proto, _ = tf2onnx.convert.from_graph_def(graph_def, input_names=inputs, output_names=outputs, opset=OPSET)
    output_name = "probabilities" if predictor.class_names is not None else "predictions"
    _rename(proto, {name: name.split(":")[0] for name in inputs} | {outputs[0]: output_name})
    meta = {"trainlab_run": predictor.name, "class_names": json.dumps(predictor.class_names),
            "outputs": json.dumps(predictor.output_names)}
    for key, value in meta.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    return proto.SerializeToString()


@contextmanager
def _quiet(*names: str) -> Iterator[None]:
    loggers = [logging.getLogger(name) for name in names]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


def _rename(proto: Any, names: dict[str, str]) -> None:
    """Rename graph inputs and outputs (``features:0`` -> ``features``) wherever they are referenced."""
    graph = proto.graph
    for value in [*graph.input, *graph.output]:
        value.name = names.get(value.name, value.name)
    for node in graph.node:
        node.input[:] = [names.get(n, n) for n in node.input]
        node.output[:] = [names.get(n, n) for n in node.output]
