"""Learning-rate schedules drawn before training (tutorial section 3), alone or over a recipe's real run.

``plot(specs, steps)`` draws one panel per schedule, the rate at each optimizer step, as the
tutorial's section 3 does. ``recipe_schedule(recipe)`` evaluates a recipe's schedule over the
steps its run will take (epochs x steps per epoch, from the recipe's data and batch size), so a
``decay_steps`` written in epochs where the schedule counts steps shows before any training:
the rate is gone after a few epochs, or the run ends long before the decay does.

Example:
    >>> figure = plot([{"name": "cosine", "initial_learning_rate": 0.1, "decay_steps": 1000}], steps=500)
    >>> recipe_schedule("examples/advanced.yaml", ["training.epochs=20"]).note
    'falls from 0.001 to 0.000665 (66.5% of its start) by the end of the run (step 1000, epoch 20)'
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import keras
import numpy as np
import tensorflow as tf
import yaml

from trainlab import data as tl_data
from trainlab.config.loading import load_yaml
from trainlab.errors import TrainlabError
from trainlab.schedules import OneCycle, PerEpoch, WarmupCosineDecay, build, evaluate, registry
from trainlab.training import load_recipe, sanity

if TYPE_CHECKING:  # matplotlib is imported when a figure is drawn
    from matplotlib.figure import Figure

_keras_schedules = keras.optimizers.schedules

# What a bare name plots: the tutorial's section 3 examples (and one for each schedule it lacks).
EXAMPLES: dict[str, dict[str, Any]] = {
    "exponential": {"name": "exponential", "initial_learning_rate": 0.1, "decay_steps": 100, "decay_rate": 0.96,
                    "staircase": True},
    "polynomial": {"name": "polynomial", "initial_learning_rate": 0.1, "decay_steps": 1000,
                   "end_learning_rate": 0.01, "power": 0.5},
    "piecewise": {"name": "piecewise", "boundaries": [100, 200, 300], "values": [0.1, 0.05, 0.01, 0.005]},
    "cosine": {"name": "cosine", "initial_learning_rate": 0.1, "decay_steps": 1000},
    "warmup_cosine": {"name": "warmup_cosine", "initial_learning_rate": 0.001, "warmup_steps": 100,
                      "total_steps": 1000, "min_learning_rate": 0.0001},
    "one_cycle": {"name": "one_cycle", "max_learning_rate": 0.1, "total_steps": 500},
    "constant": {"name": "constant", "learning_rate": 0.1},
}

# With no spec at all: the five schedules of the tutorial's section 3.
TUTORIAL = ("exponential", "polynomial", "piecewise", "cosine", "warmup_cosine")

# A schedule that settles (or falls below 1% of its start) within this fraction of the run
# probably counts steps where its author meant epochs.
EARLY = 0.1


@dataclass
class Curve:
    """One schedule evaluated over steps: what one panel draws.

    Attributes:
        label: the spec as text (``exponential(initial_learning_rate=0.1, ...)``).
        steps: the optimizer steps ``0 .. n-1`` (the schedule's argument).
        rates: the learning rate at each step.
    """

    label: str
    steps: np.ndarray
    rates: np.ndarray


def parse_spec(text: str, where: str = "spec") -> str | dict[str, Any]:
    """Read a schedule spec from the command line: a bare name or a YAML/JSON flow mapping.

    Args:
        text: ``cosine`` or ``'{name: cosine, initial_learning_rate: 0.1, decay_steps: 1000}'``.
        where: the name of the argument, for error messages.

    Returns:
        The name, or the mapping.

    Raises:
        TrainlabError: not valid YAML, or neither a name nor a mapping.

    Example:
        >>> parse_spec("{name: cosine, initial_learning_rate: 0.1, decay_steps: 1000}")
        {'name': 'cosine', 'initial_learning_rate': 0.1, 'decay_steps': 1000}
    """
    try:
        spec = load_yaml(text)
    except yaml.YAMLError as exc:
        problem = getattr(exc, "problem", None) or "syntax error"
        raise TrainlabError(where, f"is not valid YAML ({problem})", text) from None
    if not isinstance(spec, (str, dict)):
        raise TrainlabError(where, "must be a schedule name or a mapping like '{name: cosine, ...}'", text)
    return spec


def curves(specs: Sequence[Any] | None = None, steps: int = 500) -> list[Curve]:
    """Evaluate each schedule at steps ``0 .. steps-1``.

    Args:
        specs: schedule mappings (as in a recipe's ``optimizer.learning_rate``), schedules, or bare
            names, which take the arguments in :data:`EXAMPLES` (the tutorial's section 3);
            None or empty: the tutorial's five (:data:`TUTORIAL`).
        steps: how many steps to evaluate (>= 1).

    Returns:
        One :class:`Curve` per spec.

    Raises:
        TrainlabError: a spec :func:`~trainlab.schedules.build` rejects, named ``specs[i]``
            (``specs[0].decay_steps: must be > 0, got 0``), or a bad ``steps``.
    """
    if not isinstance(steps, (int, np.integer)) or isinstance(steps, bool) or steps < 1:
        raise TrainlabError("steps", "must be an integer >= 1", steps)
    specs = list(specs or TUTORIAL)
    built = []
    for i, spec in enumerate(specs):  # every spec checked before any is evaluated
        where = f"specs[{i}]"
        if isinstance(spec, str):
            spec = EXAMPLES.get(registry.canonical(spec, where), spec)
        built.append((spec, build(spec, where)))
    logger = tf.get_logger()
    level = logger.level
    logger.setLevel("ERROR")  # evaluate() compiles a function per schedule; TF warns of "retracing" after five
    try:
        return [Curve(_label(spec, s), np.arange(int(steps)), evaluate(s, int(steps))) for spec, s in built]
    finally:
        logger.setLevel(level)


def plot(specs: Sequence[Any] | None = None, steps: int = 500) -> Figure:
    """One panel per schedule: the learning rate at each optimizer step ``0 .. steps-1``.

    Args:
        specs: as for :func:`curves` (None: the tutorial's section 3 schedules).
        steps: steps to draw (the tutorial's plots use 500).

    Returns:
        A ``matplotlib.figure.Figure`` (save it with ``figure.savefig("schedules.png")``).

    Raises:
        TrainlabError: as :func:`curves`.

    Example:
        >>> plot(["exponential", "cosine"]).savefig("schedules.png")
    """
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter

    found = curves(specs, steps)
    cols = min(len(found), 2)
    rows = -(-len(found) // cols)
    figure = Figure(figsize=(6.0 * cols, 3.6 * rows), dpi=100, layout="constrained")
    axes = figure.subplots(rows, cols, squeeze=False).ravel()
    for i, (ax, curve) in enumerate(zip(axes, found)):
        ax.plot(curve.steps, curve.rates, color=f"C{i % 10}", lw=1.8)
        name, _, args = curve.label.partition("(")
        ax.set_title(name + ("\n" + textwrap.fill(args.rstrip(")"), 70) if args else ""), fontsize=9)
        ax.set_xlabel("optimizer step")
        ax.set_ylabel("learning rate")
        ax.set_xlim(0, curve.steps[-1] if len(curve.steps) > 1 else 1)
        ax.set_ylim(bottom=0, top=float(np.max(curve.rates)) * 1.08 or 1.0)
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.grid(True, alpha=0.3)
        ax.text(0.98, 0.95, f"step 0: {curve.rates[0]:.4g}\nstep {curve.steps[-1]}: {curve.rates[-1]:.4g}",
                transform=ax.transAxes, ha="right", va="top", fontsize=8,
                bbox={"boxstyle": "round", "fc": "white", "ec": "0.8"})
    for ax in axes[len(found):]:
        ax.set_visible(False)
    figure.suptitle(f"Learning-rate schedules over {steps} optimizer steps")
    return figure


@dataclass
class RecipeSchedule:
    """A recipe's learning rate over the steps its run will take.

    Attributes:
        name: the recipe's name.
        spec: ``optimizer.learning_rate`` as written (a number or a schedule mapping).
        steps_per_epoch: optimizer steps per epoch, ``ceil(training samples / batch_size)``.
        epochs: ``training.epochs``.
        rates: the rate of each step of the run; ``rates[s - 1]`` is step ``s`` (1-based, as in
            ``steps.csv``), the schedule at optimizer step ``s - 1``.
        marker: ``(step, label)``: the run step worth marking (where the schedule reaches its
            final value, or where a decay without end falls below 1% of its start), or None.
        note: what the schedule does over the run, in words, with a warning when it looks like
            steps were meant as epochs or the run ends before the schedule does.
        caveats: what may change the rate during the run and is not drawn (reduce-on-plateau,
            early stopping).
        log_scale: draw the rate on a log axis (a decay without end, over more than 100x).
    """

    name: str
    spec: Any
    steps_per_epoch: int
    epochs: int
    rates: np.ndarray
    marker: tuple[int, str] | None
    note: str
    caveats: list[str] = field(default_factory=list)
    log_scale: bool = False

    @property
    def total_steps(self) -> int:
        return self.steps_per_epoch * self.epochs

    def figure(self) -> Figure:
        """The rate at each step of the run, epoch boundaries marked, the note above the panel."""
        from matplotlib.figure import Figure

        figure = Figure(figsize=(11.0, 4.8), dpi=100, layout="constrained")
        ax = figure.subplots()
        steps = np.arange(1, self.total_steps + 1)
        ax.plot(steps, self.rates, color="C0", lw=1.8, drawstyle="steps-post" if self.total_steps <= 200 else None)
        spe = self.steps_per_epoch
        every = max(1, math.ceil(self.epochs / 50))  # at most ~50 boundary lines
        for epoch in range(every, self.epochs, every):
            ax.axvline(epoch * spe + 0.5, color="0.85", lw=0.8, zorder=0)
        top = ax.secondary_xaxis("top", functions=(lambda s: s / spe, lambda e: e * spe))
        top.set_xlabel("epoch")
        if self.marker is not None:
            step, label = self.marker
            ax.axvline(step, color="tab:red", ls="--", lw=1.2)
            ax.annotate(label, (step, 0.5), xycoords=("data", "axes fraction"), xytext=(6, 0),
                        textcoords="offset points", color="tab:red", fontsize=8)
        if self.log_scale:
            ax.set_yscale("log")  # an exponential decay over many steps: only a log axis shows its tail
        else:
            ax.set_ylim(bottom=0, top=float(self.rates.max()) * 1.08 or 1.0)
        ax.set_xlim(0.5, self.total_steps + 0.5)
        ax.set_xlabel("step of the run (as in steps.csv)")
        ax.set_ylabel("learning rate")
        ax.grid(True, axis="y", alpha=0.3)
        text = "\n".join(textwrap.fill(line, 130) for line in [self.note, *self.caveats])
        ax.set_title(text, fontsize=9, loc="left")
        figure.suptitle(
            f"{self.name}: learning rate over the run, {self.epochs} epochs x {spe} steps = {self.total_steps} steps"
        )
        return figure


def recipe_schedule(
    recipe: str | Path | Mapping[str, Any] | Any, overrides: Mapping[str, Any] | Sequence[str] | None = None
) -> RecipeSchedule:
    """A recipe's learning rate at every step of its run, and what it means, in words.

    The run takes ``training.epochs`` x ``ceil(training samples / batch_size)`` steps; the data
    are loaded (and split) as the run would, to count the training samples.

    Args:
        recipe: a YAML path, a mapping shaped like the YAML, or a :class:`~trainlab.Recipe`.
        overrides: ``{"training.epochs": 5}`` or ``["training.epochs=5"]``.

    Returns:
        A :class:`RecipeSchedule` (``.figure()`` draws it, ``.note`` says what it does).

    Raises:
        TrainlabError: the recipe or its data is wrong (as ``trainlab check`` or ``run`` would say).

    Example:
        >>> recipe_schedule("examples/advanced.yaml", ["training.epochs=20"]).note
        'falls from 0.001 to 0.000665 (66.5% of its start) by the end of the run (step 1000, epoch 20)'
    """
    recipe_obj, base_dir, name = load_recipe(recipe, overrides)
    recipe_obj = sanity.resolve(recipe_obj)  # a fast dev run's epochs and limits
    training = recipe_obj.training
    splits = tl_data.load(recipe_obj.data, seed=recipe_obj.seed, base_dir=base_dir)
    n_train = len(splits.x_train)
    if training.batch_size > n_train:
        raise TrainlabError(
            "training.batch_size", f"must be <= the training set size ({n_train} samples)", training.batch_size
        )
    spe = sanity.epoch_steps(training, n_train)  # limit_train_batches and overfit_batches shorten epochs
    total = spe * training.epochs
    spec = recipe_obj.optimizer.learning_rate
    schedule = build(spec, "optimizer.learning_rate", steps_per_epoch=spe) if isinstance(spec, Mapping) else None
    rates = evaluate(schedule, total) if schedule is not None else np.full(total, float(spec), np.float32)
    note, marker = _describe(rates, schedule, spec, spe, training.epochs)
    caveats = []
    if training.reduce_lr_on_plateau is not None:
        caveats.append("training.reduce_lr_on_plateau may lower the rate further during the run (not drawn).")
    if training.early_stopping is not None:
        caveats.append("training.early_stopping may end the run before its last step.")
    positive = rates[rates > 0]
    log_scale = (
        schedule is not None and _horizon(schedule)[0] == "never"
        and len(positive) > 0 and float(positive.max() / positive.min()) > 100
    )
    return RecipeSchedule(name, spec, spe, training.epochs, rates, marker, note, caveats, log_scale)


# ---------------------------------------------------------------------------- helpers
def _label(spec: Any, schedule: Any) -> str:
    if isinstance(spec, Mapping):
        args = ", ".join(f"{k}={v}" for k, v in spec.items() if k != "name")
        return f"{spec['name']}({args})"
    return type(schedule).__name__


def _horizon(schedule: Any) -> tuple[str, int | None, str]:
    """How the schedule ends: ``("end", step, argument)`` when it reaches its final value at optimizer
    step ``step`` (set by ``argument``); ``("never", None, "")`` for a decay without end (exponential);
    ``("unknown", None, "")`` for a schedule of unknown kind."""
    if isinstance(schedule, PerEpoch):
        kind, epochs, argument = _horizon(schedule.schedule)
        return kind, (None if epochs is None else epochs * schedule.steps_per_epoch), argument
    if isinstance(schedule, _keras_schedules.PolynomialDecay):
        return ("never", None, "") if schedule.cycle else ("end", int(schedule.decay_steps), "decay_steps")
    if isinstance(schedule, _keras_schedules.CosineDecay):
        return "end", int(schedule.decay_steps + (schedule.warmup_steps or 0)), "decay_steps"
    if isinstance(schedule, WarmupCosineDecay):
        return "end", int(schedule.total_steps), "total_steps"
    if isinstance(schedule, OneCycle):
        return "end", int(schedule.total_steps) - 1, "total_steps"
    if isinstance(schedule, _keras_schedules.PiecewiseConstantDecay):
        return "end", int(max(schedule.boundaries)) + 1, "boundaries"
    if isinstance(schedule, _keras_schedules.ExponentialDecay):
        return "never", None, ""
    return "unknown", None, ""


def _settles_at(rates: np.ndarray) -> int | None:
    """The 1-based step from which the rate stays at its last value; None if it changes at the last step."""
    final = float(rates[-1])
    moving = np.flatnonzero(np.abs(rates - final) > 1e-6 * max(abs(final), 1e-30))
    if len(moving) == 0:
        return 1
    after = int(moving[-1]) + 2  # the step after the last one that differs
    return after if after <= len(rates) else None


def _describe(
    rates: np.ndarray, schedule: Any, spec: Any, spe: int, epochs: int
) -> tuple[str, tuple[int, str] | None]:
    """What the rate does over the run, in a sentence, and the step worth marking on the plot."""
    total = len(rates)
    first, last = float(rates[0]), float(rates[-1])

    def at(step: int) -> str:
        return f"step {step} = epoch {(step - 1) // spe + 1} of {epochs}"

    if schedule is None or _settles_at(rates) == 1:
        return f"constant learning rate {last:.3g} for all {total} steps", None
    kind, horizon, argument = _horizon(schedule)
    if kind == "unknown":
        settles = _settles_at(rates)
        kind, horizon = ("end", settles - 1) if settles is not None else ("never", None)
    if kind == "end" and horizon is not None and horizon + 1 > total + spe:
        # The schedule's end lies more than an epoch past the run's: the rate never gets there.
        note = (f"the run ends at step {total} (epoch {epochs}) long before the schedule does, at step "
                f"{horizon + 1} ({argument}): the rate only goes from {first:.3g} to {last:.3g}")
        if isinstance(spec, Mapping) and spec.get("unit") == "epoch":
            note += f" - with unit: epoch, {argument} counts epochs; did you mean optimizer steps?"
        return note, None
    if kind == "end" and horizon is not None and horizon + 1 > total:
        return f"the schedule spans the run: from {first:.3g} at step 1 to {last:.3g} at step {total}", None
    if kind == "end" and horizon is not None:
        step = horizon + 1
        note = f"the schedule reaches its final value {last:.3g} at {at(step)}"
        # Finished within the first tenth of the run, or within as many steps as the run has epochs.
        early = 1 < step <= EARLY * total or bool(_small_lengths(spec, epochs))
        note += _epochs_hint(spec, spe, epochs, early)
        return note, (step, f"final value from step {step}\n(epoch {(step - 1) // spe + 1})")
    # No end (exponential decay): say where it ends up, and how soon it is nearly gone.
    direction = "falls" if last < first else "goes"
    ratio = last / first
    share = f"{100 * ratio:.3g}% of its start" if ratio >= 1e-3 else f"{ratio:.2g} times its start"
    note = f"{direction} from {first:.3g} to {last:.3g} ({share}) by the end of the run (step {total}, epoch {epochs})"
    below = np.flatnonzero(rates < 0.01 * first)
    if len(below) == 0:
        return note, None
    step = int(below[0]) + 1
    note += f"; below 1% of its start from {at(step)}"
    # Nearly gone within the first tenth of the run, or before half of it with a decay_steps no
    # larger than the run's epochs (the tutorial's 0.001 * 0.9^epoch, written in steps).
    early = step <= EARLY * total or (step <= total / 2 and bool(_small_lengths(spec, epochs)))
    note += _epochs_hint(spec, spe, epochs, early)
    return note, (step, f"below 1% of the start\nfrom step {step} (epoch {(step - 1) // spe + 1})")


def _epochs_hint(spec: Any, spe: int, epochs: int, early: bool) -> str:
    """A warning that the schedule's step counts look like epochs, or ``""``.

    Given when the schedule counts steps (no ``unit: epoch``), an epoch has more than one step, and
    ``early`` (the caller's evidence: the rate settles within the first tenth of the run, say).
    """
    if not early or not isinstance(spec, Mapping) or spec.get("unit", "step") == "epoch" or spe <= 1:
        return ""
    small = _small_lengths(spec, epochs)
    name, value = next(iter(small.items() or _lengths(spec).items()), (None, None))
    what = f"{name}: {value}" if name is not None else "its step counts"
    return (f" - the schedule counts optimizer steps ({spe} per epoch here); if {what} meant epochs, "
            "add unit: epoch to optimizer.learning_rate")


def _lengths(spec: Any) -> dict[str, Any]:
    """The spec's arguments that count steps: ``decay_steps``, ``total_steps``, the last of ``boundaries``."""
    if not isinstance(spec, Mapping):
        return {}
    return {k: (max(v) if isinstance(v, (list, tuple)) and v else v)
            for k, v in spec.items() if k in ("decay_steps", "total_steps", "boundaries")}


def _small_lengths(spec: Any, epochs: int) -> dict[str, Any]:
    """Those of :func:`_lengths` no larger than the run's number of epochs: a number of epochs, likely."""
    return {k: v for k, v in _lengths(spec).items() if isinstance(v, (int, float)) and v <= epochs}


def save_png(figure: Figure, path: str | Path) -> Path:
    """Render ``figure`` with Agg into ``path`` (format from the suffix), whole or not at all."""
    from trainlab.monitor.axes import save  # here: matplotlib loads only when a figure is drawn

    return save(figure, path)
