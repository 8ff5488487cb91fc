"""Training sessions: a cohort's training from its runs' opening to their closing, one or several side by side.

:func:`fit_together` trains one cohort (K >= 1 runs in one engine) through the epoch loop
(:class:`~trainlab.training.loop.EpochLoop`). A :class:`Session` is the same training taken an epoch at a
time, so that :func:`train_sessions` can drive several cohorts, each in its own engine, epoch by epoch: every
run of every session gets its validation results of an epoch before any run ends that epoch, as the members
of one engine do. A tune trains a population whose trials have different programs (architectures) this way
and prunes it as one.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import keras

from trainlab import rundir
from trainlab.training.checkpoint import Resume
from trainlab.training.cohort import Cohort, Seat
from trainlab.training.engine import Engine
from trainlab.training.interrupt import Interrupts
from trainlab.training.loop import EpochLoop
from trainlab.training.timings import Timings


def fit_together(
    trainers: Sequence[Seat],
    outs: Sequence[str | Path | None] | None = None,
    callbacks: Sequence[Sequence[keras.callbacks.Callback] | None] | None = None,
    *,
    resume: Sequence[Resume | None] | None = None,
    engine: Engine | None = None,
    restartable: bool = False,
    slots: Sequence[int] | None = None,
    stopping: bool = False,
) -> list[Any]:
    """Train prepared trainers together, as one cohort in one engine: K members, one compiled program per epoch.

    One run is K = 1 (:meth:`Trainer.fit`); a fused study passes its variants x seeds. Each run
    keeps its own run directory, callbacks (a member that early stopping stops is frozen and
    sits out the rest), records, summary and diagnosis; all see the same batches, so they must
    share the data (the same object), batch size, epochs, shuffling and validation frequency.
    The epoch loop itself (checkpoints, rollbacks, interruptions) is :class:`~trainlab.training.loop.EpochLoop`.

    Args:
        trainers: the prepared trainers.
        outs: each run's directory (None: a new one under ``runs/``).
        callbacks: each run's extra callbacks.
        resume: per run, None for a new run or a :class:`Resume` to continue one in its directory.
        engine: an engine that already trained runs of the same programs (see
            :func:`~trainlab.training.cohort.same_program`: the recipes may differ in their seeds and in the
            hyper-parameters the engine holds in variables): each trainer's initial state is loaded into
            its member and the traced programs are used again, with no new tracing. The runs' ``model``
            is then the engine's, which the next runs it trains will change; their run directories hold
            their own weights.
        restartable: the engine these runs train in will train other runs after them (``engine=`` in a
            later call): it remembers its members' fresh optimizer state first (:meth:`Engine.remember_fresh`).
        slots: with ``engine``, the member each trainer trains as (default: trainer ``k`` as member ``k``);
            members no trainer takes sit out.
        stopping: a new engine of several members expects most of them to stop early (a search's pruning):
            it traces only the program in which a member's step can sit out.

    Returns:
        Each trainer's :class:`~trainlab.training.trainer.Run`, in order.

    Raises:
        ValueError: the trainers cannot train together (see :func:`~trainlab.training.cohort.fusable`), or
            not in ``engine``.
    """
    session = Session(trainers, outs, callbacks, resume=resume, engine=engine, restartable=restartable,
                      slots=slots, stopping=stopping)
    return train_sessions([session], isolate=False)[0]


class Session:
    """One cohort's training, from its runs' opening to their closing, taken an epoch at a time
    (:meth:`epochs`), so that :func:`train_sessions` can drive several cohorts (engines) side by side.

    The arguments are :func:`fit_together`'s; the runs are opened (their directories made) here.
    """

    def __init__(
        self,
        trainers: Sequence[Seat],
        outs: Sequence[str | Path | None] | None = None,
        callbacks: Sequence[Sequence[keras.callbacks.Callback] | None] | None = None,
        *,
        resume: Sequence[Resume | None] | None = None,
        engine: Engine | None = None,
        restartable: bool = False,
        slots: Sequence[int] | None = None,
        stopping: bool = False,
    ) -> None:
        trainers = list(trainers)
        outs = list(outs or [None] * len(trainers))
        callbacks = list(callbacks or [None] * len(trainers))
        self.resume = list(resume or [None] * len(trainers))
        if engine is not None and any(r is not None for r in self.resume):  # (the count of members: Cohort checks it)
            raise ValueError("runs resumed from their checkpoints need an engine of their own, not one that trained"
                             " others")
        self.trainers = trainers
        self.cohort = Cohort(trainers, engine, restartable=restartable, slots=slots, stopping=stopping)
        opened: list[Seat] = []
        try:
            for trainer, out, cbs, again in zip(trainers, outs, callbacks, self.resume):
                # Checkpoint files are written for single runs; a fused study's runs keep theirs in memory (rollbacks).
                trainer.open(out, cbs, again, checkpoints=len(trainers) == 1)
                opened.append(trainer)
        except BaseException:
            for trainer, again in zip(opened, self.resume):
                if again is None:
                    rundir.discard(trainer.state.dir)
            raise
        self.timings = Timings(len(trainers))
        for trainer in trainers:
            trainer.state.timings = self.timings
            trainer.state.cb_list = self.timings.callbacks(trainer.state.cb_list)
        self.started = time.perf_counter()
        self.loop = EpochLoop(self.cohort, self.started, self.timings)

    def epochs(self, interrupts: Interrupts) -> Iterator[None]:
        """Train, pausing once an epoch: after every run has its validation results (``on_test_end``), before
        any run ends the epoch (``on_epoch_end``), where a tune's pruner decides (see :meth:`EpochLoop.epochs`)."""
        for trainer in self.trainers:
            trainer.model.stop_training = False
            trainer.state.cb_list.on_train_begin()
        yield from self.loop.epochs(self.loop.restore(self.resume), interrupts)  # restored after on_train_begin,
        for trainer in self.trainers:  # which resets callbacks
            trainer.state.records.settle()  # the last epoch's kernels, before early stopping restores the best
            trainer.state.cb_list.on_train_end(trainer.state.history[-1] if trainer.state.history else None)

    def close(self, status: str, error: str | None) -> list[Any]:
        """Close every run (summary, diagnosis): ``completed``, ``interrupted`` or ``failed``."""
        return [trainer.close(status, error, self.started) for trainer in self.trainers]


def train_sessions(sessions: Sequence[Session], isolate: bool = True) -> list[list[Any]]:
    """Train the sessions side by side, epoch by epoch (each in its own engine), and return each one's runs.

    Every session takes epoch ``e`` up to its validation before any session ends epoch ``e``: each run's
    callbacks see the validation results of all the sessions' runs of that epoch, as the members of one
    engine do (a tune prunes a population split over several engines as one); the time a session spends
    while the others take theirs is its timings' ``waiting``. Ctrl-C or SIGTERM halts every engine; all
    sessions are closed ``interrupted`` (those already done ``completed``).

    Args:
        sessions: the opened sessions.
        isolate: a session that raises is closed ``failed`` and the others go on (its runs are returned,
            failed); with False, the error ends them all (closed ``failed``) and is raised.
    """
    runs: dict[int, list[Any]] = {}
    closing: set[int] = set()  # sessions closed (or being closed): never twice

    def close(i: int, status: str, error: str | None) -> None:
        closing.add(i)
        runs[i] = sessions[i].close(status, error)

    with Interrupts([s.cohort.engine.halt for s in sessions]) as interrupts:
        going = {i: s.epochs(interrupts) for i, s in enumerate(sessions)}
        status, error = "failed", None  # what the sessions still going are closed as
        try:
            while going:
                for i in list(going):
                    tick = time.perf_counter()
                    try:
                        next(going[i])
                    except StopIteration:  # closed now: its wall time ends here, not with the others'
                        del going[i]
                        close(i, "completed", None)
                    except KeyboardInterrupt:
                        raise
                    except Exception as exc:
                        if not isolate:
                            raise
                        del going[i]
                        close(i, "failed", f"{exc.__class__.__name__}: {exc}")
                    for j in going:  # the others waited while session i took its epoch (none: one session)
                        if j != i:
                            sessions[j].timings.add("waiting", time.perf_counter() - tick)
        except KeyboardInterrupt as exc:
            status = "interrupted"
            for session in sessions:
                if session.cohort.placement.kind != "multi_worker":  # which cannot be resumed yet
                    exc.run_dirs = [*getattr(exc, "run_dirs", []), *(t.state.dir for t in session.trainers)]
            raise
        except Exception as exc:
            error = f"{exc.__class__.__name__}: {exc}"
            raise
        finally:
            for i in range(len(sessions)):
                if i not in closing:
                    close(i, status, error)
        interrupts.check()  # a signal that came while the runs were being closed: act on it now
    return [runs[i] for i in range(len(sessions))]
