"""Run and study reports drawn in a worker process while the tour trains on.

Figures and reports read records only (never a model, never TensorFlow), so another process can draw
them as soon as a run's directory is complete. Training a small model leaves a core idle much of the
time (tracing a graph is single-threaded Python), and drawing a run's four figures takes seconds; the
worker fills that core. It calls what ``trainlab run`` and ``trainlab study`` call:
:func:`trainlab.report.write_report` and the study report.

The worker is a plain ``python -m trainlab.tour._worker render ERRORS`` reading one job per line on its
standard input (``run<TAB>folder`` or ``study<TAB>folder``), not a multiprocessing pool: a pool
re-imports the caller's main script, which a script that calls ``trainlab.tour()`` unguarded by
``if __name__ == "__main__"`` does not survive.
"""

from __future__ import annotations

import os
import select
import subprocess
import sys
import traceback
import warnings
from collections import deque
from pathlib import Path


def draw(kind: str, folder: str) -> None:
    """One job: a run's figures and ``report.html`` (``kind="run"``), or a study's (``"study"``)."""
    if kind == "run":
        from trainlab.report import write_report

        write_report(folder, save_figures=True)
    else:
        from trainlab.studies.report import write_study_report

        write_study_report(folder)


class Renderer:
    """Draws run and study reports: in a worker process, one job at a time, or here.

    Jobs wait here, in the order they came, and go to the worker one at a time as it finishes the
    one before (it says ``done`` on its standard output); an idle tour lane can take one too
    (:meth:`take`), so that the reports left when the last sections end are drawn side by side.

    Args:
        errors: a file where a failed job's traceback is appended.
        background: draw in a worker process; False draws each report at once, in this process.
    """

    def __init__(self, errors: Path, background: bool = True) -> None:
        self.errors = Path(errors)
        self.background = background
        self.pending: deque[tuple[str, str]] = deque()
        self._worker: subprocess.Popen | None = None
        self.busy = False  # the worker is drawing a job (then fileno() tells when it is done)

    def start(self) -> None:
        """Start the worker now (it imports matplotlib and the report code while the lanes import TensorFlow)."""
        if self.background and self._worker is None:
            self._worker = _start(self.errors)

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
        """The worker's standard output, for ``select`` (see :meth:`receive`)."""
        return self._worker.stdout.fileno()

    def receive(self) -> None:
        """Read what the worker said (call when :meth:`fileno` is readable) and hand it the next job."""
        said = os.read(self.fileno(), 4096)
        if not said:  # the worker died: draw the rest here
            self._drop()
        else:
            self.busy = False
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
            kind, folder = self.pending[0]
            try:
                self._worker.stdin.write(f"{kind}\t{folder}\n")
                self._worker.stdin.flush()
            except OSError:  # the worker died: draw here instead
                self._drop()
                continue
            self.pending.popleft()
            self.busy = True

    def _drop(self) -> None:
        worker, self._worker, self.busy = self._worker, None, False
        if worker is not None:
            _end(worker, self.errors)

    def wait(self) -> None:
        """Let the worker finish every job and exit."""
        while self._worker is not None and (self.busy or self.pending):
            if not self.busy:  # a job left waiting (the tour's loop stopped between queuing and sending it)
                self._feed()
                continue
            select.select([self], [], [])
            self.receive()
        if self._worker is not None:
            worker, self._worker = self._worker, None
            _end(worker, self.errors)
        for job in self.pending:  # none unless the worker died at the start
            draw_job(*job, self.errors)
        self.pending.clear()


def _end(worker: subprocess.Popen, errors: Path) -> None:
    try:
        worker.stdin.close()
    except OSError:
        pass
    if worker.wait() != 0:
        with open(errors, "a", encoding="utf-8") as f:
            f.write(f"the report worker exited with status {worker.returncode}\n")
    worker.stdout.close()


def _start(errors: Path) -> subprocess.Popen:
    from trainlab.tour._lanes import subprocess_env

    return subprocess.Popen([sys.executable, "-m", "trainlab.tour._worker", "render", str(errors)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            env=subprocess_env())


def draw_job(kind: str, folder: str, errors: Path) -> None:
    """One job drawn here; a report that cannot be drawn is told in ``errors`` (a traceback), not raised."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            draw(kind, folder)
    except Exception:  # a report that cannot be drawn leaves its figures out, not the tour
        with open(errors, "a", encoding="utf-8") as f:
            f.write(f"{kind} report of {folder}:\n{traceback.format_exc()}\n")


def main(argv: list[str]) -> int:
    """The worker: one ``kind<TAB>folder`` job per line of standard input, until it closes; ``done`` on standard
    output after each (anything else the drawing prints goes to standard error)."""
    errors = Path(argv[0])
    said, sys.stdout = sys.stdout, sys.stderr
    from trainlab.report import write_report  # noqa: F401  (imported before the first job arrives)
    from trainlab.studies.report import write_study_report  # noqa: F401
    from trainlab.tour._lanes import settle_imports

    settle_imports()
    for line in sys.stdin:
        kind, _, folder = line.rstrip("\n").partition("\t")
        if folder:
            draw_job(kind, folder, errors)
            said.write("done\n")
            said.flush()
    return 0

