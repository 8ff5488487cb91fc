"""CSV, NPZ and MNIST files: round trips, base_dir, and every file error a user can meet."""

import os

import numpy as np
import pytest

from trainlab.data.config import DataConfig
from trainlab.data import load
from trainlab.errors import TrainlabError


def _csv(tmp_path, text, name="data.csv"):
    (tmp_path / name).write_text(text)
    return name


def _load_csv(tmp_path, text, **keys):
    name = _csv(tmp_path, text)
    return load(DataConfig(source="csv", path=name, **keys), seed=0, base_dir=tmp_path)


def _error(tmp_path, text, **keys) -> str:
    with pytest.raises(TrainlabError) as info:
        _load_csv(tmp_path, text, **keys)
    return str(info.value)


def _iris_like_rows(n_per_class=10):
    rng = np.random.default_rng(0)
    lines = ["width,species,length"]
    for k, name in enumerate(["virginica", "setosa", "versicolor"]):
        for _ in range(n_per_class):
            lines.append(f"{rng.normal(k):.4f},{name},{rng.normal(-k):.4f}")
    return "\n".join(lines) + "\n"


# -- CSV ---------------------------------------------------------------------------------


def test_csv_round_trip_with_a_text_target(tmp_path):
    splits = _load_csv(tmp_path, _iris_like_rows(), target="species", standardize=False, validation_split=0.0)
    assert splits.task == "multiclass" and splits.n_classes == 3 and splits.source == "csv"
    assert splits.class_names == ["setosa", "versicolor", "virginica"]  # sorted original values
    assert splits.feature_names == ["width", "length"]
    assert splits.x_train.dtype == np.float32 and splits.x_train.shape == (30, 2)
    np.testing.assert_array_equal(splits.y_train[:3], [2, 2, 2])  # the first rows are virginica
    first = (tmp_path / "data.csv").read_text().splitlines()[1].split(",")
    np.testing.assert_allclose(splits.x_train[0], [float(first[0]), float(first[2])], rtol=1e-6)


def test_csv_target_defaults_to_the_last_column(tmp_path):
    splits = _load_csv(tmp_path, "a,b,label\n" + "".join(f"{i},{i % 3},{i % 2}\n" for i in range(20)))
    assert splits.task == "binary" and splits.feature_names == ["a", "b"] and splits.class_names == ["0", "1"]


def test_csv_numeric_targets_infer_the_task(tmp_path):
    rows = "".join(f"{i},{i * 0.37:.3f}\n" for i in range(30))
    assert _load_csv(tmp_path, "a,y\n" + rows).task == "regression"
    counts = "a,y\n" + "".join(f"{i},{i}\n" for i in range(60))  # 60 distinct integers
    assert _load_csv(tmp_path, counts).task == "regression"
    overridden = _load_csv(tmp_path, "a,y\n" + "".join(f"{i},{i % 3}\n" for i in range(30)), task="regression")
    assert overridden.task == "regression" and overridden.y_train.dtype == np.float32


def test_csv_bool_target_is_binary(tmp_path):
    splits = _load_csv(tmp_path, "a,ok\n" + "".join(f"{i},{i % 2 == 0}\n" for i in range(20)))
    assert splits.task == "binary" and splits.class_names == ["False", "True"]


def test_csv_blank_lines_whitespace_and_other_delimiters(tmp_path):
    text = "a; b ;y\n\n" + "".join(f" {i} ;{-i};{i % 2}\n" for i in range(20)) + "\n"
    splits = _load_csv(tmp_path, text, delimiter=";", validation_split=0.0, standardize=False)
    assert splits.feature_names == ["a", "b"] and splits.x_train.shape == (20, 2)


def test_relative_paths_start_at_base_dir_then_the_current_directory(tmp_path, monkeypatch):
    (tmp_path / "sub").mkdir()
    _csv(tmp_path / "sub", "a,y\n" + "".join(f"{i},{i % 2}\n" for i in range(20)))
    assert load(DataConfig(source="csv", path="sub/data.csv"), seed=0, base_dir=tmp_path).n_features == 1
    monkeypatch.chdir(tmp_path)
    assert load(DataConfig(source="csv", path="sub/data.csv"), seed=0).n_features == 1
    absolute = str(tmp_path / "sub" / "data.csv")
    assert load(DataConfig(source="csv", path=absolute), seed=0, base_dir="/elsewhere").n_features == 1


def test_missing_file(tmp_path):
    with pytest.raises(TrainlabError) as info:
        load(DataConfig(source="csv", path="nope.csv"), seed=0, base_dir=tmp_path)
    assert str(info.value) == f"data.path: file not found: {tmp_path / 'nope.csv'}, got 'nope.csv'"


def test_a_folder_is_not_a_file(tmp_path):
    with pytest.raises(TrainlabError, match="data.path: is a folder, expected a file"):
        load(DataConfig(source="npz", path="."), seed=0, base_dir=tmp_path)


def test_empty_csv(tmp_path):
    assert _error(tmp_path, "") == "data.csv: file is empty; a CSV needs a header row and data rows"
    assert _error(tmp_path, "\n\n") == "data.csv: file is empty; a CSV needs a header row and data rows"
    assert _error(tmp_path, "a,b,y\n") == "data.csv: has a header row but no data rows, got 'a, b, y'"


def test_csv_without_the_target_column(tmp_path):
    message = _error(tmp_path, "a,b,labels\n1,2,x\n", target="label")
    assert message == (
        "data.target: column not found in data.csv (did you mean 'labels'?); columns: a, b, labels, got 'label'"
    )


GOOD = "a,b,y\n" + "".join(f"{i},{i % 7},{i % 2}\n" for i in range(20))  # lines 2-21


def test_csv_non_numeric_feature_names_the_line_column_and_cell(tmp_path):
    # A text cell makes its column categorical (data.categorical: auto); with the columns listed, it is refused.
    text = GOOD + "3,abc,1\n"
    assert "b=abc" in _load_csv(tmp_path, text).feature_names
    assert _error(tmp_path, text, categorical=[]) == (
        "data.csv: line 22, column 'b': must be a number (a numeric column; list it in data.categorical to treat"
        " its values as categories), got 'abc'"
    )
    assert _error(tmp_path, "a,b,y\n,2,0\n" + GOOD.split("\n", 1)[1]) == (
        "data.csv: line 2, column 'a': missing value; set data.missing to mean, median or most_frequent to fill gaps,"
        " got ''"
    )


@pytest.mark.parametrize("cell", ["inf", "-Infinity", "NAN"])
def test_csv_non_finite_feature(tmp_path, cell):
    text = GOOD + "5," + cell + ",0\n"
    assert _error(tmp_path, text) == (
        f"data.csv: line 22, column 'b': features must be finite (no NaN or inf), got {cell!r}"
    )


def test_csv_bad_target_cells(tmp_path):
    assert _error(tmp_path, "a,y\n1,0.5\n2,inf\n") == (
        "data.csv: line 3, column 'y': the target must be finite (no NaN or inf), got 'inf'"
    )
    assert _error(tmp_path, "a,y\n1,0\n2, \n") == (
        "data.csv: line 3, column 'y': the target cell is missing (empty or NA), got ''"
    )
    assert _error(tmp_path, "a,y\n1,0.5\n2,nan\n") == (
        "data.csv: line 3, column 'y': the target cell is missing (empty or NA), got 'nan'"
    )


def test_csv_ragged_rows_and_bad_headers(tmp_path):
    assert _error(tmp_path, "a,b,y\n1,2,0\n1,2\n") == (
        "data.csv: line 3: every row needs as many cells as the header (3), got 2"
    )
    assert _error(tmp_path, "a,a,y\n1,2,0\n") == "data.csv: line 1: column names must be unique, got 'a'"
    assert _error(tmp_path, "a,,y\n1,2,0\n").startswith("data.csv: line 1: column 2 of the header row has no name")
    assert _error(tmp_path, "y\n1\n2\n") == (
        "data.csv: needs at least one feature column besides the target column, got 'y'"
    )


def test_csv_that_is_not_text(tmp_path):
    (tmp_path / "data.csv").write_bytes(b"\xff\xfe\x00\x81binary")
    with pytest.raises(TrainlabError, match="data.csv: must be a UTF-8 text file"):
        load(DataConfig(source="csv", path="data.csv"), seed=0, base_dir=tmp_path)


def test_csv_with_one_class(tmp_path):
    assert _error(tmp_path, "a,y\n1,cat\n2,cat\n") == "data.csv: the target needs at least 2 classes, got 'cat'"


def test_csv_class_too_rare_to_stratify(tmp_path):
    text = "a,y\n" + "".join(f"{i},{'cat' if i % 2 else 'dog'}\n" for i in range(20)) + "99,bird\n"
    assert _error(tmp_path, text) == (
        "data.csv: a stratified split needs at least 2 samples of every class (or set data.stratify: false);"
        " classes with fewer, got {'bird': 1}"
    )
    splits = _load_csv(tmp_path, text, stratify=False)
    assert splits.n_classes == 3
    assert _load_csv(tmp_path, text, validation_split=0.0).n_classes == 3  # no split, nothing to stratify


def test_csv_regression_task_on_text_labels(tmp_path):
    assert _error(tmp_path, "a,y\n1,cat\n2,dog\n", task="regression") == (
        "data.csv: regression targets must be numbers; y row 0, got 'cat'"
    )


def test_csv_binary_task_with_three_classes(tmp_path):
    message = _error(tmp_path, _iris_like_rows(), target="species", task="binary")
    assert message == "data.task: 'binary' needs exactly 2 classes; the target in data.csv has 3, got 'binary'"


# -- NPZ ---------------------------------------------------------------------------------


def _npz(tmp_path, name="data.npz", **arrays):
    np.savez(tmp_path / name, **arrays)
    return name


def _load_npz(tmp_path, **keys):
    return load(DataConfig(source="npz", path="data.npz", **keys), seed=0, base_dir=tmp_path)


def _npz_error(tmp_path, **keys) -> str:
    with pytest.raises(TrainlabError) as info:
        _load_npz(tmp_path, **keys)
    return str(info.value)


@pytest.mark.parametrize("x_name", ["x", "X"])
def test_npz_with_x_and_y(tmp_path, x_name):
    rng = np.random.default_rng(0)
    _npz(tmp_path, **{x_name: rng.normal(size=(40, 3)), "y": rng.normal(size=40)})
    splits = _load_npz(tmp_path)
    assert splits.task == "regression" and splits.x_train.shape == (32, 3) and splits.feature_names == ["x0", "x1", "x2"]


def test_npz_images_keep_their_shape_and_a_given_test_split_is_used(tmp_path):
    rng = np.random.default_rng(0)
    y_train, y_test = np.tile([3, 5, 7], 10), np.array([7, 3, 5, 5])
    x_test = rng.integers(0, 255, size=(4, 2, 2, 2))
    _npz(tmp_path, x_train=rng.integers(0, 255, size=(30, 2, 2, 2)), y_train=y_train, x_test=x_test, y_test=y_test)
    splits = _load_npz(tmp_path, standardize=False)
    assert splits.x_train.shape == (24, 2, 2, 2) and splits.x_val.shape == (6, 2, 2, 2)
    assert splits.x_test.shape == (4, 2, 2, 2) and splits.input_shape == (2, 2, 2) and splits.input_dtype == "float32"
    assert splits.class_names == ["3", "5", "7"]
    np.testing.assert_array_equal(splits.y_test, [2, 0, 1, 1])
    np.testing.assert_array_equal(splits.x_test, x_test.astype(np.float32))


def test_npz_images_are_standardized_per_channel_on_the_training_split(tmp_path):
    rng = np.random.default_rng(1)
    x = rng.normal(loc=[1.0, -5.0, 20.0], scale=[1.0, 3.0, 0.5], size=(40, 4, 4, 3))
    _npz(tmp_path, x=x, y=np.arange(40) % 2)
    splits = _load_npz(tmp_path)
    assert splits.preprocessing.mean.shape == (3,) and splits.x_train.shape == (32, 4, 4, 3)
    flat = splits.x_train.reshape(-1, 3)
    np.testing.assert_allclose(flat.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(flat.std(axis=0), 1, atol=1e-4)


def test_npz_token_ids_are_never_standardized(tmp_path):
    rng = np.random.default_rng(2)
    tokens = rng.integers(1, 30, size=(40, 7))
    _npz(tmp_path, x=tokens, y=np.arange(40) % 2)
    splits = _load_npz(tmp_path)
    assert splits.input_dtype == "int32" and splits.x_train.dtype == np.int32 and not splits.standardized
    assert splits.vocab_size == int(tokens.max()) + 1 and splits.input_shape == (7,)
    assert set(map(tuple, splits.x_train)) <= set(map(tuple, tokens))


def test_npz_given_test_split_and_test_split_key(tmp_path):
    rng = np.random.default_rng(0)
    _npz(tmp_path, x_train=rng.normal(size=(20, 2)), y_train=np.arange(20) % 2,
         x_test=rng.normal(size=(4, 2)), y_test=np.arange(4) % 2)
    assert _npz_error(tmp_path, test_split=0.1) == (
        "data.test_split: must be 0: data.npz comes with its own test split (x_test, y_test), got 0.1"
    )


def test_npz_test_labels_must_be_training_classes(tmp_path):
    _npz(tmp_path, x_train=np.zeros((20, 2)), y_train=np.arange(20) % 2, x_test=np.zeros((2, 2)), y_test=[0, 4])
    assert _npz_error(tmp_path) == (
        "data.npz: y_test row 1 holds a class that is not among the training labels (0, 1), got '4'"
    )


def test_npz_without_the_expected_arrays_lists_what_it_has(tmp_path):
    _npz(tmp_path, features=np.zeros((3, 2)), labels=np.zeros(3))
    message = _npz_error(tmp_path)
    assert message.startswith("data.npz: needs arrays 'x' and 'y'") and message.endswith("it has, got 'features, labels'")
    _npz(tmp_path, x_train=np.zeros((3, 2)), y_train=np.zeros(3), x_test=np.zeros((3, 2)))
    assert _npz_error(tmp_path) == (
        "data.npz: a given test split needs both x_test and y_test; arrays, got 'x_test, x_train, y_train'"
    )


def test_npz_mismatched_lengths(tmp_path):
    _npz(tmp_path, x=np.zeros((10, 2)), y=np.arange(9) % 2)
    assert _npz_error(tmp_path) == "data.npz: x and y need one row per sample; x has 10 rows, y has, got 9"


def test_npz_non_finite_values_say_where(tmp_path):
    x = np.ones((10, 3))
    x[4, 2] = np.inf
    _npz(tmp_path, x=x, y=np.arange(10) % 2)
    assert _npz_error(tmp_path) == "data.npz: x must be finite (no NaN or inf); row 4, column 2 ('x2'), got inf"
    y = np.linspace(0, 1, 10)
    y[7] = np.nan
    _npz(tmp_path, x=np.ones((10, 3)), y=y)
    assert _npz_error(tmp_path) == "data.npz: y must be finite (no NaN or inf); row 7, got nan"


def test_npz_non_numeric_features(tmp_path):
    _npz(tmp_path, x=np.array([["a", "b"]] * 10), y=np.arange(10) % 2)
    assert _npz_error(tmp_path) == "data.npz: x must hold numbers; row 0, column 0, got 'a'"


def test_npz_object_arrays_are_refused(tmp_path):
    np.savez(tmp_path / "data.npz", x=np.zeros((4, 2)), y=np.array([None, 1, 2, 3], dtype=object))
    assert _npz_error(tmp_path) == "data.npz: array 'y' holds Python objects; save numbers or strings"


def test_empty_and_broken_npz(tmp_path):
    (tmp_path / "data.npz").write_bytes(b"")
    assert _npz_error(tmp_path) == "data.npz: file is empty; expected a NumPy .npz archive"
    (tmp_path / "data.npz").write_text("a,b\n1,2\n")
    assert _npz_error(tmp_path).startswith("data.npz: is not a readable NumPy .npz archive")
    np.save(tmp_path / "single.npy", np.zeros(3))
    os.replace(tmp_path / "single.npy", tmp_path / "data.npz")
    assert _npz_error(tmp_path).startswith("data.npz: must be a .npz archive of named arrays")


# -- MNIST -------------------------------------------------------------------------------


@pytest.fixture
def mnist_file(tmp_path):
    rng = np.random.default_rng(0)
    np.savez(
        tmp_path / "mnist.npz",
        x_train=rng.integers(0, 256, size=(300, 28, 28), dtype=np.uint8),
        y_train=np.arange(300, dtype=np.uint8) % 10,
        x_test=rng.integers(0, 256, size=(60, 28, 28), dtype=np.uint8),
        y_test=np.arange(60, dtype=np.uint8) % 10,
    )
    return tmp_path / "mnist.npz"


def test_mnist_is_images_scaled_and_subset(mnist_file):
    config = DataConfig(source="mnist", path=str(mnist_file), n_train=200, n_test=50, standardize=False)
    splits = load(config, seed=42)
    assert splits.x_train.shape == (160, 28, 28, 1) and splits.x_val.shape == (40, 28, 28, 1)
    assert splits.x_test.shape == (50, 28, 28, 1)
    assert splits.x_train.dtype == np.float32 and 0.0 <= splits.x_train.min() and splits.x_train.max() <= 1.0
    assert splits.task == "multiclass" and splits.n_classes == 10 and splits.class_names == [str(d) for d in range(10)]
    with np.load(mnist_file) as raw:
        np.testing.assert_allclose(splits.x_test, raw["x_test"][:50, :, :, None] / 255.0, rtol=1e-6)
        np.testing.assert_array_equal(splits.y_test, raw["y_test"][:50])


def test_mnist_subset_larger_than_the_file(mnist_file):
    with pytest.raises(TrainlabError) as info:
        load(DataConfig(source="mnist", path=str(mnist_file), n_train=5000), seed=0)
    assert str(info.value) == f"data.n_train: must be <= 300 (the images in {mnist_file}), got 5000"


def test_missing_mnist_says_it_cannot_be_downloaded_and_where_to_put_it(tmp_path):
    with pytest.raises(TrainlabError) as info:
        load(DataConfig(source="mnist", path="mnist.npz"), seed=0, base_dir=tmp_path)
    message = str(info.value)
    assert message.startswith(f"data.path: MNIST file not found (file not found: {tmp_path / 'mnist.npz'})")
    assert "cannot be downloaded here" in message and "x_train, y_train, x_test, y_test" in message
    assert "source: digits" in message and message.endswith("got 'mnist.npz'")


def test_mnist_file_without_the_keras_arrays(tmp_path):
    np.savez(tmp_path / "mnist.npz", x=np.zeros((3, 28, 28)), y=np.zeros(3))
    with pytest.raises(TrainlabError) as info:
        load(DataConfig(source="mnist", path="mnist.npz"), seed=0, base_dir=tmp_path)
    assert str(info.value) == (
        "mnist.npz: a Keras-format MNIST file needs arrays x_train, y_train, x_test, y_test; it has, got 'x, y'"
    )
