"""trainlab predict, evaluate and export on tiny runs: the files they write hold the run's own numbers."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest
from inference_helpers import write_pngs

import trainlab
from trainlab.cli import main


def _rows(text):
    return list(csv.DictReader(io.StringIO(text)))


def test_predict_prints_one_row_per_input(table_run, tmp_path, capsys):
    predictor = trainlab.load(table_run.dir)
    np.savez(tmp_path / "new.npz", x=table_run.x_test)
    assert main(["predict", str(table_run.dir), str(tmp_path / "new.npz")]) == 0
    out, err = capsys.readouterr()
    rows = _rows(out)
    assert err == "" and list(rows[0]) == ["id", "predicted", "p_malignant", "p_benign"]
    expected = predictor.predict(table_run.x_test)
    got = np.array([[float(r["p_malignant"]), float(r["p_benign"])] for r in rows], np.float32)
    np.testing.assert_array_equal(got, expected)  # the shortest text that reads back to the same float32
    assert [r["id"] for r in rows] == [str(i) for i in range(len(expected))]
    assert [r["predicted"] for r in rows] == list(predictor.predict_classes(table_run.x_test))


def test_predict_a_csv_into_a_file(csv_run, tmp_path, capsys):
    out = tmp_path / "predictions.csv"
    assert main(["predict", str(csv_run.dir), str(csv_run.x_test), "--out", str(out), "--batch-size", "7"]) == 0
    stdout, err = capsys.readouterr()
    assert stdout == "" and err.strip() == f"predictions: {out}"
    rows = _rows(out.read_text())
    accuracy = np.mean([r["predicted"] == y for r, y in zip(rows, csv_run.y_test)])
    assert accuracy == pytest.approx(csv_run.summary["test"]["accuracy"], abs=1e-7)


def test_predict_and_evaluate_a_folder_of_images(mnist_run, tmp_path, capsys):
    predictor = trainlab.load(mnist_run.dir)
    names = write_pngs(tmp_path / "flat", mnist_run.x_test)
    assert main(["predict", str(mnist_run.dir), str(tmp_path / "flat")]) == 0
    rows = _rows(capsys.readouterr().out)
    assert [r["id"] for r in rows] == names
    got = np.array([[float(r[f"p_{c}"]) for c in predictor.class_names] for r in rows], np.float32)
    np.testing.assert_array_equal(got, predictor.predict(mnist_run.x_test))  # files read as the source reads
    write_pngs(tmp_path / "labelled", mnist_run.x_test, mnist_run.y_test)
    assert main(["evaluate", str(mnist_run.dir), str(tmp_path / "labelled"), "--out", str(tmp_path / "ev")]) == 0
    capsys.readouterr()
    record = json.loads((tmp_path / "ev" / "evaluation.json").read_text())
    for key, value in mnist_run.summary["test"].items():
        assert record["metrics"][key] == pytest.approx(value, rel=1e-5)


def test_evaluate_the_run_test_split_by_default(table_run, capsys):
    assert main(["evaluate", str(table_run.dir)]) == 0
    out = capsys.readouterr().out.splitlines()
    folder = table_run.dir / "evaluation-test"
    assert out[0].startswith("bc on the run's test split (114 samples): loss ")
    assert out[1:] == [f"evaluation: {folder / 'evaluation.json'}", f"page: {folder / 'evaluation.html'}"]
    record = json.loads((folder / "evaluation.json").read_text())
    for key, value in table_run.summary["test"].items():
        assert record["metrics"][key] == pytest.approx(value, rel=1e-5)
    matrix = np.array(record["confusion_matrix"])
    assert matrix.sum() == 114 and record["class_names"] == ["malignant", "benign"]
    assert np.trace(matrix) / 114 == pytest.approx(table_run.summary["test"]["accuracy"], abs=1e-7)
    assert 0 <= record["calibration"]["ece"] <= 1 and len(record["calibration"]["bins"]) == 10


def test_evaluate_a_labelled_csv_and_a_split(csv_run, regression_run, tmp_path, capsys):
    assert main(["evaluate", str(csv_run.dir), str(csv_run.x_test), "--out", str(tmp_path / "csv")]) == 0
    record = json.loads((tmp_path / "csv" / "evaluation.json").read_text())
    assert record["data"] == str(csv_run.x_test)  # the target column is the recipe's data.target
    assert record["metrics"]["accuracy"] == pytest.approx(csv_run.summary["test"]["accuracy"], abs=1e-7)
    assert main(["evaluate", str(regression_run.dir), "--split", "val", "--out", str(tmp_path / "val")]) == 0
    record = json.loads((tmp_path / "val" / "evaluation.json").read_text())
    best = regression_run.summary["final"]
    assert record["metrics"]["loss"] == pytest.approx(best["val_loss"], rel=1e-5)
    assert record["regression"]["mae"] == pytest.approx(best["val_mae"], rel=1e-5)
    capsys.readouterr()


@pytest.mark.parametrize("fmt, name", [("keras", "model.keras"), ("saved_model", "saved_model"),
                                       ("onnx", "model.onnx")])
def test_export_writes_each_format(token_run, tmp_path, capsys, fmt, name):
    if fmt == "onnx":
        pytest.importorskip("tf2onnx", reason="the onnx extra is not installed: pip install -e '.[onnx]'")
    out = tmp_path / name
    assert main(["export", str(token_run.dir), "--format", fmt, "--out", str(out)]) == 0
    assert capsys.readouterr().out.splitlines() == [f"{fmt}: {out}", "  inputs: inputs int32 (N, 12) (token ids)",
                                                    "  output: probabilities float32 (N, 3): 0, 1, 2"]
    assert out.exists()
