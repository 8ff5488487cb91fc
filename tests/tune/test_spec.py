"""The search file: every mistake fails before training, in one line naming the key, the rule and the value."""

from __future__ import annotations

import pytest

from trainlab.errors import TrainlabError
from trainlab.tune import load_tune
from trainlab.tune.sampler import Sampler

BASE = {
    "data": {"source": "synthetic_classification", "n_samples": 120, "n_features": 6},
    "model": {"hidden": [8]},
    "training": {"epochs": 3, "batch_size": 32, "tensorboard": False},
}
SPACE = {"optimizer.learning_rate": {"log_uniform": [1.0e-4, 1.0e-1]}, "model.dropout": {"uniform": [0.0, 0.5]},
         "model.hidden": {"choice": [[8], [16, 8]]}, "training.early_stopping.patience": {"int": [1, 4]}}


def _search(**changes):
    return {"name": "s", "base": BASE, "space": SPACE, "trials": 4, "metric": "val_loss", **changes}


@pytest.mark.parametrize("changes, start, end", [
    ({"trails": 4}, "trails: unknown key (did you mean 'trials'?)", "confirm, time_budget_s, tracking"),
    ({"trials": 0}, "trials: must be > 0", "got 0"),
    ({"sampler": "tpee"}, "sampler: must be one of", "got 'tpee'"),
    ({"pruner": "ashha"}, "pruner.name: must be one of", "got 'ashha'"),
    ({"pruner": {"name": "asha", "reduction_factor": 1}}, "pruner.reduction_factor: must be >= 2", "got 1"),
    ({"space": {}}, "space: needs at least one recipe key", "got {}"),
    ({"space": {"model.dropuot": {"uniform": [0.0, 0.5]}}}, "space.model.dropuot: unknown key (did you mean 'dropout'?)", "kernel_initializer, output"),
    ({"space": {"model.dropout": {"uniform": [0.5, 0.1]}}}, "space.model.dropout.uniform: must be [low, high] with low < high", "got [0.5, 0.1]"),
    ({"space": {"model.dropout": {"uniform": [0.2, 0.2]}}}, "space.model.dropout.uniform: must be [low, high] with low < high", "got [0.2, 0.2]"),
    ({"space": {"optimizer.learning_rate": {"log_uniform": [0.0, 0.1]}}}, "space.optimizer.learning_rate.log_uniform: a log range must lie above 0", "got [0.0, 0.1]"),
    ({"space": {"training.epochs": {"int": [0, 4], "log": True}}}, "space.training.epochs.int: a log range must lie above 0", "got [0, 4]"),
    ({"space": {"training.epochs": {"int": [5, 2]}}}, "space.training.epochs.int: must be [low, high]", "got [5, 2]"),
    ({"space": {"model.hidden": {"choice": []}}}, "space.model.hidden.choice: must be a non-empty list of values", "got []"),
    ({"space": {"model.dropout": {"normal": [0, 1]}}}, "space.model.dropout.normal: is not a distribution", "got [0, 1]"),
    ({"space": {"model.dropout": {"uniform": [0.0, 1.5]}}}, "space.model.dropout: dropout rates must be in [0, 1)", "got 1.5"),
    ({"sampler": "grid"}, "space.optimizer.learning_rate: sampler: grid needs choice or int dimensions only", "got {'log_uniform': [0.0001, 0.1]}"),
    ({"executor": "dusk"}, "executor: must be one of", "got 'dusk'"),
    ({"confirm": {"top": 2, "seeds": 0}}, "confirm.seeds: must be a count >= 1 or a list of seeds", "got 0"),
    ({"confirm": {"top": 0}}, "confirm.top: must be > 0", "got 0"),
    ({"confirm": {"top": 2, "seeds": [1, 1]}}, "confirm.seeds: must be a non-empty list of distinct seeds", "got [1, 1]"),
    ({"metric": "val_acuracy"}, "metric: unknown metric (did you mean 'accuracy'?)", "got 'acuracy'"),
    ({"metric": "loss"}, "metric: must be a val_ column: pruner asha decides", "got 'loss'"),
])
def test_every_mistake_is_one_line(changes, start, end):
    with pytest.raises(TrainlabError) as caught:
        load_tune(_search(**changes))
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(start), message
    assert message.endswith(end), message


def test_a_valid_search_loads_with_the_mode_inferred():
    spec = load_tune(_search(metric="val_accuracy", pruner="none"), ["trials=6", "base.training.epochs=4"])
    assert spec.mode == "max" and spec.config.trials == 6 and spec.population == 6
    assert [d.key for d in spec.space] == list(SPACE)
    assert spec.config.pruner.name == "none"


def test_sampling_is_reproducible_with_a_seed():
    def asked(seed, sampler):
        return [a.values for a in Sampler(load_tune(_search(seed=seed, sampler=sampler))).ask(5)]

    for sampler in ("tpe", "random", "sobol"):
        first = asked(0, sampler)
        assert first == asked(0, sampler)
        assert first != asked(1, sampler)
        for values in first:
            assert 1.0e-4 <= values["optimizer.learning_rate"] <= 1.0e-1
            assert values["model.hidden"] in ([8], [16, 8])
            assert isinstance(values["training.early_stopping.patience"], int)


def test_grid_covers_every_combination_once():
    space = {"model.hidden": {"choice": [[8], [16, 8]]}, "training.early_stopping.patience": {"int": [1, 3]}}
    sampler = Sampler(load_tune(_search(space=space, sampler="grid", trials=100)))
    assert sampler.total() == 6
    points = [tuple(map(str, a.values.values())) for a in sampler.ask(6)]
    assert len(set(points)) == 6


def test_the_example_searches_are_valid():
    from pathlib import Path

    examples = sorted((Path(__file__).parents[2] / "examples" / "tune").glob("*.yaml"))
    assert examples
    for path in examples:
        spec = load_tune(path)
        assert spec.base["name"] == "basic" and spec.mode == "max"
