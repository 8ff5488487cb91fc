"""Confirming a search: the best trials re-run over seeds as a study, ranked with its statistics.

A search ranks trials by one run each, so the best trial is partly the luckiest seed. The
confirmation trains the ``top`` best completed trials over ``seeds`` as a study
(:func:`trainlab.studies.run_study`, in ``confirm/``), and the variant the study ranks first
(best mean) is the search's answer: ``best.yaml``. A resumed search that was confirming
continues the study in ``confirm/`` (:func:`trainlab.studies.resume_study`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from trainlab import rundir
from trainlab.tune.records import CONFIRM
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
    from trainlab.studies import load_study, resume_study, run_study  # the study stack: when a search confirms
    from trainlab.studies.resume import finished_study  # as above

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
    folder = tune_dir / CONFIRM
    if (folder / "study.json").is_file():  # a resumed search that was confirming: the study goes on where it stopped
        status = rundir.read_json(folder / "study.json").get("status")
        study = finished_study(folder) if status == "completed" else resume_study(folder)
    else:
        rundir.discard(folder)  # made, if at all, by a search stopped before the study began
        study = run_study(load_study(study_file), folder)
    ranked = sorted(study.summary, key=lambda s: (not s["mean"] == s["mean"], sign * s["mean"] if s["n"] else 0.0))
    return study, label[ranked[0]["variant"]]
