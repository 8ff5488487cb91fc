"""The recipe's model: section: each model's keys (read from its builder), defaults, the resolved dump, errors."""

import pytest
import yaml

from trainlab import models
from trainlab.config import ModelConfig, Recipe, load_recipe, validate
from trainlab.errors import TrainlabError
from trainlab.training.prepare import check_components

MLP_DUMP = {  # a run's recipe.yaml before there were other models: an mlp recipe's dump must stay so
    "name": "mlp", "hidden": [64, 32], "activation": "relu", "dropout": [0.2, 0.0], "batch_norm": False,
    "kernel_regularizer": {"l1": 0.0, "l2": 0.0}, "kernel_initializer": "glorot_uniform", "output": "auto",
}


def _error(**keys) -> str:
    with pytest.raises(TrainlabError) as info:
        ModelConfig(**keys)
    return str(info.value)


def test_the_mlp_default_and_its_dump_are_unchanged():
    assert ModelConfig().model_dump() == MLP_DUMP
    assert list(ModelConfig().model_dump()) == list(MLP_DUMP)  # the same order in recipe.yaml
    assert ModelConfig(hidden=[8, 4, 2]).dropout == [0.2, 0.0, 0.0]
    assert ModelConfig(name="dense").name == "mlp"


@pytest.mark.parametrize("name", ["cnn", "rnn", "transformer"])
def test_a_models_dump_holds_its_keys_with_its_builders_defaults(name):
    dumped = ModelConfig(name=name).model_dump()
    assert list(dumped) == ["name", *models.recipe_keys(name)]
    for key, default in models.recipe_defaults(name).items():
        if key == "kernel_regularizer":
            assert dumped[key] == {"l1": 0.0, "l2": 0.0}
        elif key != "output":
            assert dumped[key] == (list(default) if isinstance(default, tuple) else default), key
    again = ModelConfig.model_validate(yaml.safe_load(yaml.safe_dump(dumped)))
    assert again.model_dump() == dumped


def test_declared_defaults_are_the_builders():
    # The field defaults document the keys (docs/recipes.md is checked against them); the builders' defaults
    # are what a recipe gets. They must agree wherever a field has one.
    declared = {k: f.get_default(call_default_factory=True) for k, f in ModelConfig.model_fields.items()}
    for name in models.registry.names():
        for key, default in models.recipe_defaults(name).items():
            if declared.get(key) is not None and key != "output":
                expected = declared[key].model_dump() if key == "kernel_regularizer" else declared[key]
                got = {"l1": 0.0, "l2": 0.0} if key == "kernel_regularizer" and default is None else default
                assert (list(got) if isinstance(got, tuple) else got) == expected, f"{name}.{key}"


def test_shared_keys_follow_the_model():
    assert ModelConfig(name="cnn").dense == [128] and ModelConfig(name="rnn").dense == []
    assert ModelConfig(name="cnn").dropout == 0.0 and ModelConfig(name="transformer").dropout == 0.1
    assert ModelConfig(name="cnn").hidden is None and ModelConfig().filters is None  # keys of other models: none


def test_aliases_are_resolved():
    assert (ModelConfig(name="conv").name, ModelConfig(name="encoder").name) == ("cnn", "transformer")


def test_builder_arguments_are_the_models_keys():
    arguments = ModelConfig(name="rnn", units=[8], bidirectional=True).builder_arguments()
    assert set(arguments) == set(models.recipe_keys("rnn"))
    assert (arguments["units"], arguments["bidirectional"], arguments["cell"]) == ([8], True, "lstm")


def test_switching_the_model_by_assignment_refills_the_defaults():
    config = ModelConfig()
    config.name = "cnn"
    assert config.model_dump()["dense"] == [128] and "hidden" not in config.model_dump()


@pytest.mark.parametrize("keys, message", [
    ({"filters": [8]}, "model.filters: does not apply to model 'mlp' (its keys: hidden, activation, dropout,"
                       " batch_norm, kernel_regularizer, kernel_initializer, output); remove it, got [8]"),
    ({"name": "rnn", "kernel_size": 5}, "model.kernel_size: does not apply to model 'rnn' (its keys: cell, units,"),
    ({"name": "cnn", "filter": [8]}, "model.filter: unknown key (did you mean 'filters'?); valid keys for model 'cnn':"
                                     " name, filters, kernel_size,"),
    ({"hiden": [8]}, "model.hiden: unknown key (did you mean 'hidden'?); valid keys for model 'mlp': name, hidden,"),
    ({"vocab_size": 100}, "model.vocab_size: is given by the data, not the recipe; remove it"),
    ({"name": "cnn", "dense": [8], "dropout": [0.1, 0.2]},
     "model.dropout: needs one rate per dense layer (1) or a single number, got [0.1, 0.2]"),
    ({"hidden": [8, 4], "dropout": [0.1]},
     "model.dropout: needs one rate per hidden layer (2) or a single number, got [0.1]"),
    ({"name": "transformer", "dim": 30, "heads": 4}, "model.heads: must divide model.dim (30), got 4"),
    ({"name": "transformer", "dropout": [0.1]},
     "model.dropout: the transformer takes one rate, for its blocks and dense layers, got [0.1]"),
    ({"name": "mpl"}, "model.name: unknown model (did you mean 'mlp'?); valid names: cnn, mlp, rnn, transformer"),
])
def test_mistakes_are_one_line(keys, message):
    assert _error(**keys).startswith(message)


@pytest.mark.parametrize("model, message", [
    ({"name": "cnn", "pool": "min"}, "model.pool: must be one of 'max', 'avg' or 'none', got 'min'"),
    ({"name": "rnn", "units": []}, "model.units: needs at least 1 layer, got []"),
    ({"name": "cnn", "filters": [8, 0]}, "model.filters: every layer needs > 0 units, got 0"),
    ({"name": "transformer", "dim": 0}, "model.dim: must be > 0, got 0"),
    ({"name": "rnn", "bidirectional": "maybe"}, "model.bidirectional: must be true or false, got 'maybe'"),
])
def test_values_are_checked_in_a_recipe(model, message):
    with pytest.raises(TrainlabError) as info:
        validate(Recipe, {"model": model})
    assert str(info.value) == message


def test_a_recipe_object_round_trips_with_its_model():
    recipe, _, _ = load_recipe({"model": {"name": "transformer", "layers": 1}})
    again, _, _ = load_recipe(recipe)
    assert again.model.model_dump() == recipe.model.model_dump()
    assert again.model.layers == 1 and again.model.dropout == 0.1


def test_component_checks_read_the_models_keys():
    check_components(validate(Recipe, {"model": {"name": "rnn"}}))  # no kernel_initializer: nothing to check
    with pytest.raises(TrainlabError, match=r"^model.activation: unknown activation \(did you mean 'gelu'\?\)"):
        check_components(validate(Recipe, {"model": {"name": "transformer", "activation": "gelv"}}))
    with pytest.raises(TrainlabError, match=r"^model.kernel_initializer: unknown initializer"):
        check_components(validate(Recipe, {"model": {"name": "cnn", "kernel_initializer": "he_normall"}}))


def test_a_builder_registered_from_python_is_configured_by_its_signature(monkeypatch):
    monkeypatch.setattr(models.registry, "_entries", dict(models.registry._entries))  # registered for this test only

    @models.registry.register("tiny_net")
    def tiny_net(input_shape, n_outputs, width, hidden=(4,), output="sigmoid"):
        raise NotImplementedError

    config = ModelConfig(name="tiny_net", width=3)
    assert config.model_dump() == {"name": "tiny_net", "width": 3, "hidden": [4], "output": "auto"}
    assert _error(name="tiny_net").startswith("model.width: is required by model 'tiny_net'")
    assert _error(name="tiny_net", width=3, widht=4).startswith("model.widht: unknown key (did you mean 'width'?)")


def test_a_builder_taking_any_keyword_takes_any_key(monkeypatch):
    monkeypatch.setattr(models.registry, "_entries", dict(models.registry._entries))

    @models.registry.register("open_net")
    def open_net(input_shape, n_outputs, **keys):
        raise NotImplementedError

    assert ModelConfig(name="open_net", depth=3, hidden=[2]).builder_arguments() == {"hidden": [2], "depth": 3}
