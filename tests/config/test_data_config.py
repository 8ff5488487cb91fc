"""The recipe's data: section: defaults, the resolved dump, and every validation message."""

from pathlib import Path

import pydantic
import pytest
import yaml

from trainlab.data.config import DataConfig
from trainlab.errors import TrainlabError


def _error(**keys) -> str:
    with pytest.raises(TrainlabError) as info:
        DataConfig(**keys)
    return str(info.value)


def test_defaults_are_the_tutorial_section_4():
    config = DataConfig()
    assert config.source == "synthetic_classification"
    assert (config.n_samples, config.n_features, config.n_classes) == (1000, 20, 2)
    assert (config.validation_split, config.test_split) == (0.2, 0.0)
    assert config.standardize and config.stratify and config.task == "auto"
    assert config.model_fields_set == set()


def test_dump_is_resolved_and_round_trips_through_yaml():
    config = DataConfig(source="synthetic_regression", noise=0.5, n_targets=2)
    dumped = config.model_dump()
    assert dumped["noise"] == 0.5 and dumped["n_targets"] == 2
    assert "n_classes" not in dumped and "path" not in dumped  # keys the source does not take
    again = DataConfig.model_validate(yaml.safe_load(yaml.safe_dump(dumped)))
    assert again.model_dump() == dumped
    assert DataConfig.model_validate_json(config.model_dump_json()).model_dump() == dumped


def test_dump_of_a_bundled_source_has_only_the_general_keys_and_its_own():
    assert DataConfig(source="wine").model_dump() == {
        "source": "wine", "task": "auto", "seed": None, "validation_split": 0.2, "test_split": 0.0,
        "stratify": True, "standardize": True, "augment": [],
    }
    assert DataConfig(source="digits").model_dump()["images"] is False


def test_source_names_are_normalized():
    assert DataConfig(source="Breast-Cancer").source == "breast_cancer"


def test_unknown_source_lists_choices_and_suggests():
    message = _error(source="digit")
    assert message.startswith("data.source: unknown data source (did you mean 'digits'?)")
    assert "synthetic_classification" in message and "mnist" in message and message.endswith("got 'digit'")


def test_unknown_key_is_forbidden():
    with pytest.raises(pydantic.ValidationError, match="n_sample"):
        DataConfig(n_sample=10)


@pytest.mark.parametrize(
    ("keys", "expected"),
    [
        ({"source": "synthetic_classification", "path": "x.csv"},
         "data.path: does not apply to data source 'synthetic_classification'"),
        ({"source": "digits", "n_samples": 1000}, "data.n_samples: does not apply to data source 'digits'"),
        ({"source": "csv", "path": "a.csv", "noise": 0.1}, "data.noise: does not apply to data source 'csv'"),
        ({"source": "mnist", "path": "m.npz", "target": "y"}, "data.target: does not apply to data source 'mnist'"),
        ({"source": "synthetic_regression", "n_classes": 3},
         "data.n_classes: does not apply to data source 'synthetic_regression'"),
    ],
)
def test_keys_that_do_not_apply_to_the_source(keys, expected):
    message = _error(**keys)
    assert message.startswith(expected)
    assert "its keys:" in message and "remove it" in message


def test_inapplicable_key_message_shows_the_value_and_the_source_keys():
    message = _error(source="csv", path="a.csv", n_samples=500)
    assert "its keys: categorical, delimiter, max_categories, missing, path, target, weight" in message
    assert message.endswith("got 500")
    assert "its keys: none" in _error(source="wine", n_features=3)


@pytest.mark.parametrize("source", ["csv", "npz", "mnist"])
def test_file_sources_need_a_path(source):
    assert _error(source=source) == f"data.path: is required for data source {source!r}"


def test_path_accepts_a_pathlib_path():
    assert DataConfig(source="csv", path=Path("data") / "a.csv").path == str(Path("data") / "a.csv")


@pytest.mark.parametrize(
    ("keys", "expected"),
    [
        ({"validation_split": 1.0}, "data.validation_split: must be in [0, 1), got 1.0"),
        ({"validation_split": -0.1}, "data.validation_split: must be in [0, 1), got -0.1"),
        ({"test_split": 1.5}, "data.test_split: must be in [0, 1), got 1.5"),
        ({"validation_split": 0.6, "test_split": 0.4},
         "data.test_split: validation_split + test_split must be < 1 to leave data for training;"
         " validation_split is 0.6, got 0.4"),
        ({"n_samples": 9}, "data.n_samples: must be >= 10, got 9"),
        ({"n_features": 0}, "data.n_features: must be >= 1, got 0"),
        ({"n_classes": 1}, "data.n_classes: must be >= 2, got 1"),
        ({"n_informative": 0}, "data.n_informative: must be >= 1, got 0"),
        ({"n_redundant": -1}, "data.n_redundant: must be >= 0, got -1"),
        ({"flip_y": 1.5}, "data.flip_y: must be in [0, 1], got 1.5"),
        ({"source": "synthetic_regression", "noise": -1.0}, "data.noise: must be >= 0, got -1.0"),
        ({"source": "synthetic_regression", "n_targets": 0}, "data.n_targets: must be >= 1, got 0"),
        ({"source": "mnist", "path": "m.npz", "n_train": 0}, "data.n_train: must be >= 1, got 0"),
        ({"source": "csv", "path": "a.csv", "delimiter": ";;"}, "data.delimiter: must be one character, got ';;'"),
    ],
)
def test_value_rules(keys, expected):
    assert _error(**keys) == expected


def test_informative_plus_redundant_must_fit_in_the_features():
    assert _error(n_features=10, n_informative=5, n_redundant=6) == (
        "data.n_features: must be >= n_informative + n_redundant = 5 + 6, got 10"
    )
    message = _error(n_features=3)
    assert "2 + 2 (None means scikit-learn's default, 2)" in message and message.endswith("got 3")
    DataConfig(n_features=50, n_informative=10, n_redundant=40)  # the tutorial's section 6


def test_classes_need_enough_informative_features():
    message = _error(n_classes=3)
    assert message.startswith("data.n_classes: make_classification needs n_classes * 2")
    assert "raise data.n_informative" in message and message.endswith("got 3")
    DataConfig(n_classes=3, n_informative=3)


def test_regression_informative_features_must_fit():
    assert _error(source="synthetic_regression", n_features=5, n_informative=6) == (
        "data.n_informative: must be <= n_features (5), got 6"
    )


def test_weights_need_one_proportion_per_class():
    assert _error(weights=[0.5, 0.3, 0.2]) == (
        "data.weights: needs n_classes (2) or n_classes - 1 values, got [0.5, 0.3, 0.2]"
    )
    assert _error(weights=[1.5]) == "data.weights: every proportion must be in [0, 1], got [1.5]"
    assert DataConfig(weights=[0.9]).weights == [0.9]


def test_task_must_fit_the_source():
    assert _error(source="diabetes", task="binary") == (
        "data.task: data source 'diabetes' gives a regression target; use 'auto' or 'regression', got 'binary'"
    )
    assert _error(source="wine", task="regression").startswith(
        "data.task: data source 'wine' gives class labels; use 'auto', 'binary' or 'multiclass'"
    )
    assert _error(task="binary", n_classes=3, n_informative=3) == (
        "data.task: 'binary' needs 2 classes, but data.n_classes is 3, got 'binary'"
    )
    assert DataConfig(source="csv", path="a.csv", task="regression").task == "regression"


def test_a_value_of_the_wrong_type_is_pydantics_error():
    with pytest.raises(pydantic.ValidationError, match="n_samples"):
        DataConfig(n_samples="many")
    with pytest.raises(pydantic.ValidationError, match="task"):
        DataConfig(task="clustering")
