"""Pruning: which trials stop early, decided as each epoch's validation results come in.

A pruned trial is stopped the way early stopping stops a run: its :class:`PruneCallback` sets
``model.stop_training``, and the epoch loop freezes it (in a fused engine, the member sits out
the rest; its run directory is closed like any stopped run).

The rules (see ``docs/tune.md``):

- ``asha``: rungs at ``min_epochs * reduction_factor**k`` epochs. At a rung, a trial goes on only
  if it ranks in the best ``1 / reduction_factor`` of the trials that reached that rung so far:
  the trials of earlier populations and every trial of its own population (they reach the rung at
  the same epoch, so a fused population is decided together: synchronous successive halving).
  Optuna's asynchronous ASHA decides each trial alone as it arrives, which would let a fused
  population's first members be judged against none of their peers.
- ``hyperband``: several such ladders (brackets), the ``b``-th starting at
  ``min_epochs * reduction_factor**b``; trials are dealt to the brackets in turn and ranked within theirs.
- ``median``: from ``min_epochs`` on, a trial stops when its value is worse than the median of the
  finished trials' values at the same epoch (as Optuna's ``MedianPruner``; at least two of them).
- ``none``: no trial stops early (early stopping in the recipe still applies).

One :class:`Pruner` serves a whole tune. Within an epoch every trial of a population receives
its validation results (``on_test_end``) before any trial ends the epoch (``on_epoch_end``), whether
the population trains in one engine or in several side by side
(:func:`~trainlab.training.sessions.train_sessions`), so when the first trial decides, the whole
population's values are known.
"""

from __future__ import annotations

import math
from typing import Any

import keras

from trainlab.tune.spec import PrunerConfig

MEDIAN_STARTUP = 2  # finished trials the median rule needs before it prunes


class Pruner:
    """The pruning rule and what it has seen: every trial's metric at every validated epoch.

    Args:
        config: the search file's ``pruner``.
        metric: the tune's metric, a ``val_`` column.
        mode: ``max`` or ``min``.
        epochs: the most epochs a trial trains (hyperband's brackets fit below it); each trial's rungs
            lie below its own epochs (:meth:`callback`).
    """

    def __init__(self, config: PrunerConfig, metric: str, mode: str, epochs: int) -> None:
        self.config = config
        self.metric = metric
        self.mode = mode
        self.epochs = epochs
        self.values: dict[int, dict[int, float]] = {}  # trial -> {epochs run: value}
        self.finished: list[int] = []
        self.pruned: dict[int, int] = {}  # trial -> epochs run when it was pruned
        self._epoch: dict[int, int] = {}  # trial -> the epoch it is in
        self._epochs: dict[int, int] = {}  # trial -> its recipe's epochs (when the space has training.epochs)

    # ------------------------------------------------------------------------------------ rungs
    def brackets(self) -> int:
        """How many hyperband brackets fit below the recipes' epochs (1 for asha)."""
        if self.config.name != "hyperband":
            return 1
        n, first = 0, self.config.min_epochs
        while first < self.epochs:
            n, first = n + 1, first * self.config.reduction_factor
        return max(n, 1)

    def bracket(self, trial: int) -> int:
        return trial % self.brackets()

    def rungs(self, trial: int) -> list[int]:
        """The epochs (counted from 1) at which ``trial`` may be stopped: below its last epoch."""
        if self.config.name not in ("asha", "hyperband"):
            return []
        eta, last = self.config.reduction_factor, self._epochs.get(trial, self.epochs)
        epoch, out = self.config.min_epochs * eta ** self.bracket(trial), []
        while epoch < last:
            out.append(epoch)
            epoch *= eta
        return out

    # ------------------------------------------------------------------------------------ events
    def callback(self, trial: int, epochs: int | None = None) -> PruneCallback:
        """The Keras callback that reports ``trial``'s values and stops it when the rule says so; ``epochs``:
        the trial's own (default: the most, given to the pruner)."""
        self.values.setdefault(trial, {})
        if epochs is not None:
            self._epochs[trial] = int(epochs)
        return PruneCallback(self, trial)

    def begin(self, trial: int, epoch: int) -> None:
        """``trial`` starts ``epoch`` (counted from 0)."""
        self.values.setdefault(trial, {})
        self._epoch[trial] = epoch + 1

    def report(self, trial: int, logs: dict[str, Any]) -> None:
        """The trial's validation results of its current epoch (keys without ``val_``)."""
        value = logs.get(self.metric.removeprefix("val_"))
        if value is not None and trial in self._epoch:
            self.values[trial][self._epoch[trial]] = float(value)

    def should_stop(self, trial: int, epoch: int) -> bool:
        """Whether ``trial`` stops after ``epoch`` (counted from 0), by the rule; records the pruning."""
        run = epoch + 1
        mine = self.values.get(trial, {}).get(run)
        if mine is None or self.config.name == "none":
            return False
        if self.config.name == "median":
            stop = self._below_median(run, mine)
        elif run in self.rungs(trial):
            stop = self._below_rung(trial, run)
        else:
            stop = False
        if stop:
            self.pruned[trial] = run
        return stop

    def restore(self, trial: int, values: dict[int, float], pruned_at: int | None) -> None:
        """A trial that finished before the tune was resumed: its values by epoch run, where it was pruned."""
        self.values[trial] = dict(values)
        if pruned_at is not None:
            self.pruned[trial] = pruned_at
        self.finish(trial)

    def finish(self, trial: int) -> None:
        """The trial is done: its values join those later trials are compared with."""
        self._epoch.pop(trial, None)
        if trial not in self.finished:
            self.finished.append(trial)

    # ------------------------------------------------------------------------------------ rules
    def _key(self, value: float) -> float:
        """Sort key, best first; NaN last."""
        if math.isnan(value):
            return math.inf
        return -value if self.mode == "max" else value

    def _below_rung(self, trial: int, run: int) -> bool:
        # Every trial that reached the rung: those of earlier populations, and those of this one, whose values
        # at this epoch all came in before any of them ends it (one engine, or several side by side).
        bracket = self.bracket(trial)
        peers = [t for t, values in self.values.items() if self.bracket(t) == bracket and run in values]
        ranked = sorted(peers, key=lambda t: (self._key(self.values[t][run]), t))
        keep = max(1, len(ranked) // self.config.reduction_factor)
        return ranked.index(trial) >= keep

    def _below_median(self, run: int, mine: float) -> bool:
        if run < self.config.min_epochs:
            return False
        earlier = sorted(self._key(self.values[t][run]) for t in self.finished if run in self.values[t])
        if len(earlier) < MEDIAN_STARTUP:
            return False
        middle = len(earlier) // 2
        median = earlier[middle] if len(earlier) % 2 else (earlier[middle - 1] + earlier[middle]) / 2
        return self._key(mine) > median


class PruneCallback(keras.callbacks.Callback):
    """One trial's link to the :class:`Pruner`: reports its validation results, stops it when pruned."""

    def __init__(self, pruner: Pruner, trial: int) -> None:
        super().__init__()
        self.pruner = pruner
        self.trial = trial

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self.pruner.begin(self.trial, epoch)

    def on_test_end(self, logs: dict[str, Any] | None = None) -> None:
        self.pruner.report(self.trial, logs or {})

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        if self.pruner.should_stop(self.trial, epoch):
            self.model.stop_training = True
