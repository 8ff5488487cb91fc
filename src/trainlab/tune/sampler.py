"""Sampling through Optuna's ask/tell interface: trainlab asks for a population, trains it, tells the results.

Optuna keeps the history (an in-memory study); its samplers propose the values: ``tpe``
(``TPESampler``), ``random`` (``RandomSampler``), ``sobol`` (``QMCSampler``, scrambled Sobol) and
``grid`` (``GridSampler`` over choices and integer ranges). Everything is seeded by the search's
``seed``: the same search file asks for the same trials.
"""

from __future__ import annotations

import itertools
import math
import warnings
from dataclasses import dataclass
from typing import Any

from trainlab.tune.spec import TuneSpec


@dataclass
class Asked:
    """A trial Optuna proposed: its number, its recipe values (key path -> value), Optuna's handle."""

    number: int
    values: dict[str, Any]
    handle: Any


class Sampler:
    """The tune's Optuna study: asks for trials and is told how they ended.

    Args:
        spec: the validated search.
    """

    def __init__(self, spec: TuneSpec) -> None:
        import optuna  # a tune's own dependency: imported when a tune runs, not with trainlab

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.spec = spec
        self.distributions = {dim.key: dim.optuna() for dim in spec.space}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            sampler = _sampler(spec)
        direction = "maximize" if spec.mode == "max" else "minimize"
        self.study = optuna.create_study(direction=direction, sampler=sampler)

    def total(self) -> int:
        """How many trials the search trains: ``trials``, or a smaller grid's size."""
        if self.spec.config.sampler != "grid":
            return self.spec.config.trials
        return min(self.spec.config.trials, math.prod(len(dim.grid()) for dim in self.spec.space))

    def ask(self, n: int) -> list[Asked]:
        """``n`` new trials (a population)."""
        import optuna

        out = []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            for _ in range(n):
                handle = self.study.ask(self.distributions)
                values = {dim.key: dim.value(handle.params[dim.key]) for dim in self.spec.space}
                out.append(Asked(handle.number, values, handle))
        return out

    def tell(self, asked: Asked, status: str, value: float | None, curve: dict[int, float]) -> None:
        """How a trial ended: ``completed`` with its value, ``pruned`` (its curve tells how far it got), ``failed``."""
        from optuna.trial import TrialState

        for step, v in sorted(curve.items()):
            if math.isfinite(v):
                asked.handle.report(v, step)
        if status == "completed" and value is not None and math.isfinite(value):
            told = {"values": value}
        else:
            told = {"state": TrialState.PRUNED if status == "pruned" else TrialState.FAIL}
        try:
            self.study.tell(asked.handle, **told)
        except RuntimeError as exc:
            # GridSampler stops an exhausted grid with Study.stop, which only works inside Study.optimize;
            # Optuna has stored the trial's result before (trainlab asks no more than the grid's size).
            if "Study.stop" not in str(exc):
                raise

    def add(self, values: dict[str, Any], status: str, value: float | None, curve: dict[int, float]) -> None:
        """A trial of an earlier session added to the history without asking (Optuna's ``add_trial``), as
        :meth:`tell` would have left it: a pruned trial's value is its last reported one."""
        import optuna
        from optuna.trial import TrialState

        steps = {step: v for step, v in sorted(curve.items()) if math.isfinite(v)}
        told = None
        if status == "completed" and value is not None and math.isfinite(value):
            state, told = TrialState.COMPLETE, value
        elif status == "pruned":
            state, told = TrialState.PRUNED, steps[max(steps)] if steps else None
        else:
            state = TrialState.FAIL
        params = {dim.key: dim.drawn(values[dim.key]) for dim in self.spec.space}
        self.study.add_trial(optuna.trial.create_trial(params=params, distributions=self.distributions, value=told,
                                                       state=state, intermediate_values=steps))

    def queue_unvisited(self) -> None:
        """With ``grid``, after :meth:`add`: queue the points no trial visited, as many as trials are left.

        Optuna's ``GridSampler`` gives trial ``n`` the ``n``-th point of its own shuffled grid, whatever
        trials were added, so added trials from another shuffle would be met again; queued points
        (``enqueue_trial``) are asked first, in the grid's order, each once."""
        if self.spec.config.sampler != "grid":
            return
        keys = [dim.key for dim in self.spec.space]
        seen = {tuple(t.params[k] for k in keys) for t in self.study.trials}
        left = self.total() - len(self.study.trials)
        for point in itertools.product(*(dim.grid() for dim in self.spec.space)):
            if left <= 0:
                break
            if point not in seen:
                self.study.enqueue_trial(dict(zip(keys, point)))
                left -= 1


def _sampler(spec: TuneSpec) -> Any:
    import optuna

    seed, name = spec.config.seed, spec.config.sampler
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if name == "sobol":
        return optuna.samplers.QMCSampler(qmc_type="sobol", scramble=True, seed=seed)
    if name == "grid":
        return optuna.samplers.GridSampler({dim.key: dim.grid() for dim in spec.space}, seed=seed)
    return optuna.samplers.TPESampler(seed=seed)
