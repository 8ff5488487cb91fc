"""One registry pattern for every named component.

Losses, optimizers, schedules, regularizers, data sources and models are each a
:class:`Registry`. ``build(spec)`` accepts a name (``"adam"``), a mapping with a
``name`` and keyword arguments (``{"name": "sgd", "momentum": 0.9}``), or an
instance, which is passed through unchanged. Unknown names and unknown keyword
arguments fail with a :class:`~trainlab.errors.TrainlabError` that lists the valid
choices and suggests the closest one.

Example:
    >>> losses = Registry("loss", base=keras.losses.Loss)
    >>> @losses.register("focal", aliases=["binary_focal"])
    ... def focal(alpha=0.25, gamma=2.0): ...
    >>> losses.build({"name": "focal", "gamma": 3.0})
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from trainlab.errors import ArgumentError, TrainlabError, did_you_mean

T = TypeVar("T")


@dataclass(frozen=True)
class Entry:
    """A registered factory and the keyword arguments it accepts."""

    name: str
    factory: Callable[..., Any]
    doc: str

    def parameters(self) -> dict[str, inspect.Parameter]:
        try:
            sig = inspect.signature(self.factory)
        except (TypeError, ValueError):  # builtins without signatures
            return {}
        return dict(sig.parameters)

    def accepts_any_keyword(self) -> bool:
        return any(p.kind is inspect.Parameter.VAR_KEYWORD for p in self.parameters().values())


class Registry(Generic[T]):
    """Named factories of one kind of component.

    Args:
        kind: what the components are, used in messages ("loss", "optimizer").
        base: instances of this type are passed through ``build`` unchanged.
        key: the recipe key path that names a component, used in messages.
    """

    def __init__(self, kind: str, base: type | tuple[type, ...] | None = None, key: str | None = None):
        self.kind = kind
        self.base = base
        self.key = key or kind
        self._entries: dict[str, Entry] = {}
        self._aliases: dict[str, str] = {}

    def register(
        self, name: str, factory: Callable[..., T] | None = None, *, aliases: Iterable[str] = ()
    ) -> Callable[..., Any]:
        """Register ``factory`` under ``name``; usable as a decorator."""

        def add(fn: Callable[..., T]) -> Callable[..., T]:
            canonical = _normalize(name)
            if canonical in self._entries or canonical in self._aliases:
                raise ValueError(f"{self.kind} {name!r} is already registered")
            self._entries[canonical] = Entry(canonical, fn, inspect.getdoc(fn) or "")
            for alias in aliases:
                self._aliases[_normalize(alias)] = canonical
            return fn

        return add(factory) if factory is not None else add

    def names(self) -> list[str]:
        """The canonical names, sorted."""
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self._resolve(name) is not None

    def canonical(self, name: str, where: str | None = None) -> str:
        """Return the canonical name for ``name`` or an alias; raise if unknown."""
        resolved = self._resolve(name)
        if resolved is None:
            choices = self.names()
            raise TrainlabError(
                where or self.key,
                f"unknown {self.kind}{did_you_mean(_normalize(name), choices + list(self._aliases))};"
                f" valid names: {', '.join(choices)}",
                name,
            )
        return resolved

    def entry(self, name: str, where: str | None = None) -> Entry:
        return self._entries[self.canonical(name, where)]

    def split(self, spec: str | Mapping[str, Any], where: str | None = None) -> tuple[str, dict[str, Any]]:
        """Split a spec into its canonical name and keyword arguments, checking both."""
        where = where or self.key
        if isinstance(spec, str):
            name, kwargs = spec, {}
        elif isinstance(spec, Mapping):
            if "name" not in spec:
                raise TrainlabError(where, f"a {self.kind} mapping needs a 'name' key", dict(spec))
            name = spec["name"]
            if not isinstance(name, str):
                raise TrainlabError(f"{where}.name", "must be a string", name)
            kwargs = {k: v for k, v in spec.items() if k != "name"}
        else:
            raise TrainlabError(where, f"must be a {self.kind} name or a mapping with 'name'", spec)
        entry = self.entry(name, where if isinstance(spec, str) else f"{where}.name")
        self.check_kwargs(entry, kwargs, where)
        return entry.name, kwargs

    def check_kwargs(self, entry: Entry, kwargs: Mapping[str, Any], where: str) -> None:
        if entry.accepts_any_keyword():
            return
        params = entry.parameters()
        valid = [
            p for p, v in params.items()
            if v.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
        ]
        for key in kwargs:
            if key not in valid:
                raise TrainlabError(
                    f"{where}.{key}",
                    f"unknown argument for {self.kind} {entry.name!r}{did_you_mean(key, valid)};"
                    f" valid arguments: {', '.join(valid) or '(none)'}",
                    kwargs[key],
                )

    def build(self, spec: Any, where: str | None = None, **defaults: Any) -> T:
        """Build a component from a name, a mapping or an instance.

        Args:
            spec: ``"name"``, ``{"name": ..., **kwargs}`` or an instance of ``base``.
            where: the recipe key path for messages (defaults to the registry's key).
            **defaults: keyword arguments used unless the spec sets them.

        Returns:
            The built component (or ``spec`` itself when it is already an instance).

        Raises:
            TrainlabError: unknown name or keyword argument, or a value the
                factory rejects (its ``ValueError``/``TypeError`` is reworded).
        """
        where = where or self.key
        if self.base is not None and isinstance(spec, self.base):
            return spec
        name, kwargs = self.split(spec, where)
        entry = self._entries[name]
        params = entry.parameters()
        merged = {
            k: v for k, v in defaults.items() if entry.accepts_any_keyword() or k in params
        }
        merged.update(kwargs)
        return self.call(name, merged, where)

    def call(self, name: str, kwargs: Mapping[str, Any], where: str | None = None) -> T:
        """Call the factory registered as ``name``, wording its errors at the key path ``where``.

        Args:
            name: a canonical name (as :meth:`split` returns it).
            kwargs: the keyword arguments (already checked by :meth:`split`).
            where: the recipe key path of the component, e.g. ``optimizer.learning_rate``.

        Raises:
            TrainlabError: a required argument is missing (``where.arg: is required by ...``),
                the factory rejects a value (its :class:`ArgumentError` becomes
                ``where.arg: rule, got value``), or a ``ValueError``/``TypeError`` from Keras.
        """
        where = where or self.key
        entry = self.entry(name, where)
        for param in entry.parameters().values():
            required = param.default is inspect.Parameter.empty and param.kind in (
                inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY,
            )
            if required and param.name not in kwargs:
                raise TrainlabError(f"{where}.{param.name}", f"is required by {self.kind} {name!r}")
        try:
            return entry.factory(**kwargs)
        except ArgumentError as exc:
            raise TrainlabError(f"{where}.{exc.argument}", exc.rule, exc.value) from None
        except TrainlabError:
            raise
        except (ValueError, TypeError) as exc:  # Keras' own checks (e.g. an optimizer's beta range)
            raise TrainlabError(where, f"invalid arguments for {self.kind} {name!r} ({exc})", dict(kwargs)) from exc

    def _resolve(self, name: str) -> str | None:
        key = _normalize(name)
        if key in self._entries:
            return key
        return self._aliases.get(key)


def _normalize(name: str) -> str:
    return str(name).strip().lower().replace("-", "_")
