"""Ctrl-C and SIGTERM while training: finish the step in flight, write a checkpoint, then stop.

Python runs a signal handler only between bytecodes of the main thread, and a compiled epoch
is one long call into TensorFlow; a handler alone would wait for the epoch to end. So the
signal is also written to a wake-up pipe (:func:`signal.set_wakeup_fd`), and a watcher thread
reading it sets the engine's ``halt`` variable, which the compiled loop checks before every
step. The main thread's handler only records the request; the epoch loop acts on it at its next
safe point (:meth:`Interrupts.check`), after writing a checkpoint, by calling the handler that was
installed before (Ctrl-C's raises ``KeyboardInterrupt``; trainlab's command line turns SIGTERM
into ``Terminated``, a ``KeyboardInterrupt``). A second signal of the same kind acts at once.

Only signals that already have a Python handler are taken over: a process that ignores Ctrl-C
keeps ignoring it, and SIGTERM keeps its default (the process ends) outside the command line.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable, Sequence
from typing import Any

_SIGNALS = (signal.SIGINT, signal.SIGTERM)
_STOP = b"\0"  # written to the pipe to end the watcher; no signal has number 0


class Interrupts:
    """A context that defers Ctrl-C and SIGTERM to the training loop's safe points.

    Args:
        halts: variables set to True (from any thread) as soon as a signal arrives; the
            engine's ``halt``.

    Example:
        >>> with Interrupts([engine.halt]) as interrupts:
        ...     for epoch in range(epochs):
        ...         train_one(epoch)            # stops early once a signal came
        ...         save_checkpoint()
        ...         interrupts.check()          # raises KeyboardInterrupt after Ctrl-C
    """

    def __init__(self, halts: Sequence[Any]) -> None:
        self.halts = list(halts)
        self.requested: int | None = None
        self._previous: dict[int, Callable[..., Any]] = {}
        self._pipe: tuple[int, int] | None = None
        self._watcher: threading.Thread | None = None
        # Signals the watcher has read and signals acted on: the watcher may read a signal's byte after the
        # main thread's handler took it and check() acted on it; it must not raise the halts again then.
        self._woken = self._acted = 0
        self._lock = threading.Lock()

    @property
    def pending(self) -> bool:
        """A signal came and has not been acted on yet."""
        return self.requested is not None

    def check(self) -> None:
        """At a safe point: act on a signal that came, as the handler before would have (usually raising)."""
        if self.requested is None:
            return
        signum, self.requested = self.requested, None
        with self._lock:
            self._acted += 1
            self._set_halts(False)
        self._previous[signum](signum, None)  # raises KeyboardInterrupt (or Terminated) ...
        # ... or returns (a handler that only logs, say): training goes on.

    def __enter__(self) -> Interrupts:
        if threading.current_thread() is not threading.main_thread():
            return self
        for signum in _SIGNALS:
            previous = signal.getsignal(signum)
            if callable(previous):
                self._previous[signum] = previous
                signal.signal(signum, self._handle)
        if self._previous:
            self._start_watcher()
        return self

    def __exit__(self, *exc: object) -> None:
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)
        self._previous = {}
        self._stop_watcher()
        self._set_halts(False)

    def _handle(self, signum: int, frame: Any) -> None:
        if self.requested == signum:  # asked twice: act now, wherever training is
            self.requested = None
            with self._lock:
                self._acted += 2
            self._previous[signum](signum, frame)
            return
        self.requested = signum
        self._set_halts(True)

    def _set_halts(self, value: bool) -> None:
        for halt in self.halts:
            halt.assign(value)

    def _start_watcher(self) -> None:
        read, write = os.pipe()
        os.set_blocking(write, False)
        try:
            before = signal.set_wakeup_fd(write, warn_on_full_buffer=False)
        except ValueError:
            before = None
        if before != -1:  # not allowed here, or an event loop uses it: Python-level handling only
            if before is not None:
                signal.set_wakeup_fd(before)
            os.close(read)
            os.close(write)
            return
        self._pipe = (read, write)
        self._watcher = threading.Thread(target=self._watch, args=(read,), name="trainlab-signals", daemon=True)
        self._watcher.start()

    def _watch(self, read: int) -> None:
        wanted = {int(s) for s in self._previous}
        while True:
            try:
                data = os.read(read, 64)
            except OSError:
                return
            self._woke(sum(1 for b in data if b in wanted))
            if not data or _STOP in data:
                return

    def _woke(self, signals: int) -> None:
        """Halt for signals read from the pipe, unless the main thread has already acted on them."""
        if not signals:
            return
        with self._lock:
            self._woken += signals
            if self._woken > self._acted:
                self._set_halts(True)

    def _stop_watcher(self) -> None:
        if self._pipe is None:
            return
        read, write = self._pipe
        signal.set_wakeup_fd(-1)
        try:
            os.write(write, _STOP)
        except OSError:
            pass
        if self._watcher is not None:
            self._watcher.join(timeout=5)
        os.close(read)
        os.close(write)
        self._pipe = self._watcher = None
