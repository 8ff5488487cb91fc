"""Sources, task inference, splits and scaling, compared with scikit-learn."""

import numpy as np
import pytest
from sklearn.datasets import load_digits, make_classification, make_regression
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from trainlab.data.config import DataConfig
from trainlab.data import RawData, Splits, load, sources
from trainlab.errors import TrainlabError


@pytest.mark.parametrize(
    ("keys", "task", "n_classes", "n_outputs", "n_features", "n_samples"),
    [
        ({}, "binary", 2, 1, 20, 1000),
        ({"n_classes": 4, "n_informative": 4}, "multiclass", 4, 4, 20, 1000),
        ({"source": "synthetic_regression", "n_samples": 100, "n_features": 5, "noise": 0.1},
         "regression", None, 1, 5, 100),
        ({"source": "digits"}, "multiclass", 10, 10, 64, 1797),
        ({"source": "breast_cancer"}, "binary", 2, 1, 30, 569),
        ({"source": "wine"}, "multiclass", 3, 3, 13, 178),
        ({"source": "iris"}, "multiclass", 3, 3, 4, 150),
        ({"source": "diabetes"}, "regression", None, 1, 10, 442),
    ],
)
def test_every_bundled_source_gives_typed_splits(keys, task, n_classes, n_outputs, n_features, n_samples):
    splits = load(DataConfig(test_split=0.1, **keys), seed=0)
    assert (splits.task, splits.n_classes, splits.n_outputs, splits.n_features) == (
        task, n_classes, n_outputs, n_features
    )
    assert len(splits.y_train) + len(splits.y_val) + len(splits.y_test) == n_samples
    assert len(splits.y_test) == int(np.ceil(0.1 * n_samples)) and len(splits.y_val) == int(np.ceil(0.2 * n_samples))
    for x, y in ((splits.x_train, splits.y_train), (splits.x_val, splits.y_val), (splits.x_test, splits.y_test)):
        assert x.dtype == np.float32 and x.ndim == 2 and x.shape == (len(y), n_features)
        if task == "regression":
            assert y.dtype == np.float32 and y.shape == (len(x),)
        else:
            assert y.dtype == np.int64 and y.ndim == 1 and y.min() >= 0 and y.max() < n_classes
    assert len(splits.feature_names) == n_features
    assert (splits.class_names is None) == (task == "regression")


def test_bundled_class_names_follow_the_codes():
    assert load(DataConfig(source="breast_cancer"), seed=0).class_names == ["malignant", "benign"]
    assert load(DataConfig(source="digits"), seed=0).class_names == [str(d) for d in range(10)]
    splits = load(DataConfig(source="diabetes"), seed=0)
    assert splits.feature_names[:3] == ["age", "sex", "bmi"]


def test_tutorial_section_4_data_is_make_classification_with_seed_42():
    x, y = make_classification(n_samples=1000, n_features=20, random_state=42)
    splits = load(DataConfig(standardize=False, validation_split=0.0), seed=42)
    np.testing.assert_array_equal(splits.x_train, x.astype(np.float32))
    np.testing.assert_array_equal(splits.y_train, y)
    assert splits.x_val is None and splits.y_val is None and splits.x_test is None


def test_unstratified_split_is_the_tutorials_train_test_split():
    x, y = make_classification(n_samples=1000, n_features=20, random_state=42)
    x_train, x_val, y_train, y_val = train_test_split(x, y, test_size=0.2, random_state=42)
    splits = load(DataConfig(standardize=False, stratify=False), seed=42)
    np.testing.assert_array_equal(splits.x_train, x_train.astype(np.float32))
    np.testing.assert_array_equal(splits.y_val, y_val)


def test_stratified_split_is_train_test_split_with_stratify():
    x, y = make_classification(n_samples=1000, n_features=20, random_state=42)
    _, x_val, _, y_val = train_test_split(x, y, test_size=0.2, random_state=42, stratify=y)
    splits = load(DataConfig(standardize=False), seed=42)
    np.testing.assert_array_equal(splits.x_val, x_val.astype(np.float32))
    np.testing.assert_array_equal(splits.y_val, y_val)


def test_test_split_is_taken_first_then_validation_both_fractions_of_the_whole():
    x, y = make_classification(n_samples=1000, n_features=20, random_state=7)
    x_rest, x_test, y_rest, y_test = train_test_split(x, y, test_size=150, random_state=7, stratify=y)
    x_train, x_val, _, _ = train_test_split(x_rest, y_rest, test_size=200, random_state=7, stratify=y_rest)
    splits = load(DataConfig(standardize=False, test_split=0.15), seed=7)
    assert (len(splits.x_train), len(splits.x_val), len(splits.x_test)) == (650, 200, 150)
    np.testing.assert_array_equal(splits.x_test, x_test.astype(np.float32))
    np.testing.assert_array_equal(splits.x_val, x_val.astype(np.float32))
    np.testing.assert_array_equal(splits.x_train, x_train.astype(np.float32))


def test_stratification_keeps_the_class_ratios():
    config = DataConfig(n_samples=1000, n_classes=3, n_informative=3, weights=[0.7, 0.2], flip_y=0.0, test_split=0.2)
    splits = load(config, seed=3)
    whole = np.bincount(np.concatenate([splits.y_train, splits.y_val, splits.y_test])) / 1000
    assert whole[0] == pytest.approx(0.7, abs=0.02)
    for y in (splits.y_train, splits.y_val, splits.y_test):
        np.testing.assert_allclose(np.bincount(y, minlength=3) / len(y), whole, atol=0.006)
    unstratified = load(config.model_copy(update={"stratify": False}), seed=3)
    assert np.abs(np.bincount(unstratified.y_test, minlength=3) / 200 - whole).max() > 0.006


def test_standardization_uses_the_training_statistics_only():
    raw = load(DataConfig(source="wine", standardize=False, test_split=0.2), seed=1)
    splits = load(DataConfig(source="wine", test_split=0.2), seed=1)
    scaler = StandardScaler().fit(raw.x_train.astype(np.float64))
    np.testing.assert_allclose(splits.mean, scaler.mean_, rtol=1e-6)
    np.testing.assert_allclose(splits.std, scaler.scale_, rtol=1e-6)
    for scaled, unscaled in ((splits.x_train, raw.x_train), (splits.x_val, raw.x_val), (splits.x_test, raw.x_test)):
        np.testing.assert_allclose(scaled, scaler.transform(unscaled), atol=1e-5)
    np.testing.assert_allclose(splits.x_train.mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(splits.x_train.std(axis=0), 1.0, atol=1e-4)
    assert np.abs(splits.x_val.mean(axis=0)).max() > 0.05  # not scaled with its own statistics
    np.testing.assert_allclose(splits.transform(raw.x_test), splits.x_test, atol=1e-6)


def test_constant_features_keep_std_one():
    splits = load(DataConfig(source="digits"), seed=0)  # the first pixel column is always 0
    assert splits.std[0] == 1.0
    assert np.all(splits.x_train[:, 0] == 0.0) and np.all(np.isfinite(splits.x_val))


def test_standardize_false_keeps_the_raw_values():
    splits = load(DataConfig(source="digits", standardize=False), seed=0)
    assert splits.mean is None and splits.std is None and not splits.standardized
    x = load_digits().data
    assert splits.x_train.max() == x.max() == 16.0


def test_same_seed_same_split_other_seed_other_split():
    a = load(DataConfig(n_samples=200), seed=5)
    b = load(DataConfig(n_samples=200), seed=5)
    c = load(DataConfig(n_samples=200), seed=6)
    np.testing.assert_array_equal(a.x_train, b.x_train)
    np.testing.assert_array_equal(a.y_val, b.y_val)
    assert not np.array_equal(a.y_train, c.y_train)
    # The same raw data split with another seed: the bundled data does not depend on the seed.
    d, e = load(DataConfig(source="iris"), seed=0), load(DataConfig(source="iris"), seed=1)
    assert not np.array_equal(d.x_val, e.x_val)


def test_synthetic_regression_is_make_regression():
    x, y = make_regression(n_samples=100, n_features=5, noise=0.5, random_state=11)
    splits = load(
        DataConfig(source="synthetic_regression", n_samples=100, n_features=5, noise=0.5,
                   validation_split=0.0, standardize=False),
        seed=11,
    )
    np.testing.assert_allclose(splits.x_train, x, rtol=1e-6)
    np.testing.assert_allclose(splits.y_train, y, rtol=1e-5)


def test_several_regression_targets():
    splits = load(DataConfig(source="synthetic_regression", n_samples=50, n_features=4, n_targets=3), seed=0)
    assert splits.y_train.shape == (40, 3) and splits.y_train.dtype == np.float32 and splits.n_outputs == 3


def test_synthetic_classification_options_reach_scikit_learn():
    keys = {"n_samples": 300, "n_features": 8, "n_informative": 3, "n_redundant": 1, "n_classes": 3,
            "weights": [0.5, 0.3], "flip_y": 0.0}
    x, y = make_classification(**keys, random_state=4)
    splits = load(DataConfig(**keys, validation_split=0.0, standardize=False), seed=4)
    np.testing.assert_array_equal(splits.y_train, y)
    np.testing.assert_allclose(splits.x_train, x, rtol=1e-6)


def test_describe_counts_each_split():
    splits = load(DataConfig(n_samples=100, test_split=0.1), seed=0)
    summary = splits.describe()
    assert summary["task"] == "binary" and summary["n_features"] == 20 and summary["standardized"] is True
    assert {k: v["n"] for k, v in summary["splits"].items()} == {"train": 70, "val": 20, "test": 10}
    assert summary["splits"]["val"]["class_counts"] == {"0": 10, "1": 10}
    assert sum(summary["splits"]["train"]["class_counts"].values()) == 70
    regression = load(DataConfig(source="diabetes", validation_split=0.0), seed=0).describe()
    assert regression["splits"]["val"] == {"n": 0} and regression["class_names"] is None


def test_load_accepts_a_mapping():
    assert load({"source": "iris", "validation_split": 0.2}, seed=0).x_val.shape == (30, 4)


@pytest.fixture
def scratch_registry(monkeypatch):
    """Registrations made in a test are dropped after it."""
    monkeypatch.setattr(sources, "_entries", dict(sources._entries))


def test_a_registered_source_is_configured_by_its_signature(scratch_registry):
    @sources.register("test_blobs_source")
    def blobs(n_samples: int = 40, seed: int = 0) -> tuple:
        rng = np.random.default_rng(seed)
        return rng.normal(size=(n_samples, 3)), np.repeat(["a", "b"], n_samples // 2)

    splits = load(DataConfig(source="test_blobs_source", n_samples=60), seed=2)
    assert splits.task == "binary" and splits.class_names == ["a", "b"] and len(splits.y_train) == 48
    with pytest.raises(TrainlabError, match="data.noise: does not apply to data source 'test_blobs_source'"):
        DataConfig(source="test_blobs_source", noise=1.0)


def test_a_source_returning_something_else_is_an_error(scratch_registry):
    sources.register("test_bad_source", lambda: [1, 2, 3])
    with pytest.raises(TrainlabError, match="data.source: data source 'test_bad_source' must return RawData"):
        load(DataConfig(source="test_bad_source"), seed=0)


def test_raw_data_and_splits_are_public():
    assert isinstance(load(DataConfig(source="iris"), seed=0), Splits)
    assert RawData(np.zeros((2, 1)), [0, 1]).origin == "data"


@pytest.mark.parametrize(
    ("keys", "expected"),
    [
        ({"source": "iris", "validation_split": 0.99},
         "iris: too few samples for the split (validation_split 0.99, test_split 0.0): they give 1 training,"
         " 149 validation and 0 test samples, and each split needs at least 3 samples (one per class,"
         " stratified); samples in the data, got 150"),
        ({"n_samples": 10, "validation_split": 0.05, "stratify": False},
         None),
    ],
)
def test_too_few_samples_for_the_split(keys, expected):
    if expected is None:  # an unstratified split of 10 needs one sample each: 1 for validation is fine
        assert len(load(DataConfig(**keys), seed=0).y_val) == 1
        return
    with pytest.raises(TrainlabError) as info:
        load(DataConfig(**keys), seed=0)
    assert str(info.value) == expected


def test_a_stratified_split_too_small_for_the_classes():
    with pytest.raises(TrainlabError) as info:
        load(DataConfig(n_samples=20, validation_split=0.05), seed=0)  # 1 validation sample, 2 classes
    message = str(info.value)
    assert message.startswith("synthetic_classification: too few samples for the split")
    assert "1 validation" in message and "at least 2 samples (one per class, stratified)" in message
