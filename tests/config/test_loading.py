"""Recipe loading and error wording: every message names the key or file, the rule and the value."""

import re

import pytest

from trainlab.config import Recipe, apply_overrides, load_recipe, parse_set, read_yaml, validate
from trainlab.errors import TrainlabError


def _error(fn, *args):
    with pytest.raises(TrainlabError) as info:
        fn(*args)
    return str(info.value)


def test_defaults_are_the_tutorial_basic_loop():
    r = Recipe()
    assert (r.seed, r.model.hidden, r.model.dropout, r.model.activation) == (42, [64, 32], [0.2, 0.0], "relu")
    assert (r.optimizer.name, r.optimizer.learning_rate) == ("adam", 0.001)
    assert (r.training.epochs, r.training.batch_size) == (100, 32)
    assert (r.data.n_samples, r.data.n_features, r.data.validation_split) == (1000, 20, 0.2)


def test_missing_empty_syntax_and_shape_errors(tmp_path):
    assert _error(read_yaml, tmp_path / "nope.yaml") == f"{tmp_path / 'nope.yaml'}: file not found"
    empty = tmp_path / "empty.yaml"
    empty.write_text("  \n")
    assert "file is empty" in _error(read_yaml, empty)
    bad = tmp_path / "bad.yaml"
    bad.write_text("seed: 1\ntraining:\n  epochs: 3\n bad: [\n")
    msg = _error(read_yaml, bad)
    assert msg.startswith(f"{bad}: YAML syntax error at line 4, column 2")
    listed = tmp_path / "list.yaml"
    listed.write_text("- a\n- b\n")
    assert _error(read_yaml, listed) == f"{listed}: top level must be a mapping of keys to values, got a list"


@pytest.mark.parametrize(
    "data, expected",
    [
        ({"trainig": {}}, "trainig: unknown key (did you mean 'training'?); valid keys: name, seed,"),
        ({"training": {"epocs": 3}}, "training.epocs: unknown key (did you mean 'epochs'?)"),
        ({"training": {"epochs": 0}}, "training.epochs: must be > 0, got 0"),
        ({"training": {"epochs": "ten"}}, "training.epochs: must be an integer, got 'ten'"),
        ({"training": {"batch_size": -4}}, "training.batch_size: must be > 0, got -4"),
        ({"optimizer": {"learning_rate": -0.1}}, "optimizer.learning_rate: must be > 0, got -0.1"),
        ({"optimizer": {"learning_rate": 0}}, "optimizer.learning_rate: must be > 0, got 0"),
        ({"model": {"dropout": [0.2, 1.0]}}, "model.dropout: dropout rates must be in [0, 1), got 1.0"),
        ({"model": {"dropout": 1.5}}, "model.dropout: dropout rates must be in [0, 1), got 1.5"),
        ({"model": {"dropout": [0.1]}}, "model.dropout: needs one rate per hidden layer (2) or a single number, got [0.1]"),
        ({"model": {"hidden": [8, 0]}}, "model.hidden: every layer needs > 0 units, got 0"),
        ({"model": {"output": "tanh"}}, "model.output: must be one of 'auto', 'sigmoid', 'softmax', 'linear' or 'logits', got 'tanh'"),
        ({"model": []}, "model: must be a mapping, got []"),
        ({"training": {"early_stopping": {"patience": -1}}}, "training.early_stopping.patience: must be >= 0, got -1"),
        ({"optimizer": {"clip_norm": 1.0, "global_clip_norm": 1.0}}, "optimizer: set clip_norm or global_clip_norm, not both"),
        ({"training": {"shuffle": "maybe"}}, "training.shuffle: must be true or false, got 'maybe'"),
    ],
)
def test_validation_messages(data, expected):
    assert _error(validate, Recipe, data).startswith(expected)


def test_set_overrides_parse_yaml_scalars_and_validate(tmp_path):
    assert parse_set("optimizer.learning_rate=1e-2") == ("optimizer.learning_rate", 0.01)
    assert parse_set("model.hidden=[8, 4]") == ("model.hidden", [8, 4])
    assert parse_set("training.early_stopping=null") == ("training.early_stopping", None)
    assert "expects key.path=value" in _error(parse_set, "epochs5")
    path = tmp_path / "r.yaml"
    path.write_text("training:\n  epochs: 3\n")
    recipe, base_dir, name = load_recipe(path, ["training.epochs=7", "optimizer.name=sgd"])
    assert (recipe.training.epochs, recipe.optimizer.name, base_dir, name) == (7, "sgd", tmp_path, "r")
    assert _error(load_recipe, path, ["training.epochs=-1"]) == "training.epochs: must be > 0, got -1"
    assert _error(apply_overrides, {"seed": 1}, ["seed.x=2"]) == "seed: is not a mapping, cannot set seed.x, got 1"


def test_yaml_reads_exponent_floats_without_a_dot(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text("optimizer:\n  learning_rate: 1e-3\n")
    assert load_recipe(path)[0].optimizer.learning_rate == 0.001


def test_default_dropout_follows_the_hidden_layers():
    assert validate(Recipe, {"model": {"hidden": [128, 64, 32]}}).model.dropout == [0.2, 0.0, 0.0]
    assert validate(Recipe, {"model": {"hidden": [8]}}).model.dropout == [0.2]
    assert validate(Recipe, {"model": {"hidden": []}}).model.dropout == 0.0
    again = validate(Recipe, Recipe().model_dump())  # a resolved recipe re-validates as is
    assert again.model.dropout == [0.2, 0.0]


@pytest.mark.parametrize("key", ["[", "a[b]", "list[float]", "float"])
def test_an_unknown_key_that_looks_like_a_pydantic_tag_is_named(key):
    """Found by the fuzz test: a key holding "[" was taken for a union tag and dropped, and a traceback followed."""
    with pytest.raises(TrainlabError) as raised:
        validate(Recipe, {key: None})
    assert str(raised.value).startswith(f"{key}: unknown key; valid keys: ")
    with pytest.raises(TrainlabError, match=rf"^training\.{re.escape(key)}: unknown key"):
        validate(Recipe, {"training": {key: 1}})
