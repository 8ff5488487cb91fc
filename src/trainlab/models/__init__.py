"""Model builders by name (``mlp``, ``cnn``, ``rnn``, ``transformer``), and any ``keras.Model`` through the Python API.

Every builder takes the data's :data:`DATA_ARGUMENTS` (``input_shape``: one sample's shape,
``n_outputs``, ``input_dtype``, ``vocab_size``) and then its own keys, which are the keys a
recipe's ``model:`` section may set for it (:func:`recipe_keys`). A builder registered from
Python (``@trainlab.models.registry.register("mine")``) is configured the same way.
"""

import inspect
from typing import Any

import keras

from trainlab.models._cnn import build_cnn
from trainlab.models._common import DATA_ARGUMENTS, OUTPUTS, DataShape, output_for, registry
from trainlab.models._mlp import build_mlp
from trainlab.models._rnn import build_rnn
from trainlab.models._transformer import PositionEmbedding, build_transformer


def build(spec: Any, where: str = "model", **defaults: Any) -> keras.Model:
    """Build a model from a name, ``{"name": "cnn", "filters": [...], ...}`` or a ``keras.Model`` (passed through).

    Args:
        spec: a builder's name, a mapping with ``name`` and the builder's keys, or a ``keras.Model``.
        where: the recipe key path, for messages.
        **defaults: the data's arguments (``input_shape``, ``n_outputs``, ``input_dtype``,
            ``vocab_size``) and any key the spec does not set. ``n_inputs=k`` (the former
            interface) is ``input_shape=(k,)``.

    Returns:
        The built model.

    Raises:
        TrainlabError: an unknown name or key, data the model cannot read, or a value it refuses.

    Example:
        >>> build({"name": "mlp", "hidden": [32]}, input_shape=(20,), n_outputs=1)
        >>> build({"name": "cnn", "filters": [16]}, input_shape=(28, 28, 1), n_outputs=10)
    """
    if "n_inputs" in defaults and "input_shape" not in defaults:
        defaults["input_shape"] = (int(defaults.pop("n_inputs")),)
    return registry.build(spec, where, **defaults)


def holds_dropout(name: str) -> bool:
    """Whether model ``name``'s ``dropout`` key reaches the model only as the rates of Keras ``Dropout`` layers and
    in layer configs (trainlab's own builders): an engine can then hold it in variables
    (:mod:`trainlab.training.engine.held`). A builder registered from Python may put it anywhere: no."""
    return name in registry and registry.entry(name).factory.__module__.startswith("trainlab.models.")


def recipe_keys(name: str) -> list[str]:
    """The keys a recipe's ``model:`` section may set for the model ``name``, besides ``name`` itself.

    They are the builder's parameters, less those the data gives (:data:`DATA_ARGUMENTS`) and
    ``name`` (which names the builder in a recipe). A builder taking ``**kwargs`` takes any key:
    its list holds the named parameters only (see :func:`accepts_any_key`).

    Raises:
        TrainlabError: an unknown model name (with did-you-mean).

    Example:
        >>> recipe_keys("mlp")
        ['hidden', 'activation', 'dropout', 'batch_norm', 'kernel_regularizer', 'kernel_initializer', 'output']
    """
    return [
        key for key, p in registry.entry(name).parameters().items()
        if key not in (*DATA_ARGUMENTS, "name") and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    ]


def accepts_any_key(name: str) -> bool:
    """Whether the builder ``name`` takes ``**kwargs`` (then a recipe may set any key for it)."""
    return registry.entry(name).accepts_any_keyword()


def recipe_defaults(name: str) -> dict[str, Any]:
    """The default of each of :func:`recipe_keys` that has one, as the builder's signature gives it.

    Example:
        >>> recipe_defaults("cnn")["filters"]
        (32, 64)
    """
    parameters = registry.entry(name).parameters()
    return {
        key: parameters[key].default for key in recipe_keys(name)
        if parameters[key].default is not inspect.Parameter.empty
    }


__all__ = [
    "DATA_ARGUMENTS", "OUTPUTS", "DataShape", "PositionEmbedding", "accepts_any_key", "build", "build_cnn",
    "holds_dropout",
    "build_mlp", "build_rnn", "build_transformer", "output_for", "recipe_defaults", "recipe_keys", "registry",
]
