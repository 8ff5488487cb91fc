"""Preparing a run: the components a recipe names are checked before any data is loaded or run made."""

import pytest

from trainlab.errors import TrainlabError
from trainlab.training.prepare import load_recipe


def _error(fn, *args):
    with pytest.raises(TrainlabError) as info:
        fn(*args)
    return str(info.value)


@pytest.mark.parametrize(
    "data, expected",
    [
        ({"loss": "focall"}, "loss: unknown loss (did you mean 'focal'?); valid names:"),
        ({"loss": {"name": "focal", "gama": 2}}, "loss.gama: unknown argument for loss 'focal' (did you mean 'gamma'?)"),
        ({"optimizer": {"name": "adamm"}}, "optimizer.name: unknown optimizer (did you mean 'adam'"),
        ({"optimizer": {"name": "sgd", "momentun": 0.9}}, "optimizer.momentun: unknown argument for optimizer 'sgd' (did you mean 'momentum'?)"),
        ({"optimizer": {"learning_rate": {"name": "cosin", "initial_learning_rate": 0.1, "decay_steps": 10}}},
         "optimizer.learning_rate.name: unknown schedule (did you mean 'cosine'?)"),
        ({"training": {"callbacks": ["early_stoping"]}}, "training.callbacks[0]: unknown callback (did you mean 'early_stopping'?)"),
        ({"model": {"name": "mpl"}}, "model.name: unknown model (did you mean 'mlp'?)"),
    ],
)
def test_unknown_components_fail_before_training(data, expected):
    assert _error(load_recipe, data).startswith(expected)
