"""The runs of a study in groups that can train together, and the training of one group.

Every executor trains with :func:`train_group`, so a (variant, seed) gives the same numbers
whichever executor ran it: ``fused`` and ``sequential`` call it in this process, ``dask`` in a
fresh process on a worker. Runs that share the data, batch size, epochs, shuffling and
validation frequency form one group and train together in one engine
(:func:`trainlab.training.fit_together`): one compiled program per epoch runs every member's
step. The first seed's variants are traced; the other seeds train in turn in the same program.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from trainlab.studies.spec import Plan, StudySpec


class Group(NamedTuple):
    """Runs that share a data set and a schedule, and, for a group of one, why it stands alone."""

    plans: list[Plan]
    reason: str | None


@dataclass
class Result:
    """One run's line of ``results.csv`` and how it ran (``fused (2 runs together)``, ``sequential``, ...)."""

    row: dict[str, Any]
    how: str
    raised: bool = False  # training raised before the run finished: the row holds the error, there may be no records


def plan_groups(spec: StudySpec, plans: Sequence[Plan] | None = None) -> list[Group]:
    """The study's runs (or ``plans``, some of them) split into groups that can train together (each run alone
    for ``executor: sequential``)."""
    plans = spec.plans if plans is None else list(plans)
    if spec.config.executor == "sequential":
        return [Group([plan], "executor: sequential") for plan in plans]
    groups: dict[str, list[Plan]] = {}
    for plan in plans:
        groups.setdefault(fusion_key(plan), []).append(plan)
    return [Group(plans, None if len(plans) > 1 else "no other run shares its data and schedule")
            for plans in groups.values()]


def fusion_key(plan: Plan) -> str:
    """What runs must share to train in one engine: the data (with its seed) and the epoch schedule.

    The augmentation is each run's own (a member's, applied in its step), so runs that differ only
    there share the data and train together."""
    training = plan.recipe.training
    data = plan.recipe.data.model_dump(mode="json", exclude={"augment"})
    shared = {
        "data": data, "base_dir": str(plan.base_dir),
        **{k: getattr(training, k) for k in ("batch_size", "epochs", "shuffle", "validation_freq", "jit_compile",
                                              "train_eval_samples", "eval_batch_size", "class_weight", "fast_dev_run",
                                              "limit_train_batches", "limit_val_batches", "overfit_batches")},
    }
    return json.dumps(shared, sort_keys=True, default=str)


def run_dir(study_dir: Path, plan: Plan) -> Path:
    """Where a run's records go inside a study directory: ``runs/<variant>/seed<k>``."""
    return study_dir / "runs" / plan.variant / f"seed{plan.seed}"


def train_group(group: Group, spec: StudySpec, study_dir: Path) -> list[Result]:
    """Train a group's runs into ``study_dir/runs``: fused in one engine when they can be, else one by one.

    Args:
        group: the runs (one data set, one schedule) and why they train alone, if they must.
        spec: the study (its executor and metric).
        study_dir: the folder whose ``runs/`` receives the run directories.

    Returns:
        One :class:`Result` per run, in the group's order.

    Raises:
        Exception: whatever training raised; the caller reports the group's runs as failed.
    """
    from trainlab import data as tl_data  # TensorFlow: loaded when a study trains, not when it is read
    from trainlab.training import Trainer, fusable  # TensorFlow, as above

    first = group.plans[0]
    data_seed = first.recipe.data.seed if first.recipe.data.seed is not None else first.recipe.seed
    data = tl_data.load(first.recipe.data, seed=data_seed, base_dir=first.base_dir)
    reason = group.reason
    if len(group.plans) > 1:
        trainers = [Trainer(p.recipe, name=p.recipe.name, base_dir=p.base_dir, loaded_data=data) for p in group.plans]
        reason = fusable(trainers)
        if reason is None:
            return _train_fused(list(zip(group.plans, trainers)), spec, study_dir)
    results = []
    how = "sequential" + (f" ({reason})" if reason and spec.config.executor == "fused" else "")
    for plan in group.plans:
        trainer = Trainer(plan.recipe, name=plan.recipe.name, base_dir=plan.base_dir, loaded_data=data)
        run = trainer.fit(run_dir(study_dir, plan))
        results.append(Result(result_row(plan, run.summary, run.history, spec, "sequential",
                                         run.summary.get("wall_time_s")), how))
    return results


def _train_fused(members: list[tuple[Plan, Any]], spec: StudySpec, study_dir: Path) -> list[Result]:
    """Fusable runs in one engine, a seed per round; every round after the first reuses the first's program."""
    from trainlab.training import fit_together  # TensorFlow, as above

    rounds = _rounds(members)
    rows, engine = [], None
    for round_ in rounds:
        tick = time.perf_counter()
        runs = fit_together([t for _, t in round_], [run_dir(study_dir, p) for p, _ in round_],
                            engine=engine, restartable=engine is None and len(rounds) > 1)
        engine = round_[0][1].engine  # the next seeds train in this engine's traced program
        share = (time.perf_counter() - tick) / len(round_)
        rows += [result_row(p, run.summary, run.history, spec, "fused", share) for (p, _), run in zip(round_, runs)]
    how = f"fused ({len(rounds[0])} runs together" + (
        f", {len(rounds)} seeds in turn in one traced program)" if len(rounds) > 1 else ")")
    return [Result(row, how) for row in rows]


def _rounds(members: list[tuple[Plan, Any]]) -> list[list[tuple[Plan, Any]]]:
    """A fused group split by seed: each round trains one seed of every variant, in the same order.

    Every round after the first reuses the first round's engine (its traced programs), which
    costs nothing to trace: tracing, not arithmetic, is most of a small study's time, and it
    grows with the members traced together. When the seeds' recipes differ in more than the
    seed (see :func:`trainlab.training.same_program`), the group trains as one round.
    """
    from trainlab.training import same_program  # TensorFlow, as above

    by_seed: dict[int, list[tuple[Plan, Any]]] = {}
    for plan, trainer in members:
        by_seed.setdefault(plan.seed, []).append((plan, trainer))
    rounds = list(by_seed.values())
    first = rounds[0]
    for other in rounds[1:]:
        if [p.variant for p, _ in other] != [p.variant for p, _ in first] or not all(
            same_program(a, b) for (_, a), (_, b) in zip(first, other)
        ):
            return [members]
    return rounds


# ------------------------------------------------------------------------------------------------ rows
def result_row(plan: Plan, summary: dict, history: list[dict], spec: StudySpec, executor: str, wall: Any) -> dict:
    """One line of results.csv: the study metric at the run's best epoch, and the final value of every column."""
    metric = spec.config.metric
    best_epoch = summary.get("best_epoch")
    best_row = next((r for r in history if r.get("epoch") == best_epoch), None)
    best_value = best_row.get(metric) if best_row else None
    row = {
        "variant": plan.variant, "seed": plan.seed,
        "best_value": float(best_value) if best_value is not None else math.nan,
        "best_epoch": best_epoch, "epochs_run": summary.get("epochs_run"), "wall_time_s": wall,
        "executor": executor, "status": summary.get("status"), "error": summary.get("error"),
    }
    final = history[-1] if history else {}
    row.update({f"final_{k}": v for k, v in final.items() if k not in ("epoch", "epoch_time_s")})
    return row


def failed_row(plan: Plan, error: str, executor: str | None = None) -> dict[str, Any]:
    """The results.csv row of a run that raised: kept, with its error (``Type: message``), never dropped."""
    return {"variant": plan.variant, "seed": plan.seed, "best_value": math.nan, "best_epoch": None,
            "epochs_run": None, "wall_time_s": None, "executor": executor, "status": "failed", "error": error}
