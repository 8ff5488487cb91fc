"""What a tour section produces, what the whole tour produces, and what every section is given.

A section is a function ``(Context) -> Section``: it runs one part of the tutorial with
trainlab's public API, writes whatever run or study directories it makes under the tour's
folder, and returns the numbers, figures and tables the report shows. The numbers the tests
check against the tutorial are in ``Section.values`` (and ``tour.json``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import trainlab
from trainlab.errors import TrainlabError

ERRORS = "errors.txt"  # in the tour's folder: the traceback of every section or report that failed

if TYPE_CHECKING:
    from matplotlib.figure import Figure as MplFigure


@dataclass
class Figure:
    """A PNG the report shows inline, with its caption: drawn here (``png``) or a file drawn elsewhere (``path``,
    read when the report is written)."""

    title: str
    png: bytes | None = None
    caption: str = ""
    path: Path | None = None

    def data(self) -> bytes | None:
        """The PNG's bytes; None when its file was never written."""
        if self.png is not None:
            return self.png
        return self.path.read_bytes() if self.path is not None and self.path.is_file() else None


@dataclass
class Table:
    """A table of plain cells (text or numbers; the report escapes them)."""

    head: list[str]
    rows: list[list[Any]]
    caption: str = ""


@dataclass
class Compared:
    """One number as the tutorial had it and as trainlab has it.

    Attributes:
        what: the quantity.
        tutorial: the tutorial's value (text; "–" when it printed none).
        trainlab: trainlab's value.
        verdict: ``same`` (agrees: within the stated tolerance, or inside the interval over seeds),
            ``fixed`` (the tutorial was wrong or crashed), ``differs`` (expected to differ; ``note`` says
            why) or ``new`` (the tutorial had no such number).
        note: why they differ, or what the number means.
    """

    what: str
    tutorial: str
    trainlab: str
    verdict: str = "same"
    note: str = ""


@dataclass
class Section:
    """One section's results.

    Attributes:
        number: the tutorial's section number (1-11).
        title: its title.
        line: the terminal line: what ran and the key number.
        story: one paragraph: what the tutorial did and what was wrong with it.
        compared: the tutorial's numbers beside trainlab's.
        figures: PNG figures, shown in order.
        tables: further tables.
        notes: short paragraphs after the figures (how many seeds, what changed the conclusion).
        links: ``(label, path relative to the tour folder)`` of the run and study directories made.
        findings: a run's written diagnosis (``summary.json``'s ``diagnosis``), when the section shows one.
        drawings: the run and study reports it asked for (``(kind, folder)``; see :class:`Context`).
        values: the numbers the tests check (plain JSON values).
        runs: training runs made (models trained from scratch).
        tutorial_seconds: what the tutorial's code took for this section, when known.
        seconds: what this section took here (filled in by the tour).
        error: the exception, when the section failed (filled in by the tour).
    """

    number: int
    title: str
    line: str = ""
    story: str = ""
    compared: list[Compared] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    links: list[tuple[str, str]] = field(default_factory=list)
    findings: list[dict[str, Any]] | None = None
    drawings: list[tuple[str, str]] = field(default_factory=list)
    values: dict[str, Any] = field(default_factory=dict)
    runs: int = 0
    tutorial_seconds: float | None = None
    seconds: float = 0.0
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The section for ``tour.json``: everything but the figures' pixels."""
        return {
            "number": self.number, "title": self.title, "line": self.line, "seconds": self.seconds,
            "tutorial_seconds": self.tutorial_seconds, "runs": self.runs, "error": self.error,
            "values": self.values, "links": [{"label": label, "path": path} for label, path in self.links],
            "compared": [vars(c) for c in self.compared], "findings": self.findings,
            "figures": [f.title for f in self.figures],
        }


@dataclass
class Tour:
    """A finished tour.

    Attributes:
        dir: the tour's folder: ``report.html``, ``tour.json`` and a folder per section that trained.
        report: the path of ``report.html``.
        sections: each section's results, in order.
        seconds: the whole tour's wall time, starting TensorFlow and drawing the reports included.
        quick: whether it was a quick tour.
        startup_seconds: the time it took to import and start TensorFlow (imported once and shared by the
            workers, each starting its own runtime).
        workers: how many sections ran at a time (0: all in this process).
    """

    dir: Path
    report: Path
    sections: list[Section]
    seconds: float
    quick: bool
    startup_seconds: float = 0.0
    workers: int = 0

    @property
    def failed(self) -> list[Section]:
        """The sections that raised an error."""
        return [s for s in self.sections if s.error is not None]

    def section(self, number: int) -> Section:
        """The results of section ``number``."""
        return next(s for s in self.sections if s.number == number)


@dataclass(frozen=True)
class Context:
    """What every section is given.

    Attributes:
        out: the tour's folder; each section writes under it (``04-basic/``, ...).
        quick: fewer epochs, seeds and samples, the same code paths.
        examples: the ``examples/`` folder of the trainlab clone (the recipes and studies the tour runs).
        mnist: a local Keras-format ``mnist.npz`` for section 8, or None (scikit-learn's digits).
        drawings: the run and study directories whose figures and report are still to be drawn, as
            ``(kind, folder)``; the tour draws them in another process (they read records only).
    """

    out: Path
    quick: bool
    examples: Path
    mnist: Path | None = None
    drawings: list[tuple[str, str]] = field(default_factory=list)

    @property
    def errors(self) -> Path:
        """Where a failed section's or report's traceback is appended."""
        return self.out / ERRORS

    def draw_run(self, folder: Path) -> None:
        """Ask for a run directory's figures and ``report.html``, as ``trainlab run`` writes them."""
        self.drawings.append(("run", str(folder)))

    def draw_study(self, folder: Path) -> None:
        """Ask for a study directory's figures and ``report.html``, as ``trainlab study`` writes them."""
        self.drawings.append(("study", str(folder)))

    def recipe(self, name: str) -> Path:
        """An example recipe or study (``basic.yaml``, ``studies/regularization.yaml``)."""
        return self.examples / name

    def folder(self, name: str) -> Path:
        """A new folder for a run or study under the tour's folder."""
        return self.out / name


def find_examples(start: Path | None = None) -> Path:
    """The ``examples/`` folder of the trainlab clone: beside ``src/`` (an install from a clone), else in the
    current folder.

    Raises:
        TrainlabError: neither exists (trainlab installed from a wheel, run outside a clone).
    """
    candidates = [Path(trainlab.__file__).resolve().parents[2] / "examples", (start or Path.cwd()) / "examples"]
    for folder in candidates:
        if (folder / "basic.yaml").is_file() and (folder / "studies").is_dir():
            return folder
    raise TrainlabError(
        "examples", "the tour runs the recipes in a trainlab clone's examples/ folder; none found beside the "
        "installed package or in the current folder (run it from a clone)", str(candidates[-1]))


def png(figure: MplFigure) -> bytes:
    """A matplotlib figure rendered by Agg as PNG bytes (no display, no pyplot state)."""
    from trainlab.monitor.axes import png_bytes  # here: matplotlib loads only when a figure is drawn

    return png_bytes(figure)


def png_file(path: Path, title: str, caption: str = "") -> list[Figure]:
    """A PNG file as a report figure; the file may still be being drawn (it is read when the report is written)."""
    return [Figure(title, caption=caption, path=path)]


def num(value: Any, digits: int = 4) -> str:
    """A number for a table: ``digits`` significant digits; ``–`` for none."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return f"{float(value):.{digits}g}"


def interval(low: Any, high: Any) -> str:
    """``[low, high]`` with 3 significant digits, or ``–``."""
    if not all(isinstance(v, (int, float)) and math.isfinite(v) for v in (low, high)):
        return "–"
    return f"[{low:.3g}, {high:.3g}]"


def seconds(value: float) -> str:
    return f"{value:.1f} s" if value >= 0.95 else f"{value * 1000:.0f} ms"


def relative(ctx: Context, path: Path) -> str:
    """``path`` relative to the tour's folder, for links in the report."""
    return Path(path).resolve().relative_to(ctx.out.resolve()).as_posix()
