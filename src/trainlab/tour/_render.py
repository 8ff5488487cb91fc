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

import subprocess
import sys
import traceback
import warnings
from pathlib import Path


def draw(kind: str, folder: str) -> None:
    """One job: a run's figures and ``report.html`` (``kind="run"``), or a study's (``"study"``)."""
    if kind == "run":
        from trainlab.report import write_report

        write_report(folder, save_figures=True)
    else:
        from trainlab.studies._report import write_study_report

        write_study_report(folder)


class Renderer:
    """Sends report jobs to one worker process (started on the first job); :meth:`wait` lets it finish.

    Args:
        errors: a file where a failed job's traceback is appended.
        background: draw in a worker process; False draws each report at once, in this process.
    """

    def __init__(self, errors: Path, background: bool = True) -> None:
        self.errors = Path(errors)
        self.background = background
        self._worker: subprocess.Popen | None = None

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

    def _submit(self, kind: str, folder: Path) -> None:
        if not self.background:
            _job(kind, str(folder), self.errors)
            return
        self.start()
        try:
            self._worker.stdin.write(f"{kind}\t{folder}\n")
            self._worker.stdin.flush()
        except OSError:  # the worker died: draw here instead
            _job(kind, str(folder), self.errors)

    def wait(self) -> None:
        """Let the worker finish every job and exit."""
        if self._worker is None:
            return
        worker, self._worker = self._worker, None
        try:
            worker.stdin.close()
        except OSError:
            pass
        if worker.wait() != 0:
            with open(self.errors, "a", encoding="utf-8") as f:
                f.write(f"the report worker exited with status {worker.returncode}\n")


def _start(errors: Path) -> subprocess.Popen:
    from trainlab.tour._lanes import subprocess_env

    return subprocess.Popen([sys.executable, "-m", "trainlab.tour._worker", "render", str(errors)],
                            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True,
                            env=subprocess_env())


def _job(kind: str, folder: str, errors: Path) -> None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            draw(kind, folder)
    except Exception:  # a report that cannot be drawn leaves its figures out, not the tour
        with open(errors, "a", encoding="utf-8") as f:
            f.write(f"{kind} report of {folder}:\n{traceback.format_exc()}\n")


def main(argv: list[str]) -> int:
    """The worker: one ``kind<TAB>folder`` job per line of standard input, until it closes."""
    errors = Path(argv[0])
    from trainlab.report import write_report  # noqa: F401  (imported before the first job arrives)
    from trainlab.studies._report import write_study_report  # noqa: F401

    for line in sys.stdin:
        kind, _, folder = line.rstrip("\n").partition("\t")
        if folder:
            _job(kind, folder, errors)
    return 0

