"""Sections run side by side in worker processes ("lanes"), one section at a time each.

Training the tutorial's small models leaves a core idle much of the time: tracing a graph is
single-threaded Python, and so are the records written between epochs. Two lanes on two cores
replay two sections at once. The lanes are one ``python -m trainlab.tour._worker lane ...`` process
that imports what the sections need once and forks the other lanes from itself (:class:`Lanes`; a
process per lane where processes cannot fork). Each lane reads section numbers from a pipe and
writes each finished section, pickled, into the tour's folder (``.section-<n>.pickle``, renamed
into place when complete), then says so on another pipe. The sections run exactly as they would
in the tour's own process.
"""

from __future__ import annotations

import dataclasses
import gc
import importlib
import os
import pickle
import select
import signal
import subprocess
import sys
import time
import traceback
from pathlib import Path

from trainlab.tour import _render
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
# finishes first waits for the other as little as possible; but those with a run report to draw (4, 9) before those
# without (2, 3, 1, 11), so that the reports are drawn while the last sections run, not after them.
LANE_ORDER = (6, 7, 8, 10, 5, 4, 9, 2, 3, 1, 11)
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


# What every lane needs, imported once before the lanes fork (see main): trainlab's training, study and report code
# and what it imports (scikit-learn, pydantic, YAML). Not what only one section uses (TensorBoard, section 8).
SHARED_MODULES = (
    "trainlab.training.loop", "trainlab.studies", "trainlab.config.recipe", "trainlab.data", "trainlab.diagnose",
    "trainlab.monitor", "trainlab.callbacks", "trainlab.report",
)


def prepare() -> None:
    """Import TensorFlow, Keras and what the sections run, without starting TensorFlow's runtime (no op runs).

    Until an op runs TensorFlow has no thread and no state a fork would break, so a process that has
    prepared can fork its lanes: each starts where the import left off (one import instead of one per lane:
    ~8 s of CPU on this machine) and starts its own runtime, with its own threads, after the fork.
    """
    import keras  # noqa: F401
    import tensorflow  # noqa: F401

    for _, _, target in SECTIONS.values():
        importlib.import_module(f"trainlab.tour.{target.partition(':')[0]}")
    for module in SHARED_MODULES:
        importlib.import_module(module)


def settle_imports() -> None:
    """Keep the garbage collector off everything imported so far, and turn it on (a worker turns it off to import).

    A full collection scans every object; frozen, the ~400k objects of TensorFlow, Keras and the rest are
    not scanned again (sections 4, 5, 8 and 10 in one process: 2.2 -> 1.3 s collecting) nor, in a forked lane, written to:
    the pages stay shared with the process it was forked from.
    """
    gc.freeze()
    gc.enable()


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
        from trainlab.runtime import apply_threads

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
    """One worker process's end in the tour: it sends jobs (a section, or a report to draw) and collects them.

    A lane reads a job per line from its command pipe: a section number, or ``draw<TAB>kind<TAB>folder``
    (a run or study report, see :meth:`Renderer.take <trainlab.tour._render.Renderer.take>`). Once a
    section's result is in place it writes ``done N`` to its status pipe (``drew`` for a report; first
    of all ``pid P``, its process id). The end of the status pipe is the end of the process, whichever
    way it ended.

    Args:
        out: the tour's folder, where the lane writes each result.
        commands: the write end of the lane's command pipe (a file descriptor, now the lane's).
        status: the read end of its status pipe.
    """

    def __init__(self, out: Path, commands: int, status: int) -> None:
        self.out = out
        self.section: int | None = None  # the section it is running
        self.drawing: tuple[str, str] | None = None  # or the report it is drawing
        self.pid: int | None = None  # the process's id, once it said so
        self.alive = True  # False once its status pipe ended
        self._commands = os.fdopen(commands, "w", encoding="utf-8")
        self._status = status
        self._unread = b""

    @property
    def idle(self) -> bool:
        return self.alive and self.section is None and self.drawing is None

    def fileno(self) -> int:
        """The status pipe, for ``select``."""
        return self._status

    def send(self, number: int) -> None:
        """Run a section (the lane must be idle)."""
        self.section = number
        self._say(f"{number}")

    def draw(self, kind: str, folder: str) -> None:
        """Draw a run's or a study's report (the lane must be idle)."""
        self.drawing = (kind, folder)
        self._say(f"draw\t{kind}\t{folder}")

    def _say(self, line: str) -> None:
        try:
            self._commands.write(line + "\n")
            self._commands.flush()
        except OSError:  # it has just died: its status pipe says so next
            pass

    def receive(self) -> list[Delivery]:
        """Read what the lane said (call when its status pipe is readable): the sections it finished, or, when it
        died running one, that section failed. A report it died drawing is left in :attr:`drawing`."""
        chunk = os.read(self._status, 4096)
        if not chunk:
            self.alive = False
            os.close(self._status)
            if self.section is None:
                return []
            number, self.section = self.section, None
            _, title, _ = SECTIONS[number]
            error = f"the worker process running it (pid {self.pid}) ended without finishing it (see {LOG})"
            return [Delivery(Section(number, title, error=error, line=f"FAILED: {error}"))]
        *lines, self._unread = (self._unread + chunk).split(b"\n")
        deliveries = []
        for line in lines:
            what, _, value = line.decode().partition(" ")
            if what == "pid":
                self.pid = int(value)
            elif what == "drew":
                self.drawing = None
            elif what == "done":
                path = result_path(self.out, int(value))
                with open(path, "rb") as f:
                    deliveries.append(pickle.load(f))  # written by our own worker, just now, into our own folder
                path.unlink()
                self.section = None
        return deliveries

    def close(self, kill: bool = False) -> None:
        """No more jobs: the lane exits when it finishes the one it runs (at once with ``kill``)."""
        try:
            self._commands.close()
        except OSError:
            pass
        if kill and self.alive and self.pid is not None:
            try:
                os.kill(self.pid, signal.SIGTERM)
            except OSError:  # already gone
                pass


class Lanes:
    """The tour's worker processes: ``workers`` lanes, each running the sections it is sent, one at a time.

    Where processes can fork (Linux), one process prepares (imports TensorFlow, Keras and the sections'
    code: :func:`prepare`) and forks the other lanes from itself; elsewhere each lane is a process of its own.
    Either way a lane is a plain ``python -m trainlab.tour._worker lane ...`` process or a fork of one, not a
    multiprocessing pool (which would re-import the caller's main script).

    Args:
        ctx: the tour's context (folder, quick, examples, mnist); the workers build their own from it.
        workers: how many lanes.
        threads: TensorFlow's intra- and inter-op threads in each lane.
        fork: fork the lanes from one process (default: on Linux).
    """

    def __init__(self, ctx: Context, workers: int, threads: int, fork: bool | None = None) -> None:
        fork = sys.platform.startswith("linux") if fork is None else fork
        self.lanes: list[Lane] = []
        self._processes: list[subprocess.Popen] = []
        theirs = []
        for _ in range(workers):
            commands_in, commands_out = os.pipe()
            status_in, status_out = os.pipe()
            self.lanes.append(Lane(ctx.out, commands_out, status_in))
            theirs.append((commands_in, status_out))
        command = [sys.executable, "-m", "trainlab.tour._worker", "lane", str(ctx.out), "1" if ctx.quick else "0",
                   str(ctx.examples), str(ctx.mnist or ""), str(threads)]
        try:
            with open(ctx.out / LOG, "a", encoding="utf-8") as log:
                for group in [theirs] if fork else [[pair] for pair in theirs]:
                    fds = [fd for pair in group for fd in pair]
                    self._processes.append(subprocess.Popen(
                        [*command, *(f"{c},{s}" for c, s in group)], pass_fds=fds, stdin=subprocess.DEVNULL,
                        stdout=subprocess.DEVNULL, stderr=log, env=subprocess_env()))
        finally:
            for pair in theirs:  # the workers' ends are theirs alone: a lane's death then ends its status pipe
                for fd in pair:
                    os.close(fd)

    def wait(self, timeout: float, renderer: _render.Renderer) -> list[Delivery]:
        """What the lanes finished (or died running) within ``timeout`` seconds; the renderer's worker is heard
        meanwhile (and given its next job), and a report a lane died drawing goes back to the renderer."""
        listening: list = [lane for lane in self.lanes if lane.alive]
        if renderer.busy:
            listening.append(renderer)
        if not listening:
            return []
        ready, _, _ = select.select(listening, [], [], timeout)
        deliveries = []
        for source in ready:
            if source is renderer:
                renderer.receive()
                continue
            deliveries += source.receive()
            if not source.alive and source.drawing is not None:
                renderer.give_back(source.drawing)
                source.drawing = None
        return deliveries

    def close(self, kill: bool = False) -> None:
        """Let the workers exit (at once with ``kill``) and wait for them."""
        for lane in self.lanes:
            lane.close(kill)
        for process in self._processes:
            if kill and process.poll() is None:
                process.terminate()
            process.wait()
        for lane in self.lanes:
            if lane.alive:
                lane.alive = False
                os.close(lane.fileno())


def result_path(out: Path, number: int) -> Path:
    return out / f".section-{number}.pickle"


def main(argv: list[str]) -> int:
    """A worker: ``OUT QUICK EXAMPLES MNIST THREADS C,S [C,S ...]`` on the command line, one ``C,S`` per lane (the
    file descriptors of its command and status pipes).

    The process prepares, forks a process for every lane after the first, and runs the first lane itself; it
    exits once its forks have.
    """
    out, quick, examples, mnist, threads, *channels = argv
    ctx = Context(Path(out), quick == "1", Path(examples), Path(mnist) if mnist else None)
    if hasattr(os, "nice"):
        # The report worker (normal priority) draws each run's figures as soon as it is handed them, instead of
        # falling behind the lanes and drawing the last of them alone at the end (full tour: 6.4 s, one core idle).
        os.nice(LANE_NICENESS)
    tick = time.perf_counter()
    prepare()
    settle_imports()  # before the fork: the forks share what was imported, and the collector leaves it alone
    pairs = [tuple(int(fd) for fd in channel.split(",")) for channel in channels]
    mine, forks = pairs[0], []
    for pair in pairs[1:]:
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            mine, forks = pair, []
            break
        forks.append(pid)
    for pair in pairs:
        if pair != mine:
            for fd in pair:
                os.close(fd)
    _serve(ctx, mine, int(threads), tick)
    for pid in forks:
        os.waitpid(pid, 0)
    return 0


def _serve(ctx: Context, pair: tuple[int, int], threads: int, tick: float) -> None:
    """A lane: start TensorFlow's runtime, then do each job read from the command pipe (a section, or a report
    to draw), saying on the status pipe when it is done."""
    start_tensorflow(threads=threads)  # after the fork: each lane its own runtime and thread pools
    startup: float | None = time.perf_counter() - tick
    found: dict[str, str] | None = versions()
    commands, status = pair
    with os.fdopen(commands, encoding="utf-8") as lines, os.fdopen(status, "w", encoding="utf-8") as said:
        try:
            said.write(f"pid {os.getpid()}\n")
            said.flush()
            for line in lines:
                if line.startswith("draw\t"):
                    _, kind, folder = line.rstrip("\n").split("\t")
                    _render.draw_job(kind, folder, ctx.out / ERRORS)
                    said.write("drew\n")
                    said.flush()
                    continue
                if not line.strip():
                    continue
                delivery = Delivery(run_section(int(line), ctx), startup, found)
                startup = found = None
                path = result_path(ctx.out, delivery.section.number)
                tmp = path.with_name(path.name + ".tmp")
                with open(tmp, "wb") as f:
                    pickle.dump(delivery, f)
                os.replace(tmp, path)
                said.write(f"done {delivery.section.number}\n")
                said.flush()
        except BrokenPipeError:  # the tour is gone
            pass
