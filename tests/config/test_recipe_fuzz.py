"""Random recipe documents: the loader answers with a validation error (TrainlabError) or a recipe, nothing else.

Documents are built from the recipe's own sections and keys (so most of them get deep into the
checks: components built, arguments checked) mixed with unknown keys and values of every YAML
type, including NaN, inf, huge numbers, nested lists and mappings; and as YAML text, also
mangled. Nothing is trained and no data is read.
"""

import math

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from trainlab import callbacks, losses, optimizers, schedules
from trainlab import runtime
from trainlab.config import Recipe
from trainlab.training.prepare import load_recipe
from trainlab.errors import TrainlabError


def _fields(model: type[BaseModel]) -> dict[str, type[BaseModel] | None]:
    """Each field of a section, with its own section model when it is one."""
    found = {}
    for name, field in model.model_fields.items():
        inner = next((a for a in (field.annotation, *getattr(field.annotation, "__args__", ()))
                      if isinstance(a, type) and issubclass(a, BaseModel)), None)
        found[name] = inner
    return found


NAMES = sorted({*losses.registry.names(), *optimizers.registry.names(), *schedules.registry.names(),
                *callbacks.registry.names(), "auto", "relu", "sigmoid", "accuracy", "auc", "mae", "val_loss",
                "csv", "npz", "digits", "iris", "epoch", "step", "min", "max", "rollback", "stop", "glorot_uniform"})
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 5), st.integers(-(10**12), 10**12),
    st.floats(allow_nan=True, allow_infinity=True), st.floats(0, 1), st.text(max_size=8), st.sampled_from(NAMES),
)
any_key = st.one_of(st.sampled_from(sorted({k for m in (Recipe, *[s for s in _fields(Recipe).values() if s])
                                            for k in m.model_fields})), st.text(max_size=6))
values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(any_key, inner, max_size=4), max_leaves=12
)


def _section(model: type[BaseModel], depth: int = 0) -> st.SearchStrategy:
    """A mapping of some of ``model``'s keys (and a stray one) to values; nested sections in kind."""
    fields = _fields(model)
    parts = {name: (_section(inner, depth + 1) | values) if inner is not None and depth < 2 else values
             for name, inner in fields.items()}
    known = st.fixed_dictionaries({}, optional=parts)
    stray = st.dictionaries(st.text(min_size=1, max_size=6), values, max_size=1)
    return st.builds(lambda a, b: {**a, **b}, known, stray | st.just({}))


documents = _section(Recipe)
# No example database written into the checkout; no time limit (the first examples import Keras' pieces).
QUIET = {"deadline": None, "database": None,
         "suppress_health_check": [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]}


@pytest.fixture(autouse=True)
def _no_thread_settings(monkeypatch):
    # training.threads would set this test process's TensorFlow thread pools; the check itself is the same.
    monkeypatch.setattr(runtime, "apply_threads", lambda threads: True)


def _loads_or_refuses(document):
    try:
        recipe, _, _ = load_recipe(document)
    except TrainlabError as exc:
        assert str(exc) and "\n" not in str(exc), repr(str(exc))  # one line
        return
    assert isinstance(recipe, Recipe)


@settings(max_examples=300, **QUIET)
@given(documents)
def test_a_random_recipe_mapping_gives_a_recipe_or_a_validation_error(document):
    _loads_or_refuses(document)


@settings(max_examples=150, **QUIET)
@given(documents, st.integers(0, 400), st.text(max_size=6))
def test_a_random_recipe_file_gives_a_recipe_or_a_validation_error(tmp_path_factory, document, cut, junk):
    text = yaml.safe_dump(_yaml_safe(document), sort_keys=False)
    path = tmp_path_factory.mktemp("fuzz") / "recipe.yaml"
    path.write_text(text[:cut] + junk + text[cut:] if cut < len(text) else text, encoding="utf-8")
    _loads_or_refuses(path)


def _yaml_safe(value):
    """The document as PyYAML can write it (it writes NaN and inf, and any text)."""
    if isinstance(value, dict):
        return {str(k): _yaml_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_yaml_safe(v) for v in value]
    if isinstance(value, float) and math.isnan(value):
        return float("nan")
    return value
