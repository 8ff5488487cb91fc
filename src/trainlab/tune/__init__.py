"""Hyper-parameter search: trials sampled by Optuna, trained as fused populations, pruned at rungs.

    import trainlab
    result = trainlab.tune("examples/tune/basic.yaml", trials=12)
    result.trials, result.best, result.dir

A search is a base recipe, a space (recipe key paths and distributions), a trial count, a
sampler and a pruner (see ``docs/tune.md``). The module is callable: ``trainlab.tune(...)`` is :func:`tune` (as ``trainlab.tour``). The tune directory holds ``tune.json``,
``trials.csv``, ``best.yaml`` and a run directory per trial. A search that stopped (killed,
interrupted) continues with :func:`resume_tune` (``trainlab resume TUNE_DIR``).
"""

from __future__ import annotations

import sys
import types
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from trainlab.config import parse_set
from trainlab.tune.resume import resume_tune
from trainlab.tune.run import Tune, run_tune
from trainlab.tune.spec import TuneConfig, TuneSpec, load_tune

__all__ = ["Tune", "TuneConfig", "TuneSpec", "load_tune", "resume_tune", "run_tune", "tune"]


def tune(
    spec: str | Path | Mapping[str, Any] | TuneConfig,
    out: str | Path | None = None,
    overrides: Mapping[str, Any] | Iterable[str] | None = None,
    **kw_overrides: Any,
) -> Tune:
    """Run a hyper-parameter search and write its tune directory.

    Args:
        spec: a search YAML path, a mapping shaped like it, or a :class:`TuneConfig`.
        out: the tune directory (default ``runs/<name>-<timestamp>``); must be new or empty.
        overrides: search keys to change, ``{"trials": 6}`` or ``["base.training.epochs=5"]``.
        **kw_overrides: the same with ``__`` for dots: ``base__training__epochs=5``.

    Returns:
        A :class:`Tune` with ``.trials`` (the rows of trials.csv), ``.best`` (the best recipe) and ``.dir``.

    Raises:
        TrainlabError: the search file or its base recipe is wrong (nothing has trained yet).

    Example:
        >>> result = trainlab.tune("examples/tune/basic.yaml", trials=6)  # doctest: +SKIP
        >>> result.best["optimizer"]["learning_rate"]                     # doctest: +SKIP
    """
    merged = dict(overrides.items() if isinstance(overrides, Mapping) else (parse_set(s) for s in overrides or ()))
    merged.update({k.replace("__", "."): v for k, v in kw_overrides.items()})
    return run_tune(load_tune(spec, merged), out)


class _CallableModule(types.ModuleType):
    """``trainlab.tune(...)`` calls :func:`tune`, as ``trainlab.study(...)`` runs a study."""

    def __call__(self, *args: Any, **kwargs: Any) -> Tune:
        return tune(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
