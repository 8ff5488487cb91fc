"""Optimizers raced on analytic test functions (tutorial section 2), in one compiled program.

Each optimizer (any registered name, built by :func:`trainlab.optimizers.build`) minimizes
each test function from the same start with the same learning rate; the loss is recorded
at every step. All (optimizer, function) pairs step together inside one ``tf.function``,
so the race is one graph call, not ``steps x pairs`` eager ones.

The test functions, each with its minimum value 0:

- ``quadratic``: ``sum((x - 2)^2)`` from ``(0, 0)``; minimum at ``(2, 2)`` (the tutorial's).
  Plain gradient descent has the closed form ``x_t = 2 - 2 (1 - 2 lr)^t`` per coordinate,
  so ``f(x_t) = 8 (1 - 2 lr)^(2t)``.
- ``rosenbrock``: ``(1 - x)^2 + 100 (y - x^2)^2`` from ``(-1.5, 2)``; minimum at ``(1, 1)``
  at the end of a long curved valley.
- ``ill_conditioned``: ``0.5 (p - m)^T A (p - m)`` with ``m = (1, 1)`` and ``A`` having
  eigenvalues 5 along ``(1, 1)`` and 0.05 along ``(1, -1)`` (condition number 100), from
  ``(3, 1)``; minimum at ``(1, 1)``. A step size that suits the steep direction crawls
  along the shallow one.
- ``beale``: ``(1.5 - x + xy)^2 + (2.25 - x + xy^2)^2 + (2.625 - x + xy^3)^2`` from
  ``(1, 1)``; minimum at ``(3, 0.5)``, with steep walls where ``|y| > 1``.

Example:
    >>> result = race(["sgd", "adam"], ["quadratic"], steps=50, learning_rate=0.1)
    >>> result.steps_to_tol[("sgd", "quadratic")]
    21
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import tensorflow as tf

from trainlab import checks
from trainlab import rundir
from trainlab.errors import ArgumentError, TrainlabError, did_you_mean
from trainlab.optimizers import build as build_optimizer
from trainlab.optimizers import registry as optimizer_registry

if TYPE_CHECKING:  # matplotlib is imported when a figure is drawn, not by every `import trainlab.optimizers`
    from matplotlib.figure import Figure

DEFAULT_OPTIMIZERS = ("sgd", "momentum", "adam", "rmsprop", "adagrad")
DEFAULT_FUNCTIONS = ("quadratic", "rosenbrock", "ill_conditioned", "beale")

# Losses at or below this are drawn at it: a log axis cannot show 0, which float32 reaches.
PLOT_FLOOR = 1e-12


@dataclass(frozen=True)
class TestFunction:
    """An analytic function of a point, with a known minimum, to race optimizers on.

    Attributes:
        name: its name in the race (``quadratic``).
        fn: the function of a float32 vector tensor, returning a scalar tensor; built into the race's graph as
            written (no AutoGraph, as in Keras' own steps): branch with ``tf.where`` or ``tf.cond``.
        start: the starting point.
        minimizer: where the minimum is.
        minimum: the value there.
        formula: the function in words, for titles and records.
    """

    __test__ = False  # not a pytest test class, despite the name

    name: str
    fn: Callable[[tf.Tensor], tf.Tensor]
    start: tuple[float, ...]
    minimizer: tuple[float, ...]
    minimum: float = 0.0
    formula: str = ""


def _quadratic(p: tf.Tensor) -> tf.Tensor:
    return tf.reduce_sum(tf.square(p - 2.0))


def _rosenbrock(p: tf.Tensor) -> tf.Tensor:
    x, y = p[0], p[1]
    return tf.square(1.0 - x) + 100.0 * tf.square(y - tf.square(x))


def _ill_conditioned_matrix() -> np.ndarray:
    c = math.sqrt(0.5)
    rotation = np.array([[c, -c], [c, c]])  # columns: the directions (1, 1) and (-1, 1)
    return (rotation @ np.diag([5.0, 0.05]) @ rotation.T).astype(np.float32)


_A = _ill_conditioned_matrix()


def _ill_conditioned(p: tf.Tensor) -> tf.Tensor:
    d = p - 1.0
    return 0.5 * tf.reduce_sum(d * tf.linalg.matvec(tf.constant(_A), d))


def _beale(p: tf.Tensor) -> tf.Tensor:
    x, y = p[0], p[1]
    return (
        tf.square(1.5 - x + x * y) + tf.square(2.25 - x + x * tf.square(y)) + tf.square(2.625 - x + x * y**3)
    )


FUNCTIONS: dict[str, TestFunction] = {
    f.name: f
    for f in (
        TestFunction("quadratic", _quadratic, (0.0, 0.0), (2.0, 2.0), formula="sum((x - 2)^2)"),
        TestFunction(
            "rosenbrock", _rosenbrock, (-1.5, 2.0), (1.0, 1.0), formula="(1 - x)^2 + 100 (y - x^2)^2"
        ),
        TestFunction(
            "ill_conditioned", _ill_conditioned, (3.0, 1.0), (1.0, 1.0),
            formula="0.5 (p - m)^T A (p - m), eigenvalues 5 and 0.05",
        ),
        TestFunction(
            "beale", _beale, (1.0, 1.0), (3.0, 0.5),
            formula="(1.5 - x + xy)^2 + (2.25 - x + xy^2)^2 + (2.625 - x + xy^3)^2",
        ),
    )
}

Pair = tuple[str, str]


@dataclass
class RaceResult:
    """What a race recorded.

    Attributes:
        optimizers: the optimizers' labels, in race order (their names, or ``name(k=v)`` for a mapping).
        functions: the test functions, in race order.
        steps: optimizer steps per pair.
        learning_rate: the learning rate every optimizer got (unless its mapping set one).
        tol: the loss a pair must get below to count as having reached the minimum.
        losses: per ``(optimizer, function)``, ``steps + 1`` losses: ``f(x_t)`` for ``t = 0 .. steps``
            (``x_0`` the start, ``x_t`` the point after ``t`` steps).
        final_x: per pair, the point after the last step.
    """

    optimizers: list[str]
    functions: list[TestFunction]
    steps: int
    learning_rate: float
    tol: float
    losses: dict[Pair, np.ndarray]
    final_x: dict[Pair, np.ndarray] = field(default_factory=dict)

    @property
    def steps_to_tol(self) -> dict[Pair, int | None]:
        """Per pair, the first step count ``t`` with ``f(x_t) - minimum < tol``, or None if never."""
        out = {}
        for (opt, name), losses in self.losses.items():
            gap = losses - self._function(name).minimum
            hit = np.flatnonzero(np.isfinite(gap) & (gap < self.tol))
            out[(opt, name)] = int(hit[0]) if len(hit) else None
        return out

    @property
    def final_loss(self) -> dict[Pair, float]:
        """Per pair, the loss after the last step (NaN or inf when it diverged)."""
        return {pair: float(losses[-1]) for pair, losses in self.losses.items()}

    @property
    def diverged_at(self) -> dict[Pair, int | None]:
        """Per pair, the first step count whose loss is NaN or infinite, or None."""
        out = {}
        for pair, losses in self.losses.items():
            bad = np.flatnonzero(~np.isfinite(losses))
            out[pair] = int(bad[0]) if len(bad) else None
        return out

    def _function(self, name: str) -> TestFunction:
        return next(f for f in self.functions if f.name == name)

    def rows(self) -> list[dict[str, Any]]:
        """One row per pair: ``optimizer``, ``function``, ``steps_to_tol``, ``final_loss``, ``diverged_at``."""
        to_tol, final, diverged = self.steps_to_tol, self.final_loss, self.diverged_at
        return [
            {"optimizer": opt, "function": f.name, "steps_to_tol": to_tol[(opt, f.name)],
             "final_loss": final[(opt, f.name)], "diverged_at": diverged[(opt, f.name)]}
            for f in self.functions for opt in self.optimizers
        ]

    def table(self) -> Any:
        """A ``rich`` table: per function and optimizer, steps to reach ``tol`` and the final loss."""
        from rich.table import Table

        title = f"{self.steps} steps at learning rate {self.learning_rate:g}: steps until loss < {self.tol:g}"
        table = Table(title=title)
        table.add_column("function")
        table.add_column("optimizer")
        table.add_column(f"steps to < {self.tol:g}", justify="right")
        table.add_column("final loss", justify="right")
        last = None
        for row in self.rows():
            if row["steps_to_tol"] is not None:
                reached = str(row["steps_to_tol"])
            elif row["diverged_at"] is not None:
                reached = f"diverged (step {row['diverged_at']})"
            else:
                reached = "not reached"
            table.add_row(row["function"] if row["function"] != last else "", row["optimizer"], reached,
                          f"{row['final_loss']:.3e}", end_section=False)
            last = row["function"]
        return table

    def figure(self) -> Figure:
        """One panel per function: each optimizer's loss per step, on a log y-axis."""
        from matplotlib.figure import Figure

        n = len(self.functions)
        cols = min(n, 2)
        rows = -(-n // cols)
        figure = Figure(figsize=(6.0 * cols, 4.2 * rows), dpi=100, layout="constrained")
        axes = figure.subplots(rows, cols, squeeze=False).ravel()
        steps = np.arange(self.steps + 1)
        to_tol, diverged = self.steps_to_tol, self.diverged_at
        for ax, function in zip(axes, self.functions):
            tops, lows = [], [self.tol]
            for i, opt in enumerate(self.optimizers):
                gap = self.losses[(opt, function.name)] - function.minimum
                label = opt
                if diverged[(opt, function.name)] is not None:
                    label += f" (diverged at step {diverged[(opt, function.name)]})"
                elif to_tol[(opt, function.name)] is not None:
                    label += f" (< tol at step {to_tol[(opt, function.name)]})"
                keep = np.isfinite(gap)
                color = f"C{i % 10}"
                ax.plot(steps[keep], np.maximum(gap[keep], PLOT_FLOOR), color=color, lw=1.6, label=label)
                if not keep.all() and keep.any():  # mark where the curve leaves the finite numbers
                    last = np.flatnonzero(keep)[-1]
                    ax.plot([steps[last]], [max(gap[last], PLOT_FLOOR)], "x", color=color, ms=8, mew=2)
                tops.append(gap[0])
                lows.append(np.min(gap[keep], initial=np.inf))
            ax.set_yscale("log")
            # A diverging run shoots to 1e30 and beyond: keep the panel on the scale of the starts and tol.
            finite = [t for t in tops if np.isfinite(t) and t > 0] or [1.0]
            ax.set_ylim(max(min(lows), PLOT_FLOOR) / 3, max(finite) * 30)
            ax.axhline(self.tol, color="gray", lw=0.8, ls="--")
            ax.text(self.steps, self.tol, f"tol {self.tol:g} ", color="gray", va="bottom", ha="right", fontsize=8,
                    clip_on=True)
            start = ", ".join(f"{v:g}" for v in function.start)
            best = ", ".join(f"{v:g}" for v in function.minimizer)
            ax.set_title(f"{function.name}: from ({start}), minimum at ({best})", fontsize=10)
            ax.set_xlabel("step")
            ax.set_ylabel("loss" if function.minimum == 0 else "loss - minimum")
            ax.set_xlim(0, self.steps)
            ax.grid(True, which="major", alpha=0.3)
            ax.legend(fontsize=8, loc="best")
        for ax in axes[n:]:
            ax.set_visible(False)
        figure.suptitle(f"Optimizers raced: {self.steps} steps, learning rate {self.learning_rate:g}")
        return figure

    def to_dict(self) -> dict[str, Any]:
        """The race as plain data (settings, functions, per-pair results and losses), for ``race.json``."""
        return {
            "steps": self.steps,
            "learning_rate": self.learning_rate,
            "tol": self.tol,
            "optimizers": list(self.optimizers),
            "functions": [
                {"name": f.name, "formula": f.formula, "start": list(f.start), "minimizer": list(f.minimizer),
                 "minimum": f.minimum}
                for f in self.functions
            ],
            "results": [
                {**row, "final_x": [float(v) for v in self.final_x.get((row["optimizer"], row["function"]), [])],
                 "losses": [float(v) for v in self.losses[(row["optimizer"], row["function"])]]}
                for row in self.rows()
            ],
        }

    def save(self, out: str | Path | None = None) -> Path:
        """Write ``race.png`` and ``race.json`` into ``out`` (new or empty; default ``runs/race-<timestamp>``).

        Returns:
            The folder written.

        Raises:
            TrainlabError: ``out`` is a file or a folder that holds files.
        """
        folder = rundir.new_run_dir("race", out)
        save_png(self.figure(), folder / "race.png")
        rundir.write_json(folder / "race.json", self.to_dict())
        return folder


def race(
    optimizers: Sequence[str | Mapping[str, Any]] = DEFAULT_OPTIMIZERS,
    functions: Sequence[str | TestFunction] = DEFAULT_FUNCTIONS,
    steps: int = 50,
    learning_rate: float = 0.1,
    tol: float = 1e-3,
) -> RaceResult:
    """Race optimizers on analytic test functions, every pair in one compiled program.

    Args:
        optimizers: registered optimizer names (``"adam"``, ``"nadam"``, ``"momentum"`` is SGD
            with momentum 0.9) or mappings for :func:`trainlab.optimizers.build`
            (``{"name": "sgd", "momentum": 0.5}``), each given ``learning_rate`` unless it sets one.
        functions: names from :data:`FUNCTIONS` (``quadratic``, ``rosenbrock``,
            ``ill_conditioned``, ``beale``) or your own :class:`TestFunction` objects.
        steps: optimizer steps on each function (>= 1).
        learning_rate: the learning rate (> 0).
        tol: a pair has reached the minimum once ``f(x_t) - minimum < tol`` (> 0).

    Returns:
        A :class:`RaceResult`: losses per pair and step, steps to ``tol``, a figure.

    Raises:
        TrainlabError: an unknown optimizer or function name (with the valid ones), a bad
            optimizer argument, or a bad number (``steps: must be an integer >= 1, got 0``).

    Example:
        >>> result = race(["sgd", "momentum", "adam"], ["quadratic", "rosenbrock"], steps=200)
        >>> result.figure()  # one panel per function, loss per step on a log axis
    """
    _check_numbers(steps, learning_rate, tol)
    specs = _optimizer_specs(optimizers, learning_rate)
    chosen = _functions(functions)
    pairs = []
    for label, spec, where in specs:
        for function in chosen:
            optimizer = build_optimizer(spec, where=where)
            point = tf.Variable(np.asarray(function.start, np.float32), name=f"x_{function.name}")
            optimizer.build([point])
            pairs.append((label, function, point, optimizer))
    losses = _run(pairs, int(steps))
    return RaceResult(
        optimizers=[label for label, _, _ in specs],
        functions=chosen,
        steps=int(steps),
        learning_rate=float(learning_rate),
        tol=float(tol),
        losses={(label, f.name): loss for (label, f, _, _), loss in zip(pairs, losses)},
        final_x={(label, f.name): point.numpy() for label, f, point, _ in pairs},
    )


def _run(pairs: list, steps: int) -> list[np.ndarray]:
    """Every pair's ``steps + 1`` losses, all pairs stepping together in one ``tf.function``.

    Built as written, without AutoGraph (as Keras builds its own steps): an explicit loop over the
    steps, and each function and optimizer called as they are (AutoGraph's rewriting of them was
    most of the tracing).
    """

    def step(t: tf.Tensor, records: tuple) -> tuple:
        written = []
        for (_, function, point, optimizer), record in zip(pairs, records):
            with tf.GradientTape() as tape:
                loss = function.fn(point)
            optimizer.apply(tape.gradient(loss, [point]), [point])
            written.append(record.write(t, loss))  # f(x_t): the loss at the point this step starts from
        return t + 1, tuple(written)

    @tf.function(autograph=False)
    def run_all() -> list[tf.Tensor]:
        records = tuple(tf.TensorArray(tf.float32, size=steps + 1) for _ in pairs)
        _, records = tf.while_loop(lambda t, _: t < steps, step, (tf.constant(0), records))
        return [
            record.write(steps, function.fn(point)).stack() for (_, function, point, _), record in zip(pairs, records)
        ]

    return [r.numpy().astype(np.float64) for r in run_all()]


def _check_numbers(steps: Any, learning_rate: Any, tol: Any) -> None:
    try:
        checks.require(isinstance(steps, (int, np.integer)) and not isinstance(steps, bool) and steps >= 1,
                       "steps", "must be an integer >= 1", steps)
        checks.positive(learning_rate, "learning_rate")
        checks.require(math.isfinite(learning_rate), "learning_rate", "must be finite", learning_rate)
        checks.positive(tol, "tol")
    except ArgumentError as exc:
        raise TrainlabError(exc.argument, exc.rule, exc.value) from None


def _optimizer_specs(
    optimizers: Sequence[str | Mapping[str, Any]], learning_rate: float
) -> list[tuple[str, dict[str, Any], str]]:
    """``(label, spec with the learning rate, key path for errors)`` per optimizer; labels are unique."""
    if isinstance(optimizers, (str, Mapping)) or not optimizers:
        raise TrainlabError("optimizers", "must be a non-empty list of optimizer names or mappings", optimizers)
    out, seen = [], set()
    for i, spec in enumerate(optimizers):
        where = f"optimizers[{i}]"
        if isinstance(spec, str):
            optimizer_registry.canonical(spec, where)  # an unknown name is named as given, not as "...name"
            label, spec = spec, {"name": spec}
        elif isinstance(spec, Mapping) and "name" in spec:
            args = ", ".join(f"{k}={v}" for k, v in spec.items() if k != "name")
            label, spec = (f"{spec['name']}({args})" if args else str(spec["name"])), dict(spec)
        else:
            raise TrainlabError(where, "must be an optimizer name or a mapping with 'name'", spec)
        if label in seen:
            raise TrainlabError("optimizers", "must not name the same optimizer twice", label)
        seen.add(label)
        build_optimizer({"learning_rate": learning_rate, **spec}, where=where)  # fail on a bad name before tracing
        out.append((label, {"learning_rate": learning_rate, **spec}, where))
    return out


def _functions(functions: Sequence[str | TestFunction]) -> list[TestFunction]:
    if isinstance(functions, (str, TestFunction)) or not functions:
        raise TrainlabError("functions", "must be a non-empty list of test function names", functions)
    chosen = []
    for f in functions:
        if isinstance(f, TestFunction):
            chosen.append(f)
        elif isinstance(f, str) and f.strip().lower().replace("-", "_") in FUNCTIONS:
            chosen.append(FUNCTIONS[f.strip().lower().replace("-", "_")])
        else:
            raise TrainlabError(
                "functions",
                f"unknown test function{did_you_mean(str(f), FUNCTIONS)}; valid names: {', '.join(FUNCTIONS)}", f,
            )
    names = [f.name for f in chosen]
    duplicated = next((n for n in names if names.count(n) > 1), None)
    if duplicated is not None:
        raise TrainlabError("functions", "must not name the same function twice", duplicated)
    return chosen


def save_png(figure: Figure, path: Path) -> Path:
    """Render ``figure`` with Agg into ``path``, whole or not at all."""
    from trainlab.monitor.axes import save  # here: matplotlib loads only when a figure is drawn

    return save(figure, path)


__all__ = ["DEFAULT_FUNCTIONS", "DEFAULT_OPTIMIZERS", "FUNCTIONS", "RaceResult", "TestFunction", "race", "save_png"]
