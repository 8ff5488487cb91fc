"""Run and study reports drawn in a worker process while the tour trains on.

Figures and reports read records only (never a model, never TensorFlow), so another process can draw
them as soon as a run's directory is complete. Training a small model leaves a core idle much of the
time (tracing a graph is single-threaded Python), and drawing a run's four figures takes seconds; the
worker fills that core. It calls what ``trainlab run`` and ``trainlab study`` call:
:func:`trainlab.report.write_report` and the study report.

The worker is ``python -m trainlab.tour.workers render ERRORS FD``: it receives one ``(kind, folder)``
job at a time on a :mod:`multiprocessing.connection` pipe and answers ``"done"`` after each.
"""

from __future__ import annotations

import subprocess
import traceback
import warnings
from collections import deque
from multiprocessing import Pipe
from multiprocessing.connection import Connection, wait
from pathlib import Path

from trainlab.tour.workers.startup import settle_imports, worker_command, worker_env


def draw(kind: str, folder: str) -> None:
    """One job: a run's figures and ``report.html`` (``kind="run"``), or a study's (``"study"``)."""
    if kind == "run":
        from trainlab.report import write_report  # matplotlib: imported by the worker before its first job

        write_report(folder, save_figures=True)
    else:
        from trainlab.studies.report import write_study_report  # only a study's page needs it

        write_study_report(folder)


def draw_job(kind: str, folder: str, errors: Path) -> None:
    """One job drawn here; a report that cannot be drawn is told in ``errors`` (a traceback), not raised."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            draw(kind, folder)
    except Exception:  # a report that cannot be drawn leaves its figures out, not the tour
        with open(errors, "a", encoding="utf-8") as f:
            f.write(f"{kind} report of {folder}:\n{traceback.format_exc()}\n")


class Renderer:
    """Draws run and study reports: in a worker process, one job at a time, or here.

    Jobs wait here, in the order they came, and go to the worker one at a time as it finishes the
    one before; an idle tour lane can take one too (:meth:`take`), so that the reports left when the
    last sections end are drawn side by side.

    Args:
        errors: a file where a failed job's traceback is appended.
        background: draw in a worker process; False draws each report at once, in this process.
    """

    def __init__(self, errors: Path, background: bool = True) -> None:
        self.errors = Path(errors)
        self.background = background
        self.pending: deque[tuple[str, str]] = deque()
        self._worker: subprocess.Popen | None = None
        self._conn: Connection | None = None
        self.busy = False  # the worker is drawing a job (then fileno() tells when it is done)

    def start(self) -> None:
        """Start the worker now (it imports matplotlib and the report code while the lanes import TensorFlow)."""
        if self.background and self._worker is None:
            self._conn, theirs = Pipe()
            try:
                self._worker = subprocess.Popen(
                    worker_command("render", str(self.errors), str(theirs.fileno())), pass_fds=[theirs.fileno()],
                    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=worker_env())
            finally:
                theirs.close()  # the worker's alone: its end closes when it exits

    def run(self, folder: Path) -> None:
        """Draw a run directory's figures and report."""
        self._submit("run", folder)

    def study(self, folder: Path) -> None:
        """Draw a study directory's figures and report."""
        self._submit("study", folder)

    def take(self) -> tuple[str, str] | None:
        """The next waiting job, for someone else to draw (``draw(*job)``); None when none waits."""
        return self.pending.popleft() if self.pending else None

    def give_back(self, job: tuple[str, str]) -> None:
        """A job someone took and could not draw: it is the next to go."""
        self.pending.appendleft(job)
        self._feed()

    def fileno(self) -> int:
        """The worker's end of the pipe, for ``multiprocessing.connection.wait`` (see :meth:`receive`)."""
        return self._conn.fileno()

    def receive(self) -> None:
        """Hear the worker (call when :meth:`fileno` is readable) and hand it the next job."""
        try:
            self._conn.recv()
            self.busy = False
        except (EOFError, OSError):  # the worker died: draw the rest here
            self._drop()
        self._feed()

    def _submit(self, kind: str, folder: Path) -> None:
        if not self.background:
            draw_job(kind, str(folder), self.errors)
            return
        self.start()
        self.pending.append((kind, str(folder)))
        self._feed()

    def _feed(self) -> None:
        while self.pending and not self.busy:
            if self._worker is None:
                draw_job(*self.pending.popleft(), self.errors)
                continue
            try:
                self._conn.send(self.pending[0])
            except OSError:  # the worker died: draw here instead
                self._drop()
                continue
            self.pending.popleft()
            self.busy = True

    def _drop(self) -> None:
        worker, self._worker, self.busy = self._worker, None, False
        if worker is not None:
            self._end(worker)

    def _end(self, worker: subprocess.Popen) -> None:
        self._conn.close()  # the worker reads the end of its jobs and exits
        if worker.wait() != 0:
            with open(self.errors, "a", encoding="utf-8") as f:
                f.write(f"the report worker exited with status {worker.returncode}\n")

    def wait(self) -> None:
        """Let the worker finish every job and exit."""
        while self._worker is not None and (self.busy or self.pending):
            if not self.busy:  # a job left waiting (the tour's loop stopped between queuing and sending it)
                self._feed()
                continue
            wait([self])
            self.receive()
        if self._worker is not None:
            worker, self._worker = self._worker, None
            self._end(worker)
        for job in self.pending:  # none unless the worker died at the start
            draw_job(*job, self.errors)
        self.pending.clear()


def main(argv: list[str]) -> int:
    """The worker: ``ERRORS FD``; one ``(kind, folder)`` job at a time from the pipe ``FD`` until it closes,
    ``"done"`` after each."""
    errors, fd = Path(argv[0]), int(argv[1])
    from trainlab.report import write_report  # noqa: F401  (imported before the first job arrives)
    from trainlab.studies.report import write_study_report  # noqa: F401

    settle_imports()
    with Connection(fd) as conn:
        while True:
            try:
                kind, folder = conn.recv()
            except EOFError:  # the tour closed its end: no more jobs
                return 0
            draw_job(kind, folder, errors)
            conn.send("done")
