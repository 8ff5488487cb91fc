"""A CSV run with text categories and gaps (trainlab.data.table): predict, evaluate and export by column name.

Skipped where trainlab.data.table is not there yet.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("trainlab.data.table", reason="trainlab.data.table (tables with categories and gaps) is not here")

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

import trainlab  # noqa: E402
from trainlab.cli import main  # noqa: E402
from trainlab.data import DataConfig, split_indices  # noqa: E402
from trainlab.errors import TrainlabError  # noqa: E402
from trainlab.inference.serving import input_names  # noqa: E402

COLUMNS = ["size cm", "color", "weight"]


@pytest.fixture(scope="module")
def mixed_run(tmp_path_factory):
    """size (numeric, gaps), color (text: red, green, blue and a rare violet), weight (numeric), label yes/no."""
    folder = tmp_path_factory.mktemp("mixed")
    rng = np.random.default_rng(1)
    n = 260
    size = rng.normal(10, 3, n)
    color = rng.choice(["red", "green", "blue"], n)
    color[:3] = "violet"
    weight = rng.normal(0, 1, n)
    label = np.where((size > 10) ^ (color == "red"), "yes", "no")
    cells = [[f"{s:.3f}", c, f"{w:.3f}", t] for s, c, w, t in zip(size, color, weight, label)]
    for i in range(0, n, 9):
        cells[i][0] = ""  # gaps in size
    for i in range(4, n, 13):
        cells[i][1] = "NA"  # gaps in color
    header = ",".join([*COLUMNS, "label"])
    (folder / "data.csv").write_text("\n".join([header] + [",".join(row) for row in cells]) + "\n")
    data = {"source": "csv", "path": str(folder / "data.csv"), "target": "label", "missing": "mean",
            "max_categories": 3, "validation_split": 0.2, "test_split": 0.25}
    run = trainlab.train({"name": "mixed", "seed": 8, "data": data, "model": {"hidden": [8]},
                          "training": {"epochs": 3, "batch_size": 32, "verbose": 0, "tensorboard": False}},
                         out=folder / "run")
    config = DataConfig.model_validate(data)
    _, _, test = split_indices(n, config.validation_split, config.test_split, 8, labels=(label == "yes").astype(int))
    rows = [cells[i] for i in test]
    (folder / "test.csv").write_text("\n".join([header] + [",".join(row) for row in rows]) + "\n")
    return run, folder / "test.csv", rows


def test_the_raw_test_rows_give_the_recorded_test_metrics(mixed_run):
    run, test_csv, rows = mixed_run
    predictor = trainlab.load(run.dir)
    assert predictor.preprocessing.table is not None
    found = predictor.evaluate(test_csv, [r[3] for r in rows])
    for key, value in run.summary["test"].items():
        assert found[key] == pytest.approx(value, rel=1e-5), key
    np.testing.assert_array_equal(predictor.transform(test_csv), run.data.x_test)


def test_columns_by_name_in_any_order_with_gaps_and_unseen_categories(mixed_run):
    run, test_csv, rows = mixed_run
    predictor = trainlab.load(run.dir)
    columns = {"weight": [float(r[2]) for r in rows], "color": [r[1] for r in rows],
               "size cm": [float(r[0]) if r[0] else None for r in rows]}
    np.testing.assert_array_equal(predictor.predict(columns), predictor.predict(test_csv))
    # An unseen colour is <other>, as the rare violet was in training.
    unseen = predictor.transform({"size cm": [10.0], "color": ["mauve"], "weight": [0.0]})
    rare = predictor.transform({"size cm": [10.0], "color": ["violet"], "weight": [0.0]})
    np.testing.assert_array_equal(unseen, rare)


def _serving_inputs(predictor, rows):
    names = input_names(predictor.preprocessing)
    return {
        names["size cm"]: tf.constant([float(r[0]) if r[0] else np.nan for r in rows], tf.float32),
        names["color"]: tf.constant([r[1] for r in rows]),
        names["weight"]: tf.constant([float(r[2]) for r in rows], tf.float32),
    }


@pytest.mark.parametrize("fmt", ["keras", "saved_model"])
def test_exports_hold_the_lookup_and_the_fill_values(mixed_run, tmp_path, fmt):
    run, test_csv, rows = mixed_run
    predictor = trainlab.load(run.dir)
    assert input_names(predictor.preprocessing) == {"size cm": "size_cm", "color": "color", "weight": "weight"}
    path = predictor.export(tmp_path / ("m.keras" if fmt == "keras" else "sm"), format=fmt)
    feed = _serving_inputs(predictor, rows)
    if fmt == "keras":
        got = keras.models.load_model(path)(feed)
    else:
        (got,) = tf.saved_model.load(str(path)).signatures["serving_default"](**feed).values()
    np.testing.assert_allclose(np.asarray(got), predictor.predict(test_csv), atol=1e-5, rtol=0)


def test_onnx_cannot_hold_the_lookup_and_says_which_formats_can(mixed_run, tmp_path, capsys):
    run, _, _ = mixed_run
    with pytest.raises(TrainlabError, match=r"^--format: onnx cannot hold this run's text category lookup .*; export"
                                            r" it as keras or saved_model, got 'onnx'$"):
        trainlab.load(run.dir).export(tmp_path / "m.onnx", format="onnx")
    assert main(["export", str(run.dir), "--format", "onnx", "--out", str(tmp_path / "m.onnx")]) == 2
    assert capsys.readouterr().err.startswith("trainlab: error: --format: onnx cannot hold")
    assert not list(tmp_path.iterdir())
