"""Where a training session's time goes: ``summary.json``'s ``timings``.

One :class:`Timings` per session of training (one run, or a fused cohort's K runs, which share it):
the loop, the cohort and the trainer time their parts with ``with timings.part("records"): ...``.
Parts nest; each second counts once, in the innermost part (a checkpoint written between two stretches
of an epoch counts as ``checkpoints``, not ``training``).

Tracing is not timed directly: the first call of a compiled program traces it, builds and optimizes
its graph, then runs it, and only the whole call can be timed. So the first epoch's ``training``,
``evaluation`` and ``checkpoints`` seconds (the programs that train, evaluate and read the state) are
compared with the median epoch of the rest: what the first epoch took beyond that median is ``tracing``,
the remainder stays in its part. A session of one epoch (a fast dev run) has no other epoch to compare
with: its whole first calls count as tracing (an upper bound; two steps take milliseconds where tracing
takes seconds). Programs traced later (a fused study's masked program, after a member stops; the test
split's evaluation at the end; the gradient probe of the first histogram epoch) stay in their part.
"""

from __future__ import annotations

import statistics
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

# The parts, in the order they are reported; ``other`` is the rest of the session (the loop's own Python).
# ``waiting``: the session paused while other sessions trained their epoch beside it (a tune's population
# split over several engines, :func:`trainlab.training.sessions.train_sessions`); absent for a session alone.
PARTS = ("tracing", "training", "evaluation", "records", "checkpoints", "callbacks", "profiling", "saving",
         "diagnosis", "waiting")
TRACED = ("training", "evaluation", "checkpoints")  # the parts whose first epoch includes tracing
HOW = "tracing: the first epoch's training, evaluation and checkpoints beyond the median epoch of the rest"


class Timings:
    """Seconds spent in each part of a training session (see the module docstring).

    Example:
        >>> timings = Timings()
        >>> with timings.part("records"):
        ...     write_rows()
        >>> timings.as_dict()["records"]
    """

    def __init__(self, runs: int = 1) -> None:
        self.runs = runs  # the runs that share the session (a fused cohort's K)
        self.started = time.perf_counter()
        self._total: dict[str, float] = defaultdict(float)
        self._epoch: dict[str, float] = defaultdict(float)
        self._epochs: list[dict[str, float]] = []
        self._open: list[list[float]] = []  # per open part: seconds spent in parts nested inside it

    @contextmanager
    def part(self, name: str) -> Iterator[None]:
        """Count the block's seconds (less those of the parts nested in it) as ``name``."""
        tick = time.perf_counter()
        self._open.append([0.0])
        try:
            yield
        finally:
            spent = time.perf_counter() - tick
            inner = self._open.pop()[0]
            self._total[name] += spent - inner
            self._epoch[name] += spent - inner
            if self._open:
                self._open[-1][0] += spent

    def add(self, name: str, seconds: float) -> None:
        """Count ``seconds`` already spent, outside any part, as ``name``."""
        self._total[name] += seconds

    def end_epoch(self) -> None:
        """Close an epoch's tally (the tracing estimate compares the first epoch with the others)."""
        self._epochs.append({name: self._epoch.get(name, 0.0) for name in TRACED})
        self._epoch.clear()

    def tracing(self) -> dict[str, float]:
        """Per traced part, the seconds its first epoch took beyond the median of the other epochs."""
        found = {}
        for name in TRACED:
            series = [epoch[name] for epoch in self._epochs]
            if not series:
                continue
            rest = series[1:]
            found[name] = max(0.0, series[0] - statistics.median(rest)) if rest else series[0]
        return found

    def callbacks(self, callback_list: Any) -> TimedCallbacks:
        """``callback_list`` with every ``on_...`` call counted as ``callbacks``."""
        return TimedCallbacks(callback_list, self)

    def as_dict(self) -> dict[str, Any]:
        """``summary.json``'s ``timings``: seconds per part, ``other``, ``total`` (since this object was made)
        and how tracing was estimated; ``runs`` when several runs shared the session (a fused cohort: each run's
        summary holds the session's timings up to the moment it was written)."""
        total = time.perf_counter() - self.started
        seconds = dict(self._total)
        traced = self.tracing()
        for name, extra in traced.items():
            seconds[name] = seconds.get(name, 0.0) - extra
        seconds["tracing"] = sum(traced.values())
        out: dict[str, Any] = {name: round(seconds[name], 4) for name in PARTS if name in seconds}
        out["other"] = round(max(0.0, total - sum(seconds.values())), 4)
        out["total"] = round(total, 4)
        out["how"] = HOW if len(self._epochs) > 1 else "tracing: the first (and only) epoch's whole training," \
            " evaluation and checkpoint calls (an upper bound)"
        if self.runs > 1:
            out["runs"] = self.runs
        return out


class TimedCallbacks:
    """A callback list whose hook calls (``on_epoch_end``, ...) count as ``callbacks``; anything else passes
    through (``callbacks``, ``model``, ...)."""

    def __init__(self, callback_list: Any, timings: Timings) -> None:
        self._list = callback_list
        self._timings = timings

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._list, name)
        if not (name.startswith("on_") and callable(value)):
            return value

        def timed(*args: Any, **kwargs: Any) -> Any:
            with self._timings.part("callbacks"):
                return value(*args, **kwargs)

        return timed
