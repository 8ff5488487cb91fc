"""The data-source registry and the sources that need no file.

A source is a loader function registered in :data:`sources`. Its keyword
parameters are the ``data:`` keys it takes (``n_samples``, ``path``, ...); it may
also take ``seed`` and ``base_dir``, which :func:`trainlab.data.load` passes when the
loader accepts them. It returns a :class:`RawData`, or a tuple
``(x, y[, feature_names[, class_names]])``.

scikit-learn's bundled datasets are read from the installed package: nothing is
ever downloaded.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from trainlab.errors import TrainlabError
from trainlab.registry import Registry

#: Loaders of raw data, by name; ``data.source`` in a recipe names one.
sources: Registry[Any] = Registry("data source", key="data.source")

#: The kind of target each built-in source gives ("classification" or "regression").
SOURCE_TASKS: dict[str, str] = {}

Kind = Literal["classification", "regression"]


@dataclass(frozen=True, eq=False)
class RawData:
    """What a source returns, before labels are encoded, the data split and scaled.

    Attributes:
        x: features, one row per sample (images may keep their extra axes).
        y: targets: labels of any kind, or numbers; ``(N,)`` or ``(N, T)``.
        feature_names: one name per feature column; None: ``x0, x1, ...``.
        class_names: names of the labels ``0..K-1`` when ``y`` already holds such codes.
        task: "classification", "regression", or None to infer it from ``y``.
        x_test: a test split that comes with the data (used as the test split).
        y_test: its targets.
        origin: where the data came from, for messages (a file as the user wrote it).
        w: per-sample weights, one per row of ``x`` (a CSV's ``data.weight`` column), or None.
        w_test: the weights of the given test split.
        meta: what the source says about its raw inputs, kept in ``preprocessing.json``
            (an image folder's size and colour), or None.
        encoding: when ``x`` is a :class:`~trainlab.data.table.Table`, the keyword arguments of
            :meth:`TableEncoder.fit <trainlab.data.table.TableEncoder.fit>` (``categorical``,
            ``missing``, ``max_categories``); None: its defaults.
    """

    x: Any
    y: Any
    feature_names: Sequence[str] | None = None
    class_names: Sequence[str] | None = None
    task: Kind | None = None
    x_test: Any = None
    y_test: Any = None
    origin: str = "data"
    w: Any = None
    w_test: Any = None
    meta: Mapping[str, Any] | None = None
    encoding: Mapping[str, Any] | None = None


def as_raw(result: Any, source: str) -> RawData:
    """Accept a loader's :class:`RawData` or ``(x, y[, feature_names[, class_names]])``."""
    if isinstance(result, RawData):
        return result
    if isinstance(result, tuple) and 2 <= len(result) <= 4:
        return RawData(*result, task=SOURCE_TASKS.get(source), origin=source)  # type: ignore[arg-type]
    raise TrainlabError(
        "data.source",
        f"data source {source!r} must return RawData or a tuple (x, y[, feature_names[, class_names]])",
        type(result).__name__,
    )


def _source(name: str, task: Kind) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def add(fn: Callable[..., Any]) -> Callable[..., Any]:
        SOURCE_TASKS[name] = task
        return sources.register(name)(fn)

    return add


def _names(prefix: str, n: int) -> list[str]:
    return [f"{prefix}{i}" for i in range(n)]


@_source("synthetic_classification", "classification")
def synthetic_classification(
    n_samples: int = 1000,
    n_features: int = 20,
    n_informative: int | None = None,
    n_redundant: int | None = None,
    n_classes: int = 2,
    weights: list[float] | None = None,
    flip_y: float | None = None,
    seed: int = 0,
) -> RawData:
    """scikit-learn's ``make_classification(..., random_state=seed)``; None keeps its defaults."""
    from sklearn import datasets  # noqa: PLC0415 (scikit-learn loads when data is made, not when a recipe is read)

    optional = {"n_informative": n_informative, "n_redundant": n_redundant, "weights": weights, "flip_y": flip_y}
    x, y = datasets.make_classification(
        n_samples=n_samples,
        n_features=n_features,
        n_classes=n_classes,
        random_state=seed,
        **{k: v for k, v in optional.items() if v is not None},
    )
    return RawData(x, y, _names("x", n_features), None, "classification", origin="synthetic_classification")


@_source("synthetic_regression", "regression")
def synthetic_regression(
    n_samples: int = 1000,
    n_features: int = 20,
    n_informative: int | None = None,
    noise: float = 0.0,
    n_targets: int = 1,
    seed: int = 0,
) -> RawData:
    """scikit-learn's ``make_regression(..., noise=noise, random_state=seed)``; None keeps its default (10)."""
    from sklearn import datasets  # noqa: PLC0415 (see synthetic_classification)

    extra = {} if n_informative is None else {"n_informative": n_informative}
    x, y = datasets.make_regression(
        n_samples=n_samples, n_features=n_features, noise=noise, n_targets=n_targets, random_state=seed, **extra
    )
    return RawData(x, y, _names("x", n_features), None, "regression", origin="synthetic_regression")


@sources.register("arrays")
def arrays() -> RawData:
    """The user's own arrays, given in Python to :func:`trainlab.data.from_arrays`.

    ``DataConfig(source="arrays", task=...)`` configures splitting and scaling for
    them; a recipe cannot load this source.
    """
    raise TrainlabError(
        "data.source", "'arrays' is data given in Python: call trainlab.data.from_arrays(x, y, config)", "arrays"
    )


def _bundled(loader: str, name: str, task: Kind) -> RawData:
    from sklearn import datasets  # noqa: PLC0415 (see synthetic_classification)

    bunch = getattr(datasets, loader)()
    class_names = [str(c) for c in bunch.target_names] if task == "classification" else None
    return RawData(bunch.data, bunch.target, [str(f) for f in bunch.feature_names], class_names, task, origin=name)


@_source("digits", "classification")
def digits(images: bool = False) -> RawData:
    """scikit-learn's bundled 8x8 handwritten digits: 1797 images, 10 classes.

    Args:
        images: give them as images ``(N, 8, 8, 1)`` scaled to [0, 1]; default: 64 pixels (0-16) per row.
    """
    raw = _bundled("load_digits", "digits", "classification")
    if not images:
        return raw
    x = (raw.x.reshape(-1, 8, 8, 1) / 16.0).astype(np.float32)
    return RawData(x, raw.y, None, raw.class_names, "classification", origin="digits",
                   meta={"image": {"size": [8, 8], "color": "grayscale", "scale": 1 / 16}})


@_source("breast_cancer", "classification")
def breast_cancer() -> RawData:
    """scikit-learn's bundled Wisconsin breast cancer data: 569 samples, 30 features, 2 classes."""
    return _bundled("load_breast_cancer", "breast_cancer", "classification")


@_source("wine", "classification")
def wine() -> RawData:
    """scikit-learn's bundled wine data: 178 samples, 13 features, 3 classes."""
    return _bundled("load_wine", "wine", "classification")


@_source("iris", "classification")
def iris() -> RawData:
    """scikit-learn's bundled iris flowers: 150 samples, 4 features, 3 classes."""
    return _bundled("load_iris", "iris", "classification")


@_source("diabetes", "regression")
def diabetes() -> RawData:
    """scikit-learn's bundled diabetes progression data: 442 samples, 10 features, one target."""
    return _bundled("load_diabetes", "diabetes", "regression")
