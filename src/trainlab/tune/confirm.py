"""Confirming a search: the best trials re-run over seeds as a study, ranked with its statistics.

A search ranks trials by one run each, so the best trial is partly the luckiest seed. The
confirmation trains the ``top`` best completed trials over ``seeds`` as a study
(:func:`trainlab.studies.run_study`, in ``confirm/``), and the variant the study ranks first
(best mean) is the search's answer: ``best.yaml``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from trainlab.tune.spec import TuneSpec


def confirm(spec: TuneSpec, rows: list[dict[str, Any]], tune_dir: Path) -> tuple[Any, dict[str, Any]] | None:
    """Run the confirmation study of a finished search.

    Args:
        spec: the search (its ``confirm``, metric, mode and executor).
        rows: the search's ``trials.csv`` rows (with each trial's values by key path).
        tune_dir: the tune directory; the study goes to ``confirm/``.

    Returns:
        ``(study, row)``: the finished :class:`~trainlab.studies.Study` and the row of the trial it
        ranks first; None when no trial completed.
    """
    from trainlab.studies import load_study, run_study  # the study stack: loaded when a search confirms

    config = spec.config.confirm
    assert config is not None
    sign = -1.0 if spec.mode == "max" else 1.0
    done = [r for r in rows if r["status"] == "completed" and r["value"] == r["value"]]
    top = sorted(done, key=lambda r: (sign * r["value"], r["trial"]))[: config.top]
    if not top:
        return None
    label = {f"trial-{r['trial']:03d}": r for r in top}
    study_file = {
        "name": f"{spec.name}-confirm", "base": spec.portable_recipe({}),
        "vary": {name: {dim.key: r[dim.key] for dim in spec.space} for name, r in label.items()},
        "seeds": config.seed_list(), "metric": spec.config.metric, "mode": spec.mode,
        "executor": spec.config.executor, "workers": spec.config.workers, "dask_address": spec.config.dask_address,
    }
    study = run_study(load_study(study_file), tune_dir / "confirm")
    ranked = sorted(study.summary, key=lambda s: (not s["mean"] == s["mean"], sign * s["mean"] if s["n"] else 0.0))
    return study, label[ranked[0]["variant"]]
