"""Exports take the raw inputs predict takes and give predict's numbers: a reload for keras and
SavedModel, onnxruntime for ONNX (skipped, saying so, where the onnx extra is not installed)."""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

import trainlab
from trainlab.errors import TrainlabError

RUNS = ["table_run", "image_run", "mnist_run", "token_run", "regression_run"]


def _raw(predictor, x):
    """Raw inputs as an export takes them: float32 values (pixels as the source had them, with their channel axis),
    or int32 token ids."""
    prep = predictor.preprocessing
    x = np.asarray(x, np.int32 if prep.input_dtype == "int32" else np.float32)
    return x.reshape(len(x), *prep.input_shape)


@pytest.fixture(scope="module")
def exports(tmp_path_factory):
    return tmp_path_factory.mktemp("exports")


@pytest.mark.parametrize("name", RUNS)
def test_keras_export_reloads_and_predicts_as_predict(request, exports, name):
    trained = request.getfixturevalue(name)
    predictor = trainlab.load(trained.dir)
    path = predictor.export(exports / f"{name}.keras", format="keras")
    reloaded = keras.models.load_model(path)
    got = reloaded.predict(_raw(predictor, trained.x_test), verbose=0)
    np.testing.assert_allclose(got, predictor.predict(trained.x_test), atol=1e-5, rtol=0)


@pytest.mark.parametrize("name", RUNS)
def test_saved_model_serves_as_predict(request, exports, name):
    trained = request.getfixturevalue(name)
    predictor = trainlab.load(trained.dir)
    path = predictor.export(exports / f"{name}_saved_model", format="saved_model")
    loaded = tf.saved_model.load(str(path))
    signature = loaded.signatures["serving_default"]
    got = signature(inputs=tf.constant(_raw(predictor, trained.x_test)))
    (output,) = got.values()
    np.testing.assert_allclose(output.numpy(), predictor.predict(trained.x_test), atol=1e-5, rtol=0)


@pytest.mark.parametrize("name", RUNS)
def test_onnx_runs_in_onnxruntime_as_predict(request, exports, name):
    ort = pytest.importorskip("onnxruntime", reason="the onnx extra is not installed: pip install -e '.[onnx]'")
    pytest.importorskip("tf2onnx", reason="the onnx extra is not installed: pip install -e '.[onnx]'")
    trained = request.getfixturevalue(name)
    predictor = trainlab.load(trained.dir)
    path = predictor.export(exports / f"{name}.onnx", format="onnx")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["inputs"]
    (output,) = session.get_outputs()
    assert output.name == ("predictions" if predictor.class_names is None else "probabilities")
    got = session.run(None, {"inputs": _raw(predictor, trained.x_test)})[0]
    np.testing.assert_allclose(got, predictor.predict(trained.x_test), atol=1e-5, rtol=0)
    meta = session.get_modelmeta().custom_metadata_map
    assert json.loads(meta["class_names"]) == predictor.class_names


def test_default_paths_are_in_the_run_directory(table_run):
    predictor = trainlab.load(table_run.dir)
    path = predictor.export(format="keras")
    assert path == table_run.dir / "export" / "model.keras" and path.is_file()
    again = predictor.export(format="keras")  # an earlier export is replaced
    assert again == path and not list(path.parent.glob(".*tmp*"))


def test_export_mistakes(table_run, tmp_path):
    predictor = trainlab.load(table_run.dir)
    with pytest.raises(TrainlabError, match=r"^--format: unknown format \(did you mean 'onnx'\?\); formats: keras,"
                                            r" saved_model, onnx, got 'onx'$"):
        predictor.export(tmp_path / "m.onnx", format="onx")
    with pytest.raises(TrainlabError, match=r"^--out: a keras export is a file ending in \.keras, got "):
        predictor.export(tmp_path / "model.h5", format="keras")
    assert not list(tmp_path.iterdir())
