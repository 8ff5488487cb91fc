"""Sections run side by side in worker processes ("lanes"), one section at a time each.

Training the tutorial's small models leaves a core idle much of the time: tracing a graph is
single-threaded Python, and so are the records written between epochs. Two lanes on two cores
replay two sections at once. Each lane is a plain ``python -m trainlab.tour._worker lane ...`` process (not
a multiprocessing pool, which would re-import the caller's main script) that reads section numbers
on its standard input and writes each finished section, pickled, into the tour's folder
(``.section-<n>.pickle``, renamed into place when complete). The sections run exactly as they would
in the tour's own process.
"""

from __future__ import annotations

import dataclasses
import importlib
import os
import pickle
import subprocess
import sys
import time
import traceback
from pathlib import Path

from trainlab.tour._section import Context, Section

# number -> (short name, title, "module:function"); the modules are imported when their section runs.
SECTIONS: dict[int, tuple[str, str, str]] = {
    1: ("losses", "Loss functions", "_basics:losses"),
    2: ("optimizers", "Optimizers compared", "_basics:optimizers"),
    3: ("schedules", "Learning-rate schedules", "_basics:schedules"),
    4: ("basic loop", "A basic training loop", "_runs:basic"),
    5: ("advanced trainer", "An advanced trainer", "_runs:advanced"),
    6: ("dropout, batch norm", "Dropout and batch normalization compared", "_studies:regularization"),
    7: ("L1, L2", "L1 and L2 weight regularization compared", "_studies:weight_decay"),
    8: ("callbacks", "Built-in callbacks", "_callbacks:callbacks"),
    9: ("custom callback", "A custom callback", "_callbacks:custom_callback"),
    10: ("monitor", "Training monitor", "_runs:monitor"),
    11: ("advice", "Its closing advice", "_advice:advice"),
}
TRAINING = {4, 5, 6, 7, 8, 9, 10}  # the sections that train models (seconds to minutes each)
# The order sections are handed out in when they run side by side: longest first (a full tour, 2026-11-29: 6: 61 s,
# 7: 26 s, 8: 13 s, 10: 11 s, 5: 7 s, 2: 7 s, 4: 6 s, 9: 2 s, 3: 2.5 s, 1: 2 s, 11: none), so that the lane that
# finishes first waits for the other as little as possible; of the short ones, those with a run report to draw
# (9) before those without (3, 1, 11), so that the report worker is not left drawing alone at the end.
LANE_ORDER = (6, 7, 8, 10, 5, 2, 4, 9, 3, 1, 11)
LANE_NICENESS = 5  # the lanes yield to the report worker (see main)
ERRORS = "errors.txt"
LOG = "tour.log"


def run_section(number: int, ctx: Context) -> Section:
    """Run one section; a section that raises comes back failed (its traceback appended to ``errors.txt``)."""
    _, title, target = SECTIONS[number]
    module, _, function = target.partition(":")
    ctx = dataclasses.replace(ctx, drawings=[])
    tick = time.perf_counter()
    try:
        section = getattr(importlib.import_module(f"trainlab.tour.{module}"), function)(ctx)
    except Exception as exc:  # a failed section is reported; the others still run
        section = Section(number, title, error=f"{type(exc).__name__}: {exc}",
                          line=f"FAILED: {type(exc).__name__}: {exc}")
        with open(ctx.out / ERRORS, "a", encoding="utf-8") as f:
            f.write(f"section {number} ({title}):\n{traceback.format_exc()}\n")
    section.seconds = time.perf_counter() - tick
    section.drawings = list(ctx.drawings)  # drawn even when the section failed after training
    return section


def start_tensorflow(threads: int | None = None) -> float:
    """Import TensorFlow and Keras and start the runtime; the seconds it took (several on a small machine).

    ``threads``: TensorFlow's intra- and inter-op threads (None: its default, one per core each). Lanes
    share the cores out: two lanes on two cores, each with pools as large as the machine, fought over both
    (full tour, 2026-11-29: 110-122 s with the defaults, 90 s with one thread per lane).
    """
    tick = time.perf_counter()
    import keras  # noqa: F401
    import tensorflow as tf

    if threads is not None:
        from trainlab.config.recipe import apply_threads

        apply_threads(threads)  # as training.threads does
    tf.constant(0.0).numpy()
    return time.perf_counter() - tick


def versions() -> dict[str, str]:
    import keras
    import tensorflow as tf

    import trainlab

    return {"trainlab": trainlab.__version__, "tensorflow": tf.__version__, "keras": keras.__version__}


def subprocess_env() -> dict[str, str]:
    """The environment for a worker: this very trainlab importable (an editable install, a source tree)."""
    import trainlab

    env = dict(os.environ)
    source = str(Path(trainlab.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join([source, *filter(None, [env.get("PYTHONPATH")])])
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    return env


@dataclasses.dataclass
class Delivery:
    """What a lane hands back for a section: the section, and (first time) how long its start-up took."""

    section: Section
    startup_seconds: float | None = None
    versions: dict[str, str] | None = None


class Lane:
    """A worker process running the sections it is sent, one at a time.

    Args:
        ctx: the tour's context (folder, quick, examples, mnist); the worker builds its own from it.
        threads: TensorFlow's intra- and inter-op threads in the worker.
    """

    def __init__(self, ctx: Context, threads: int) -> None:
        self.ctx = ctx
        self.section: int | None = None  # the section it is running
        with open(ctx.out / LOG, "a", encoding="utf-8") as log:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "trainlab.tour._worker", "lane", str(ctx.out), "1" if ctx.quick else "0",
                 str(ctx.examples), str(ctx.mnist or ""), str(threads)],
                stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=log, text=True, env=subprocess_env())

    @property
    def alive(self) -> bool:
        return self._process.poll() is None

    def send(self, number: int) -> None:
        """Start a section (the lane must be idle)."""
        self.section = number
        self._process.stdin.write(f"{number}\n")
        self._process.stdin.flush()

    def collect(self) -> Delivery | None:
        """The running section's result once it is written; a failed section if the worker died; else None."""
        if self.section is None:
            return None
        path = result_path(self.ctx.out, self.section)
        if path.is_file():
            with open(path, "rb") as f:
                delivery = pickle.load(f)  # written by our own worker, just now, into our own folder
            path.unlink()
            self.section = None
            return delivery
        if not self.alive:
            number, self.section = self.section, None
            _, title, _ = SECTIONS[number]
            error = f"the worker process running it exited with status {self._process.returncode} (see {LOG})"
            return Delivery(Section(number, title, error=error, line=f"FAILED: {error}"))
        return None

    def close(self, kill: bool = False) -> None:
        """Let the worker exit (at once with ``kill``)."""
        try:
            self._process.stdin.close()
        except OSError:
            pass
        if kill and self.alive:
            self._process.terminate()
        self._process.wait()


def result_path(out: Path, number: int) -> Path:
    return out / f".section-{number}.pickle"


def main(argv: list[str]) -> int:
    """A lane: ``OUT QUICK EXAMPLES MNIST THREADS`` on the command line, a section number per line on standard input."""
    out, quick, examples, mnist, threads = argv
    ctx = Context(Path(out), quick == "1", Path(examples), Path(mnist) if mnist else None)
    if hasattr(os, "nice"):
        # The report worker (normal priority) draws each run's figures as soon as it is handed them, instead of
        # falling behind the lanes and drawing the last of them alone at the end (full tour: 6.4 s, one core idle).
        os.nice(LANE_NICENESS)
    startup: float | None = start_tensorflow(threads=int(threads))
    found: dict[str, str] | None = versions()
    for line in sys.stdin:
        if not line.strip():
            continue
        delivery = Delivery(run_section(int(line), ctx), startup, found)
        startup = found = None
        path = result_path(ctx.out, delivery.section.number)
        tmp = path.with_name(path.name + ".tmp")
        with open(tmp, "wb") as f:
            pickle.dump(delivery, f)
        os.replace(tmp, path)
    return 0


