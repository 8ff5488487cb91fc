"""Sections run side by side in worker processes ("lanes"), one section at a time each.

Training the tutorial's small models leaves a core idle much of the time: tracing a graph is
single-threaded Python, and so are the records written between epochs. Two lanes on two cores
replay two sections at once. The lanes are forks (``multiprocessing``'s fork context) of one
``python -m trainlab.tour.workers lane ...`` process that imported what the sections need once
(a process per lane where processes cannot fork). Each lane talks to the tour over a
:mod:`multiprocessing.connection` pipe: it receives a section to run or a report to draw, and sends
back the finished :class:`Delivery`. The end of the pipe is the end of the lane, whichever way it ended.
The sections run exactly as they would in the tour's own process.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

from trainlab.tour import sections
from trainlab.tour.section import Context, Section
from trainlab.tour.workers import render
from trainlab.tour.workers.startup import (
    LOG, prepare, settle_imports, start_tensorflow, versions, worker_command, worker_env,
)

# The order sections are handed out in when they run side by side: longest first (section 6 trains 20 models;
# docs/performance.md has the times), so that the lane that finishes first waits for the other as little as
# possible; but those with a run report to draw (4, 9) before those without (2, 3, 1, 11), so that the reports
# are drawn while the last sections run, not after them.
LANE_ORDER = (6, 7, 8, 10, 5, 4, 9, 2, 3, 1, 11)
NICENESS = 5  # the lanes yield to the report worker, which then draws each run's figures as soon as it is handed them


@dataclass
class Delivery:
    """What a lane hands back for a section: the section, and (first time) how long its start-up took."""

    section: Section
    startup_seconds: float | None = None
    versions: dict[str, str] | None = None


class Lane:
    """The tour's end of one lane: it sends jobs (a section, or a report to draw) and collects what comes back.

    Messages to the lane: ``("section", number)`` or ``("draw", (kind, folder))``; from it: ``("pid", pid)``
    first, then ``("done", Delivery)`` or ``("drew", None)`` for each job.

    Args:
        conn: the tour's end of the lane's pipe.
    """

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.section: int | None = None  # the section it is running
        self.drawing: tuple[str, str] | None = None  # or the report it is drawing
        self.pid: int | None = None  # the process's id, once it said so
        self.alive = True  # False once its pipe ended

    @property
    def idle(self) -> bool:
        return self.alive and self.section is None and self.drawing is None

    def fileno(self) -> int:
        """The pipe, for ``multiprocessing.connection.wait``."""
        return self.conn.fileno()

    def send(self, number: int) -> None:
        """Run a section (the lane must be idle)."""
        self.section = number
        self._say(("section", number))

    def draw(self, kind: str, folder: str) -> None:
        """Draw a run's or a study's report (the lane must be idle)."""
        self.drawing = (kind, folder)
        self._say(("draw", self.drawing))

    def _say(self, message: tuple[str, Any]) -> None:
        try:
            self.conn.send(message)
        except OSError:  # it has just died: its pipe says so next
            pass

    def receive(self) -> list[Delivery]:
        """Read one message (call when the pipe is readable): the section it finished, or, when it died running
        one, that section failed. A report it died drawing is left in :attr:`drawing`."""
        try:
            what, value = self.conn.recv()  # from our own worker, over our own pipe
        except (EOFError, OSError):
            self.alive = False
            self.conn.close()
            if self.section is None:
                return []
            number, self.section = self.section, None
            error = f"the worker process running it (pid {self.pid}) ended without finishing it (see {LOG})"
            return [Delivery(sections.failed(number, error))]
        if what == "pid":
            self.pid = value
        elif what == "drew":
            self.drawing = None
        elif what == "done":
            self.section = None
            return [value]
        return []

    def close(self, kill: bool = False) -> None:
        """No more jobs: the lane exits when it finishes the one it runs (at once with ``kill``)."""
        if kill and self.alive and self.pid is not None:
            try:
                os.kill(self.pid, signal.SIGTERM)
            except OSError:  # already gone
                pass
        if self.alive:
            self.alive = False
            self.conn.close()


class Lanes:
    """The tour's worker processes: ``workers`` lanes, each running the sections it is sent, one at a time.

    Where processes can fork (Linux), one process prepares (imports TensorFlow, Keras and the sections'
    code: :func:`~trainlab.tour.workers.startup.prepare`) and forks the lanes from itself; elsewhere each
    lane is a process of its own.

    Args:
        ctx: the tour's context (folder, quick, examples, mnist); the workers build their own from it.
        workers: how many lanes.
        threads: TensorFlow's intra- and inter-op threads in each lane.
        fork: fork the lanes from one process (default: on Linux).
    """

    def __init__(self, ctx: Context, workers: int, threads: int, fork: bool | None = None) -> None:
        fork = sys.platform.startswith("linux") if fork is None else fork
        pairs = [multiprocessing.Pipe() for _ in range(workers)]
        self.lanes = [Lane(ours) for ours, _ in pairs]
        self.processes: list[subprocess.Popen] = []
        command = worker_command("lane", str(ctx.out), "1" if ctx.quick else "0", str(ctx.examples),
                                 str(ctx.mnist or ""), str(threads))
        try:
            with open(ctx.out / LOG, "a", encoding="utf-8") as log:
                for group in [pairs] if fork else [[pair] for pair in pairs]:
                    fds = [theirs.fileno() for _, theirs in group]
                    self.processes.append(subprocess.Popen(
                        [*command, *map(str, fds)], pass_fds=fds, stdin=subprocess.DEVNULL,
                        stdout=subprocess.DEVNULL, stderr=log, env=worker_env()))
        finally:
            for _, theirs in pairs:  # the workers' ends are theirs alone: a lane's death then ends its pipe
                theirs.close()

    def wait(self, timeout: float, renderer: render.Renderer) -> list[Delivery]:
        """What the lanes finished (or died running) within ``timeout`` seconds; the renderer's worker is heard
        meanwhile (and given its next job), and a report a lane died drawing goes back to the renderer."""
        listening: list[Any] = [lane for lane in self.lanes if lane.alive]
        if renderer.busy:
            listening.append(renderer)
        deliveries = []
        for source in wait(listening, timeout) if listening else []:
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
        for process in self.processes:
            if kill and process.poll() is None:
                process.terminate()
            process.wait()


def main(argv: list[str]) -> int:
    """A worker: ``OUT QUICK EXAMPLES MNIST THREADS FD [FD ...]`` on the command line, one pipe per lane.

    The process prepares, then serves the one lane itself, or forks a process per lane and waits for them.
    """
    out, quick, examples, mnist, threads, *fds = argv
    ctx = Context(Path(out), quick == "1", Path(examples), Path(mnist) if mnist else None)
    if hasattr(os, "nice"):
        os.nice(NICENESS)
    tick = time.perf_counter()
    prepare()
    settle_imports()  # before the fork: the forks share what was imported, and the collector leaves it alone
    conns = [Connection(int(fd)) for fd in fds]
    if len(conns) == 1:
        serve(ctx, conns, 0, int(threads), tick)
        return 0
    fork = multiprocessing.get_context("fork")
    lanes = [fork.Process(target=serve, args=(ctx, conns, i, int(threads), tick)) for i in range(len(conns))]
    for lane in lanes:
        lane.start()
    for conn in conns:
        conn.close()
    for lane in lanes:
        lane.join()
    return 0


def serve(ctx: Context, conns: list[Connection], mine: int, threads: int, tick: float) -> None:
    """A lane: start TensorFlow's runtime, then do each job received on ``conns[mine]`` (a section, or a report to
    draw) and send back what it made. The other lanes' pipes are closed here first: each pipe ends with its lane."""
    for i, conn in enumerate(conns):
        if i != mine:
            conn.close()
    conn = conns[mine]
    start_tensorflow(threads=threads)  # after the fork: each lane its own runtime and thread pools
    startup: float | None = time.perf_counter() - tick
    found: dict[str, str] | None = versions()
    try:
        conn.send(("pid", os.getpid()))
        while True:
            try:
                what, value = conn.recv()
            except EOFError:  # no more jobs
                return
            if what == "draw":
                render.draw_job(*value, ctx.errors)
                conn.send(("drew", None))
                continue
            delivery = Delivery(sections.run(value, ctx), startup, found)
            startup = found = None
            conn.send(("done", delivery))
    except BrokenPipeError:  # the tour is gone
        pass
