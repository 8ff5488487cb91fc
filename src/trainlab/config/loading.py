"""Reading recipes: YAML files, mappings, ``--set key.path=value`` overrides, error wording.

Every failure is a :class:`~trainlab.errors.TrainlabError` naming the file or key
path, the rule and the value, e.g. ``training.epochs: must be > 0, got -1`` or
``basic.yaml: YAML syntax error at line 3, column 8 (mapping values are not allowed here)``.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from trainlab.errors import TrainlabError, did_you_mean

M = TypeVar("M", bound=BaseModel)


class _DuplicateKey(yaml.MarkedYAMLError):
    """A mapping that sets one key twice (PyYAML would silently keep the last)."""

    def __init__(self, key: str, first: yaml.Mark, again: yaml.Mark) -> None:
        super().__init__(problem=f"duplicate key {key!r}", problem_mark=again)
        self.key = key
        self.first = first


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader, also reading ``1e-3`` (no dot) as a number, as users mean it,
    and refusing a key set twice in one mapping (two ``training:`` sections would
    otherwise silently drop the first)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[str, yaml.Mark] = {}
        for key_node, _ in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.value != "<<":
                if key_node.value in seen:
                    raise _DuplicateKey(key_node.value, seen[key_node.value], key_node.start_mark)
                seen[key_node.value] = key_node.start_mark
        return super().construct_mapping(node, deep=deep)


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def load_yaml(text: str) -> Any:
    """Parse YAML text with :class:`_Loader`."""
    return yaml.load(text, Loader=_Loader)  # noqa: S506 (a SafeLoader subclass)


def read_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML file that must hold a mapping.

    Raises:
        TrainlabError: missing or unreadable file, empty file, syntax error (with line
            and column), a key set twice in one mapping, or a top level that is not a mapping.
    """
    path = Path(path)
    if not path.exists():
        raise TrainlabError(str(path), "file not found")
    if path.is_dir():
        raise TrainlabError(str(path), "is a directory, expected a YAML file")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise TrainlabError(str(path), f"cannot read file ({exc.__class__.__name__}: {exc})") from None
    if not text.strip():
        raise TrainlabError(str(path), "file is empty, expected a YAML mapping")
    try:
        data = load_yaml(text)
    except _DuplicateKey as exc:
        mark = exc.problem_mark
        raise TrainlabError(
            str(path),
            f"key set twice, at line {exc.first.line + 1} and at line {mark.line + 1}, column {mark.column + 1};"
            " keep one",
            exc.key,
        ) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise TrainlabError(str(path), f"YAML syntax error{where} ({problem})") from None
    if data is None:
        raise TrainlabError(str(path), "file holds no settings, expected a YAML mapping")
    if not isinstance(data, dict):
        raise TrainlabError(str(path), f"top level must be a mapping of keys to values, got a {type(data).__name__}")
    return data


def parse_set(item: str) -> tuple[str, Any]:
    """Parse one ``key.path=value`` override; the value is read as a YAML scalar or flow collection.

    Example:
        >>> parse_set("optimizer.learning_rate=1e-2")
        ('optimizer.learning_rate', 0.01)
    """
    if "=" not in item:
        raise TrainlabError("--set", "expects key.path=value", item)
    key, _, raw = item.partition("=")
    key = key.strip()
    if not key or any(not part for part in key.split(".")):
        raise TrainlabError("--set", "expects key.path=value with a non-empty key path", item)
    try:
        value = load_yaml(raw) if raw.strip() else None
    except yaml.YAMLError:
        raise TrainlabError(f"--set {key}", "value is not valid YAML", raw) from None
    return key, value


def apply_overrides(data: Mapping[str, Any], overrides: Mapping[str, Any] | Iterable[str]) -> dict[str, Any]:
    """Return a copy of ``data`` with dotted-path overrides applied.

    Args:
        data: the recipe mapping.
        overrides: ``{"optimizer.learning_rate": 0.01}`` or ``["optimizer.learning_rate=0.01"]``.
    """
    out = copy.deepcopy(dict(data))
    items = overrides.items() if isinstance(overrides, Mapping) else (parse_set(s) for s in overrides)
    for key, value in items:
        parts = key.split(".")
        node = out
        for depth, part in enumerate(parts[:-1]):
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            if not isinstance(child, dict):
                raise TrainlabError(
                    ".".join(parts[: depth + 1]), f"is not a mapping, cannot set {key}", child
                )
            node = child
        node[parts[-1]] = value
    return out


def validate(model: type[M], data: Mapping[str, Any], source: str | None = None) -> M:
    """Validate ``data`` against ``model``, turning the first pydantic error into a TrainlabError."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise pydantic_error(exc, model, source) from None


def pydantic_error(exc: ValidationError, model: type[BaseModel], source: str | None = None) -> TrainlabError:
    """Word a pydantic ValidationError as ``key.path: rule, got value``.

    A value that fits no member of a union (``tensorboard: maybe`` for ``bool |
    TensorBoardConfig``) reads as one rule naming every member:
    ``training.tensorboard: must be a mapping, true or false, got 'maybe'``.
    """
    errors = exc.errors(include_url=False)
    tags = _model_names(model)
    # A union reports one error per member; the most specific one (deepest path) reads best.
    depth = max(len(_field_path(e["loc"], tags)) for e in errors)
    deepest = [e for e in errors if len(_field_path(e["loc"], tags)) == depth]
    error = deepest[0]
    path = _field_path(error["loc"], tags)
    where = _key_path(path) or (source or model.__name__)
    kind = error["type"]
    value = error.get("input")
    if kind == "extra_forbidden":
        # The last part is the user's own key, whatever it looks like ("[" is no union tag here).
        parent, key = _field_path(error["loc"][:-1], tags), error["loc"][-1]
        valid = _fields_at(model, parent)
        hint = did_you_mean(str(key), valid)
        return TrainlabError(_key_path([*parent, key]), f"unknown key{hint}; valid keys: {', '.join(valid)}")
    if kind == "missing":
        return TrainlabError(where, "is required")
    union = _union_rule(deepest)
    if union is not None:
        return TrainlabError(where, union, value)
    message = error["msg"]
    for prefix in ("Value error, ", "Assertion failed, "):
        message = message.removeprefix(prefix)
    message = _RULES.get(kind, message[:1].lower() + message[1:])
    if kind.endswith("_type") or kind in _RULES:
        message = message.format(**{k: _plain(v) for k, v in (error.get("ctx") or {}).items()})
    if ", got " in message:  # the validator already showed the value
        return TrainlabError(where, message)
    return TrainlabError(where, message, value)


def _union_rule(errors: list[Any]) -> str | None:
    """``must be a number or a mapping`` when every error is a union member's type mismatch."""
    if len(errors) < 2 or any(e["type"] not in _KINDS for e in errors):
        return None
    kinds: list[str] = []
    for e in errors:
        noun = _KINDS[e["type"]].format(**(e.get("ctx") or {}))
        for part in noun.split("|"):
            if part not in kinds:
                kinds.append(part)
    listed = kinds[0] if len(kinds) == 1 else f"{', '.join(kinds[:-1])} or {kinds[-1]}"
    return f"must be {listed}"


def _plain(value: Any) -> Any:
    """``0.0`` -> ``0`` in rules: ``must be > 0`` reads as the user wrote it."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _key_path(path: list[Any]) -> str:
    """``["training", "callbacks", 0, "name"]`` -> ``training.callbacks[0].name``."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else f"{'.' if text else ''}{part}"
    return text


# What a union member expects, for `_union_rule`; "|" separates items of the list.
_KINDS = {
    "int_type": "an integer",
    "int_parsing": "an integer",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "true|false",
    "bool_parsing": "true|false",
    "string_type": "a string",
    "list_type": "a list",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
    "literal_error": "{expected}",
}

_RULES = {
    "greater_than": "must be > {gt}",
    "greater_than_equal": "must be >= {ge}",
    "less_than": "must be < {lt}",
    "less_than_equal": "must be <= {le}",
    "int_type": "must be an integer",
    "int_parsing": "must be an integer",
    "int_from_float": "must be a whole number",
    "float_type": "must be a number",
    "float_parsing": "must be a number",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "string_type": "must be a string",
    "list_type": "must be a list",
    "dict_type": "must be a mapping",
    "model_type": "must be a mapping",
    "model_attributes_type": "must be a mapping",
    "literal_error": "must be one of {expected}",
}


def _field_path(loc: tuple[Any, ...], models: frozenset[str] = frozenset()) -> list[Any]:
    """Drop pydantic's union-member tags (``float``, ``list[float]``, ``function-after[...]``,
    and a model's class name, as in ``training.tensorboard.TensorBoardConfig``)."""
    return [p for p in loc if isinstance(p, int) or not (_is_tag(p) or p in models)]


def _is_tag(part: str) -> bool:
    return "[" in part or part in {"float", "int", "str", "bool", "list", "dict", "none", "function-after"}


def _model_names(model: type[BaseModel]) -> frozenset[str]:
    """The class names of ``model`` and of every model in its fields' annotations."""
    found: set[str] = set()
    todo: list[Any] = [model]
    while todo:
        current = todo.pop()
        if isinstance(current, type) and issubclass(current, BaseModel):
            if current.__name__ in found:
                continue
            found.add(current.__name__)
            todo.extend(field.annotation for field in current.model_fields.values())
        else:
            todo.extend(getattr(current, "__args__", ()) or ())
    return frozenset(found)


def _fields_at(model: type[BaseModel], path: list[Any]) -> list[str]:
    current: Any = model
    for part in path:
        if isinstance(part, int):
            continue
        field = getattr(current, "model_fields", {}).get(part)
        if field is None:
            return []
        current = _model_in(field.annotation)
        if current is None:
            return []
    return list(getattr(current, "model_fields", {}))


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _model_in(arg)
        if found is not None:
            return found
    return None
