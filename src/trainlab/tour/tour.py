"""The tour: every section of the tutorial, one terminal line each, then ``report.html``."""

from __future__ import annotations

import json
import os
import time
from collections import deque
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import trainlab
from trainlab import rundir
from trainlab.errors import TrainlabError
from trainlab.tour.section import Context, Section, Tour, find_examples, seconds
from trainlab.tour import sections
from trainlab.tour.sections import SECTIONS, TRAINING
from trainlab.tour.workers.lanes import LANE_ORDER, Delivery, Lanes
from trainlab.tour.workers.render import Renderer
from trainlab.tour.workers.startup import LOG, start_tensorflow, versions

TOUR_JSON = "tour.json"
REPORT = "report.html"
WAIT_S = 1.0  # the longest the tour waits for a lane without looking again


def tour(
    out: str | Path | None = None,
    *,
    quick: bool = False,
    only: Iterable[int] | None = None,
    mnist: str | Path | None = None,
    echo: Callable[[str], None] | None = None,
    workers: int | None = None,
) -> Tour:
    """Replay the tutorial, section by section, with trainlab's public API, and write one report.

    Each section runs what the tutorial's section ran, the way a user would with trainlab (the
    example recipes and studies, ``trainlab.train``, ``trainlab.study``, the optimizer race, the
    schedule plots), writes its run and study directories under ``out``, and prints one line, in
    section order. A section that fails is reported as failed and the tour goes on. Sections run two
    at a time in worker processes on a machine with two cores or more, and the run and study reports
    are drawn by another process meanwhile (they read records only).

    Args:
        out: the tour's folder, new or empty (default ``runs/tour-<timestamp>``).
        quick: fewer epochs, seeds and samples; the same code paths.
        only: the section numbers to run (1-11); default all.
        mnist: a local Keras-format ``mnist.npz`` for section 8 (default: scikit-learn's digits).
        echo: where the lines go (default ``print``).
        workers: sections at a time, each in a worker process; 0 runs every section in this process, one
            after another, and draws the reports here too. Default: 2 when at least two of the chosen
            sections train models and the machine has two cores or more, else 0. Always 0 off POSIX
            systems (the workers get their pipes as inherited file descriptors).

    Returns:
        A :class:`Tour`; ``report.html`` and ``tour.json`` are in its folder.

    Raises:
        TrainlabError: a bad section number, a missing ``mnist`` file, an ``out`` folder that holds
            files, or no ``examples/`` folder (the tour runs a clone's example recipes).

    Example:
        >>> result = trainlab.tour(out="runs/tour", quick=True)   # doctest: +SKIP
        >>> result.report, [s.seconds for s in result.sections]  # doctest: +SKIP
    """
    echo = echo or (lambda line: print(line, flush=True))
    chosen = _chosen(only)
    mnist_path = _mnist(mnist)
    examples = find_examples()
    if workers is None:  # two workers pay for a process and a runtime of their own: worth it when two sections train
        workers = 2 if (os.cpu_count() or 1) > 1 and len(TRAINING.intersection(chosen)) >= 2 else 0
    workers = max(0, min(int(workers), len(chosen))) if len(chosen) > 1 and os.name == "posix" else 0  # inherited pipes
    folder = rundir.new_run_dir("tour", out)
    ctx = Context(folder, quick, examples, mnist_path)
    renderer = Renderer(ctx.errors, background=workers > 0)
    renderer.start()
    started = time.perf_counter()
    printer = _Printer(chosen, echo)
    facts: dict[str, Any] = {"startup": 0.0, "versions": None}

    def deliver(delivery: Delivery) -> None:
        for kind, drawn in delivery.section.drawings:
            getattr(renderer, kind)(Path(drawn))
        if delivery.startup_seconds is not None:
            facts["startup"] = max(facts["startup"], delivery.startup_seconds)
        facts["versions"] = facts["versions"] or delivery.versions
        printer.add(delivery.section)

    try:
        if workers == 0:
            startup = start_tensorflow()  # before the first section, whose time it is not part of
            deliver(Delivery(sections.run(chosen[0], ctx), startup, versions()))
            for number in chosen[1:]:
                deliver(Delivery(sections.run(number, ctx)))
        else:
            _in_lanes(chosen, ctx, workers, deliver, renderer)
    finally:
        renderer.wait()  # the run and study reports, whose figures the tour's report shows
        result = Tour(folder, folder / REPORT, printer.sections(), time.perf_counter() - started, quick,
                      facts["startup"], workers)
        _write(result, ctx, facts["versions"] or {"trainlab": _trainlab_version()})
        _tidy(folder)
    failures = f"; {len(result.failed)} FAILED, see {ctx.errors}" if result.failed else ""
    echo(f"report: {result.report}  ({len(result.sections)} section{'s' if len(result.sections) != 1 else ''} in "
         f"{seconds(result.seconds)}, {seconds(result.startup_seconds)} of it starting TensorFlow{failures})")
    return result


def _in_lanes(chosen: list[int], ctx: Context, workers: int, deliver: Callable[[Delivery], None],
              renderer: Renderer) -> None:
    """Hand the sections to whichever lane is free, the longest first (:data:`LANE_ORDER`); deliver each as it
    finishes. A lane with no section left draws the reports that wait for the renderer's worker.

    Section 6 (20 models) is the longest: started first, it runs in one lane while the other takes
    sections 7, 8 and 10, then the short ones fill both; the lines print in section order as they finish.
    """
    rank = {n: i for i, n in enumerate(LANE_ORDER)}
    queue = deque(sorted(chosen, key=rank.__getitem__))
    threads = max(1, (os.cpu_count() or 1) // workers)  # the cores shared out: no lane's pool fights another's
    lanes = Lanes(ctx, workers, threads)
    interrupted = True
    try:
        while True:
            for lane in lanes.lanes:
                if lane.idle and queue:
                    lane.send(queue.popleft())
                elif lane.idle and (job := renderer.take()) is not None:
                    lane.draw(*job)
            if queue and not any(lane.alive for lane in lanes.lanes):  # every worker died: say so for the rest
                while queue:
                    deliver(Delivery(sections.failed(queue.popleft(), f"no worker process left to run it (see {LOG})")))
            if not queue and all(lane.idle or not lane.alive for lane in lanes.lanes):
                break
            for delivery in lanes.wait(WAIT_S, renderer):
                deliver(delivery)
        interrupted = False
    finally:
        lanes.close(kill=interrupted)


class _Printer:
    """Prints each section's line in section order, as soon as it and every section before it are done."""

    def __init__(self, chosen: list[int], echo: Callable[[str], None]) -> None:
        self._pending = list(chosen)
        self._done: dict[int, Section] = {}
        self._echo = echo

    def add(self, section: Section) -> None:
        self._done[section.number] = section
        while self._pending and self._pending[0] in self._done:
            self._echo(terminal_line(self._done[self._pending.pop(0)]))

    def sections(self) -> list[Section]:
        return [self._done[n] for n in sorted(self._done)]


def terminal_line(section: Section) -> str:
    """``" 4. basic loop          3.1 s  examples/basic.yaml, ..."``: the section, its time, what it found."""
    short = SECTIONS[section.number][0]
    return f"{section.number:>2}. {short:<20}{seconds(section.seconds):>8}  {section.line}"


def _chosen(only: Iterable[int] | None) -> list[int]:
    if only is None:
        return list(SECTIONS)
    chosen = []
    for number in only:
        if isinstance(number, bool) or not isinstance(number, int) or number not in SECTIONS:
            raise TrainlabError("only", f"must be section numbers from 1 to {len(SECTIONS)}", number)
        if number not in chosen:
            chosen.append(number)
    if not chosen:
        raise TrainlabError("only", "must name at least one section", [])
    return sorted(chosen)


def _mnist(mnist: str | Path | None) -> Path | None:
    if mnist is None:
        return None
    path = Path(mnist).expanduser()
    if not path.is_file():
        raise TrainlabError("mnist", "must be a Keras-format mnist.npz file (not found)", str(mnist))
    return path.resolve()


def _write(result: Tour, ctx: Context, found_versions: dict[str, str]) -> None:
    """``tour.json`` (every section's numbers) and ``report.html``."""
    from trainlab.tour.report import render  # the report's page code: not needed before the tour ends

    rundir.write_json(result.dir / TOUR_JSON, {
        "quick": result.quick, "seconds": result.seconds, "startup_seconds": result.startup_seconds,
        "workers": result.workers, "mnist": str(ctx.mnist) if ctx.mnist else None, "examples": str(ctx.examples),
        "versions": found_versions, "sections": [section.to_json() for section in result.sections],
    })
    page = render(result, found_versions)
    tmp = result.report.with_name(result.report.name + ".tmp")
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(result.report)


def _tidy(folder: Path) -> None:
    """Remove the workers' log when they had nothing to say."""
    log = folder / LOG
    if log.is_file() and not log.read_text(encoding="utf-8", errors="replace").strip():
        log.unlink()


def _trainlab_version() -> str:
    return trainlab.__version__


def load_tour(folder: str | Path) -> dict[str, Any]:
    """A tour folder's ``tour.json``."""
    return json.loads((Path(folder) / TOUR_JSON).read_text(encoding="utf-8"))
