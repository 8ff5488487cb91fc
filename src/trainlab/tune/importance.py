"""Parameter importances of a search: fANOVA on its completed trials, read from the tune directory.

    from trainlab.tune.importance import param_importances
    from trainlab.tune.records import read_tune
    param_importances(read_tune("runs/basic-search-20260101-120000")).values   # {"optimizer.learning_rate": 0.71, ...}

The completed rows of ``trials.csv`` are added to a fresh Optuna study, and Optuna's fANOVA
evaluator shares the variance of the metric among the space's keys. Pruned trials are left out
(their values come from fewer epochs), failed ones have no value. Optuna is imported when the
importances are computed, not with the module.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

from trainlab.checks import finite
from trainlab.tune.records import TuneRecords, choice_index
from trainlab.tune.space import Dimension

MIN_COMPLETED_FOR_IMPORTANCE = 3  # fANOVA's forest on fewer points says nothing a reader could trust
IMPORTANCE_METHOD = "fANOVA (Optuna's FanovaImportanceEvaluator, seed 0)"


@dataclass
class Importances:
    """Parameter importances of a search: each key's share of the variance of the metric, or why there are none.

    Attributes:
        values: key path -> importance, largest first, summing to 1; None when not computed.
        reason: why ``values`` is None (empty otherwise).
        n_trials: the completed trials they were computed from.
        method: how they were computed.
    """

    values: dict[str, float] | None
    reason: str
    n_trials: int
    method: str = IMPORTANCE_METHOD


def param_importances(tune: TuneRecords) -> Importances:
    """Parameter importances with Optuna's fANOVA, on a study rebuilt from the completed rows of ``trials.csv``.

    Pruned trials are left out (their values come from fewer epochs than the others'), and failed ones
    have no value. A choice enters as the index of its value, as the search sampled it.

    Args:
        tune: :func:`~trainlab.tune.records.read_tune`'s result.

    Returns:
        The :class:`Importances`; ``values`` is None with fewer than :data:`MIN_COMPLETED_FOR_IMPORTANCE`
        completed trials, or when fANOVA cannot be computed (the reason says which).
    """
    import optuna  # a tune's own dependency, slow to import: only when importances are drawn

    done = [r for r in tune.with_status("completed") if finite(r.get("value"))]
    params = [(r, _optuna_params(tune.space, r)) for r in done]
    params = [(r, p) for r, p in params if p is not None]
    if len(params) < MIN_COMPLETED_FOR_IMPORTANCE:
        return Importances(None, f"importances need at least {MIN_COMPLETED_FOR_IMPORTANCE} completed trials; "
                                 f"this search has {len(params)}", len(params))
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    distributions = {dim.key: dim.optuna() for dim in tune.space}
    study = optuna.create_study(direction="maximize" if tune.mode == "max" else "minimize")
    for row, values in params:
        study.add_trial(optuna.trial.create_trial(params=values, distributions=distributions, value=row["value"]))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            found = optuna.importance.get_param_importances(
                study, evaluator=optuna.importance.FanovaImportanceEvaluator(seed=0))
    except (ValueError, RuntimeError, ZeroDivisionError) as exc:
        return Importances(None, f"fANOVA could not be computed ({exc})", len(params))
    total = sum(found.values())
    if not total or not math.isfinite(total):  # every completed trial has the same value: no variance to share
        return Importances(None, "the completed trials' values do not vary: nothing to attribute", len(params))
    return Importances({k: float(v / total) for k, v in found.items()}, "", len(params))


def _optuna_params(space: list[Dimension], row: dict[str, Any]) -> dict[str, Any] | None:
    """A row's values as Optuna's distributions hold them (a choice: its index); None when one is missing."""
    out: dict[str, Any] = {}
    for dim in space:
        cell = row.get(dim.key)
        if dim.kind == "choice":
            out[dim.key] = choice_index(dim, cell)
        elif isinstance(cell, (int, float)) and math.isfinite(cell):
            out[dim.key] = int(cell) if dim.kind == "int" else float(cell)
        else:
            out[dim.key] = None
    return None if any(v is None for v in out.values()) else out
