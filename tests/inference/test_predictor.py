"""trainlab.load: the run's model with its preprocessing gives the run's own numbers from raw inputs."""

from __future__ import annotations

import numpy as np
import pytest

import trainlab
from trainlab.errors import TrainlabError


def _same_scores(found: dict, recorded: dict) -> None:
    assert set(found) == set(recorded)
    for key, value in recorded.items():
        assert found[key] == pytest.approx(value, rel=1e-5, abs=1e-7), key


@pytest.mark.parametrize("name", ["table_run", "image_run", "mnist_run", "token_run", "regression_run", "csv_run"])
def test_the_raw_test_split_gives_the_recorded_test_metrics(request, name):
    trained = request.getfixturevalue(name)
    predictor = trainlab.load(trained.dir)
    _same_scores(predictor.evaluate(trained.x_test, trained.y_test), trained.summary["test"])


@pytest.mark.parametrize("name", ["table_run", "image_run", "mnist_run", "token_run", "regression_run"])
def test_the_loaded_model_gives_the_training_models_outputs(request, name):
    trained = request.getfixturevalue(name)
    predictor = trainlab.load(trained.dir)
    x = trained.run.data.x_test  # what the training model took
    expected = np.asarray(trained.run.model.predict(x, verbose=0))
    np.testing.assert_array_equal(predictor.outputs(x), expected.reshape(len(x), -1))
    # From raw inputs, through the saved preprocessing: the same model inputs, so the same outputs.
    np.testing.assert_array_equal(predictor.transform(trained.x_test), x)
    predicted = predictor.predict(trained.x_test)
    if predictor.class_names is None:
        np.testing.assert_array_equal(predicted, expected[:, 0])
    elif expected.shape[1] == 1:
        np.testing.assert_array_equal(predicted[:, 1], expected[:, 0])
        np.testing.assert_allclose(predicted.sum(axis=1), 1.0, atol=1e-6)
    else:
        np.testing.assert_array_equal(predicted, expected)


def test_the_restored_best_epoch_is_what_loads(table_run):
    summary = table_run.summary
    assert summary["restored_best_weights"] and summary["best_epoch"] < summary["epochs_run"]
    val = trainlab.load(table_run.dir).evaluate_split("val")
    assert val.metrics["loss"] == pytest.approx(summary["best"]["val_loss"], rel=1e-5)
    assert val.metrics["accuracy"] == pytest.approx(summary["best"]["val_accuracy"], abs=1e-7)
    assert val.metrics["loss"] != pytest.approx(summary["final"]["val_loss"], rel=1e-5)


def test_the_run_test_split_is_rebuilt_from_the_recipe(table_run):
    evaluation = trainlab.load(table_run.dir).evaluate_split("test")
    _same_scores(evaluation.metrics, table_run.summary["test"])
    assert evaluation.n == table_run.summary["data"]["splits"]["test"]["n"]


def test_predictions_are_probabilities_per_class_and_class_names(table_run, image_run):
    bc = trainlab.load(table_run.dir)
    p = bc.predict(table_run.x_test)
    assert p.shape == (len(table_run.x_test), 2) and p.dtype == np.float32
    assert bc.class_names == ["malignant", "benign"] and bc.output_names == ["p_malignant", "p_benign"]
    names = bc.predict_classes(table_run.x_test)
    np.testing.assert_array_equal(names, np.where(p[:, 1] > p[:, 0], "benign", "malignant"))
    assert bc.predict(table_run.x_test[0]).shape == (1, 2)  # one sample
    digits = trainlab.load(image_run.dir)
    grey = image_run.x_test[:5, :, :, 0]  # (N, H, W): the channel axis is added
    np.testing.assert_array_equal(digits.predict(grey), digits.predict(image_run.x_test[:5]))
    assert set(digits.predict_classes(image_run.x_test)) <= set(digits.class_names)


def test_labels_may_be_class_names_or_codes(table_run):
    predictor = trainlab.load(table_run.dir)
    codes = (table_run.y_test == "benign").astype(int)
    assert predictor.evaluate(table_run.x_test, codes) == predictor.evaluate(table_run.x_test, table_run.y_test)
    with pytest.raises(TrainlabError, match=r"^y: row 0 holds a class that is not among the run's classes"
                                            r" \(malignant, benign\), got 'sick'$"):
        predictor.evaluate(table_run.x_test[:2], ["sick", "benign"])


def test_sample_weights_weigh_the_loss_and_the_metrics(table_run):
    predictor = trainlab.load(table_run.dir)
    x, y = table_run.x_test, table_run.y_test
    plain = predictor.evaluate(x, y)
    tripled = predictor.evaluate(x, y, sample_weight=np.full(len(y), 3.0))
    # As Keras' fit and evaluate: the loss is sum(w * loss) / N, a metric the weighted mean.
    assert tripled["loss"] == pytest.approx(3 * plain["loss"], rel=1e-6)
    assert tripled["accuracy"] == pytest.approx(plain["accuracy"], abs=1e-7)
    half = np.arange(len(y)) % 2 == 0
    weighted = predictor.evaluate(x, y, sample_weight=half.astype(float))
    assert weighted["accuracy"] == pytest.approx(predictor.evaluate(x[half], y[half])["accuracy"], abs=1e-7)


def test_regression_predicts_values(regression_run):
    predictor = trainlab.load(regression_run.dir)
    values = predictor.predict(regression_run.x_test)
    assert values.shape == (len(regression_run.x_test),) and predictor.output_names == ["predicted"]
    assert predictor.class_names is None
    with pytest.raises(TrainlabError, match="needs a classification run"):
        predictor.predict_classes(regression_run.x_test)


def test_a_table_by_column_name_in_any_order(csv_run):
    from trainlab.data import Table

    predictor = trainlab.load(csv_run.dir)
    columns = Table.from_csv(csv_run.x_test).columns  # id, gamma, answer, alpha, beta: extra columns are ignored
    mapping = {name: columns[name] for name in ("beta", "gamma", "alpha")}
    np.testing.assert_array_equal(predictor.predict(mapping), predictor.predict(csv_run.x_test))
    in_order = np.stack([columns[n].astype(float) for n in ("alpha", "beta", "gamma")], axis=1)
    np.testing.assert_array_equal(predictor.predict(in_order), predictor.predict(csv_run.x_test))


def test_a_dataframe(csv_run):
    pandas = pytest.importorskip("pandas")
    predictor = trainlab.load(csv_run.dir)
    frame = pandas.read_csv(csv_run.x_test)
    np.testing.assert_array_equal(predictor.predict(frame), predictor.predict(csv_run.x_test))
    _same_scores(predictor.evaluate(frame, frame["answer"]), csv_run.summary["test"])


def test_token_ids_beyond_the_vocabulary_are_refused(token_run):
    predictor = trainlab.load(token_run.dir)
    x = token_run.x_test[:3].copy()
    x[1, 4] = 25
    with pytest.raises(TrainlabError, match=r"^inputs: token ids must be < 20 \(the model's vocabulary\); sample 1,"
                                            r" step 4, got 25$"):
        predictor.predict(x)


def test_a_run_on_arrays_from_python(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(120, 4)) * [1, 5, 10, 0.1]
    y = np.where(x[:, 0] > 0, "up", "down")
    data = trainlab.data.from_arrays(x, y, {"validation_split": 0.25}, seed=0)
    recipe = {"name": "arrays", "model": {"hidden": [4]}, "training": {"epochs": 1, "verbose": 0, "tensorboard": False}}
    run = trainlab.train(recipe, out=tmp_path / "run", data=data)
    predictor = trainlab.load(run.dir)
    assert predictor.class_names == ["down", "up"] and predictor.preprocessing.feature_names == ["x0", "x1", "x2", "x3"]
    np.testing.assert_array_equal(predictor.transform(x[:5]), data.transform(x[:5]))
    with pytest.raises(TrainlabError, match="this run's data came from Python; give the inputs and labels"):
        predictor.evaluate_split("val")


def test_image_files_are_read_as_the_image_folder_source_read_them(tmp_path):
    from PIL import Image

    from trainlab.data.images import image_files
    from trainlab.inference import inputs

    rng = np.random.default_rng(1)
    folder = tmp_path / "pics"
    for name in ("a", "a-b"):  # 'a-b/' sorts before 'a/' as a path, after 'a' as a class
        (folder / name).mkdir(parents=True)
        for i in range(4):
            Image.fromarray(rng.integers(0, 256, (10, 12, 3), dtype=np.uint8)).save(folder / name / f"{i}.png")
    data = {"source": "image_folder", "path": str(folder), "image_size": [6, 5], "validation_split": 0.25}
    recipe = {"name": "folder", "data": data, "model": {"hidden": [4]},
              "training": {"epochs": 1, "batch_size": 2, "verbose": 0, "tensorboard": False,
                           "checkpoint": {"enabled": False}}}
    run = trainlab.train(recipe, out=tmp_path / "run")
    predictor = trainlab.load(run.dir)
    raw = trainlab.data.sources.build({"name": "image_folder", "path": str(folder), "image_size": [6, 5]})

    batch = inputs.read(folder, predictor.preprocessing, labelled=True)
    assert batch.ids == [p.relative_to(folder).as_posix() for p in image_files(folder)]
    assert list(batch.y) == [raw.class_names[code] for code in raw.y]  # the training order, file by file
    np.testing.assert_array_equal(batch.x, predictor.preprocessing.transform(raw.x))  # same pixels, resized alike
    np.testing.assert_array_equal(predictor.predict(folder / "a-b" / "2.png"), predictor.predict(folder)[6:7])
