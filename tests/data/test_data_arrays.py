"""from_arrays: the user's own arrays, task inference and label encoding, and their errors."""

import numpy as np
import pytest
from sklearn.model_selection import train_test_split

from trainlab.data.config import DataConfig
from trainlab.data import MAX_INFERRED_CLASSES, from_arrays, infer_kind
from trainlab.errors import TrainlabError

rng = np.random.default_rng(0)
X = rng.normal(size=(40, 3))
Y = np.repeat(["no", "yes"], 20)


def _error(*args, **kwargs) -> str:
    with pytest.raises(TrainlabError) as info:
        from_arrays(*args, **kwargs)
    return str(info.value)


def test_defaults_split_stratified_and_standardize():
    splits = from_arrays(X, Y, seed=3)
    assert splits.source == "arrays" and splits.task == "binary" and splits.class_names == ["no", "yes"]
    _, x_val, _, y_val = train_test_split(X, np.repeat([0, 1], 20), test_size=0.2, random_state=3, stratify=Y)
    np.testing.assert_allclose(splits.x_val, (x_val - splits.mean) / splits.std, rtol=1e-5)
    np.testing.assert_array_equal(splits.y_val, y_val)
    assert splits.feature_names == ["x0", "x1", "x2"]


def test_labels_are_encoded_in_sorted_order_of_the_original_values():
    y = np.array([10, 2, 2, 10, 7, 7] * 5)
    splits = from_arrays(np.arange(30.0), y, DataConfig(validation_split=0.0, standardize=False))
    assert splits.class_names == ["2", "7", "10"] and splits.task == "multiclass" and splits.n_outputs == 3
    np.testing.assert_array_equal(splits.y_train[:6], [2, 0, 0, 2, 1, 1])
    assert splits.x_train.shape == (30, 1)  # a 1-D x is one feature


def test_given_validation_and_test_arrays_are_used():
    x_val, x_test = rng.normal(size=(6, 3)), rng.normal(size=(5, 3))
    splits = from_arrays(X, Y, x_val=x_val, y_val=["yes"] * 6, x_test=x_test, y_test=["no"] * 5,
                         feature_names=["a", "b", "c"])
    assert len(splits.x_train) == 40 and len(splits.x_val) == 6 and len(splits.x_test) == 5
    np.testing.assert_allclose(splits.mean, X.mean(axis=0))
    np.testing.assert_array_equal(splits.y_val, np.ones(6))
    assert splits.feature_names == ["a", "b", "c"]


def test_given_validation_arrays_with_an_explicit_validation_split():
    message = _error(X, Y, DataConfig(validation_split=0.3), x_val=X[:4], y_val=Y[:4])
    assert message == "data.validation_split: must be 0 when validation arrays (x_val, y_val) are given, got 0.3"


def test_a_validation_array_without_its_pair():
    assert _error(X, Y, x_val=X) == "from_arrays: x_val needs y_val too; missing, got 'y_val'"
    assert _error(X, Y, y_test=Y) == "from_arrays: y_test needs x_test too; missing, got 'x_test'"


def test_given_arrays_must_match_the_training_features():
    assert _error(X, Y, x_val=X[:, :2], y_val=Y) == "from_arrays: x_val needs as many features as x (3), got 2"
    assert _error(X, Y, x_test=X[:5], y_test=Y[:4]) == (
        "from_arrays: x_test and y_test need one row per sample; x_test has 5 rows, y_test has, got 4"
    )


def test_mismatched_lengths():
    assert _error(X, Y[:39]) == "from_arrays: x and y need one row per sample; x has 40 rows, y has, got 39"


def test_nan_in_features_and_target_say_where():
    x = X.copy()
    x[7, 1] = np.nan
    assert _error(x, Y, feature_names=["a", "b", "c"]) == (
        "from_arrays: x must be finite (no NaN or inf); row 7, column 1 ('b'), got nan"
    )
    y = np.linspace(0, 1, 40)
    y[12] = -np.inf
    assert _error(X, y) == "from_arrays: y must be finite (no NaN or inf); row 12, got -inf"


def test_non_numeric_features():
    assert _error([["1", "b"]] * 4, [0, 1, 0, 1]) == "from_arrays: x must hold numbers; row 0, column 1, got 'b'"
    assert _error([[1.0, None]] * 4, [0, 1, 0, 1]) == (  # NumPy reads None as NaN
        "from_arrays: x must be finite (no NaN or inf); row 0, column 1 ('x1'), got nan"
    )
    assert _error(np.zeros((0, 3)), []) == "from_arrays: x needs at least one sample and one feature, got 'shape (0, 3)'"


def test_feature_names_must_match_the_columns():
    assert _error(X, Y, feature_names=["a"]) == "from_arrays: needs one feature name per feature column (3), got 1"


def test_one_class_only():
    assert _error(X, ["a"] * 40) == "from_arrays: the target needs at least 2 classes, got 'a'"


def test_class_too_rare_to_stratify():
    y = np.array([0] * 20 + [1] * 19 + [2])
    assert _error(X, y) == (
        "from_arrays: a stratified split needs at least 2 samples of every class (or set data.stratify: false);"
        " classes with fewer, got {'2': 1}"
    )


def test_a_split_too_small():
    message = _error(X[:10], np.arange(10) % 5, DataConfig(validation_split=0.2))
    assert message.startswith("from_arrays: too few samples for the split (validation_split 0.2, test_split 0.0)")
    assert "2 validation" in message and "at least 5 samples (one per class" in message and message.endswith("got 10")


def test_label_columns_and_several_targets():
    two_targets = rng.normal(size=(40, 2))
    splits = from_arrays(X, two_targets)
    assert splits.task == "regression" and splits.n_outputs == 2 and splits.y_train.shape == (32, 2)
    column = from_arrays(X, np.repeat([[0], [1]], 20, axis=0))
    assert column.task == "binary" and column.y_train.shape == (32,)
    assert _error(X, np.zeros((40, 2), dtype=int), {"task": "multiclass"}) == (
        "from_arrays: class labels (y) must be one column, got 'shape (40, 2)'"
    )


def test_task_override():
    counts = np.arange(40) % 4
    assert from_arrays(X, counts).task == "multiclass"
    regression = from_arrays(X, counts, {"task": "regression"})
    assert regression.task == "regression" and regression.y_train.dtype == np.float32 and regression.n_classes is None
    assert from_arrays(X, counts % 2, {"task": "multiclass"}).n_outputs == 2


@pytest.mark.parametrize(
    ("y", "kind"),
    [
        (np.array(["a", "b"]), "classification"),
        (np.array([True, False]), "classification"),
        (np.array([0, 1, 2]), "classification"),
        (np.array([0.0, 1.0, 2.0]), "classification"),
        (np.array([0.5, 1.0]), "regression"),
        (np.arange(MAX_INFERRED_CLASSES + 1), "regression"),
        (np.arange(MAX_INFERRED_CLASSES), "classification"),
        (np.zeros((3, 2)), "regression"),
    ],
)
def test_infer_kind(y, kind):
    assert infer_kind(y) == kind


def test_regression_targets_given_as_text_numbers():
    splits = from_arrays(X, np.array([f"{v:.3f}" for v in np.linspace(0, 1, 40)]), {"task": "regression"})
    assert splits.y_train.dtype == np.float32


def test_a_config_for_arrays_uses_the_arrays_source():
    config = DataConfig(source="arrays", task="regression", test_split=0.25)
    splits = from_arrays(X, np.linspace(0, 1, 40), config)
    assert splits.task == "regression" and len(splits.y_test) == 10
    assert config.model_dump() == {"source": "arrays", "task": "regression", "seed": None, "validation_split": 0.2,
                                   "test_split": 0.25, "stratify": True, "standardize": True, "augment": []}


def test_a_recipe_cannot_load_the_arrays_source():
    from trainlab.data import load

    with pytest.raises(TrainlabError, match="data.source: 'arrays' is data given in Python"):
        load(DataConfig(source="arrays"), seed=0)


def test_given_targets_must_match_the_training_targets():
    assert _error(X, Y, x_test=X[:2], y_test=[0, 1]) == (
        "from_arrays: y_test row 0 holds a class that is not among the training labels (no, yes), got '0'"
    )
    assert _error(X, rng.normal(size=(40, 2)), x_test=X[:2], y_test=[1.0, 2.0]) == (
        "from_arrays: y_test needs 2 target column(s), as y has, got 1"
    )
