"""The learning-rate range test (Smith 2017; fastai's ``lr_find``): which learning rate to train at.

Train the recipe's own model on its own data (built by trainlab's :class:`~trainlab.training.trainer.Trainer`,
so exactly what ``trainlab run`` would train) for ``steps`` steps while the learning rate grows
exponentially from ``start`` to ``end``, and record the loss of each step. The loss first stays
flat (the rate is too small to matter), then falls, then blows up (the rate is too large). The
curve is smoothed by an exponential moving average with bias correction (``beta = 0.98``), and
the test stops once the smoothed loss exceeds 4x its minimum, or a loss is NaN or infinite.

The suggestion is the learning rate at the smoothed loss's minimum divided by 10: an order of
magnitude below where the loss is lowest, safely before where it diverges. As in fastai, the
first tenth of the steps is left out when looking for the minimum (the average there rests on a
few losses). The moving average lags the raw losses (by about 50 steps at ``beta = 0.98``), so
its minimum comes at a higher rate than the raw losses' dip; the division by 10 absorbs that. The
rate of steepest descent of the smoothed loss (per decade of learning rate) is reported too;
on noisy curves it jumps around, so it is not the suggestion.

Afterwards the model's weights (and batch-norm statistics and dropout random state) and the
trainer's optimizer are exactly as before: the test uses an optimizer of its own.

Example:
    >>> result = lr_find("examples/basic.yaml", out="runs/lr-find-basic")
    >>> result.suggestion, result.rule, result.setting()
    (0.024, 'minimum / 10', 'optimizer.learning_rate=0.024')
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from trainlab import optimizers, rundir
from trainlab import checks, schedules
from trainlab.errors import TrainlabError
from trainlab.training import Engine, Member, Trainer, load_recipe

if TYPE_CHECKING:  # matplotlib is imported when a figure is drawn
    from matplotlib.figure import Figure

BETA = 0.98  # smoothing of the loss curve (fastai's)
DIVERGE = 4.0  # stop once the smoothed loss exceeds this times its minimum
CHUNK = 10  # steps per compiled call: the divergence check runs between calls
RULE = "minimum / 10"


@keras.saving.register_keras_serializable(package="trainlab")
class ExponentialRamp(keras.optimizers.schedules.LearningRateSchedule):
    """``start * (end / start) ** (step / (steps - 1))``: from ``start`` at step 0 to ``end`` at
    step ``steps - 1``, held after that.

    Args:
        start: the first rate (> 0).
        end: the last rate (> start).
        steps: steps from start to end (>= 2).

    Example:
        >>> float(ExponentialRamp(1e-6, 1.0, 7)(3))  # halfway in log space
        0.001
    """

    def __init__(self, start: float, end: float, steps: int) -> None:
        super().__init__()
        _check(steps, start, end, min_steps=2)
        self.start, self.end, self.steps = float(start), float(end), int(steps)

    def __call__(self, step: Any) -> Any:
        fraction = ops.minimum(ops.cast(step, "float32") / float(self.steps - 1), 1.0)
        return self.start * ops.exp(fraction * math.log(self.end / self.start))

    def get_config(self) -> dict[str, Any]:
        return {"start": self.start, "end": self.end, "steps": self.steps}


@dataclass
class LRFindResult:
    """What a range test recorded and suggests.

    Attributes:
        name: the recipe's name.
        lrs: the learning rate of each step run.
        losses: each step's training loss (regularization included; NaN/inf kept as recorded).
        smoothed: the bias-corrected moving average of ``losses`` (NaN where a loss was not finite).
        suggestion: the suggested learning rate (None when the curve has no usable minimum).
        rule: how ``suggestion`` was chosen (``"minimum / 10"``).
        min_loss_lr: the learning rate at the smoothed loss's minimum.
        steepest_lr: the learning rate where the smoothed loss fell fastest (per decade), before
            its minimum; None when the minimum comes too early to tell.
        diverged: the test stopped because the smoothed loss passed ``4 x`` its minimum or a loss
            was not finite; False when it ran all its steps.
        steps: the steps asked for; ``len(losses)`` were run.
        start, end: the learning-rate range asked for.
        notes: what to be careful about, in words (the loss was still falling at ``end``, ...).
        dir: the folder ``lr_find.png`` and ``lr_find.json`` were written to, or None.
        learning_rate: the recipe's ``optimizer.learning_rate`` as written (a number or a schedule
            mapping), which the test replaced by its ramp.
    """

    name: str
    lrs: np.ndarray
    losses: np.ndarray
    smoothed: np.ndarray
    suggestion: float | None
    rule: str
    min_loss_lr: float | None
    steepest_lr: float | None
    diverged: bool
    steps: int
    start: float
    end: float
    notes: list[str] = field(default_factory=list)
    dir: Path | None = None
    learning_rate: Any = None

    def setting(self) -> str | None:
        """The recipe key and value that train at the suggestion: ``optimizer.learning_rate=0.003``, or
        for a schedule its starting (peak) rate, ``optimizer.learning_rate.initial_learning_rate=0.003``;
        None without a suggestion or for a schedule with no single starting rate (piecewise)."""
        if self.suggestion is None:
            return None
        if not isinstance(self.learning_rate, Mapping):
            return f"optimizer.learning_rate={self.suggestion:g}"
        name = schedules.registry.canonical(str(self.learning_rate.get("name")))
        key = {"one_cycle": "max_learning_rate", "constant": "learning_rate", "piecewise": None}.get(
            name, "warmup_target" if self.learning_rate.get("warmup_target") else "initial_learning_rate")
        return None if key is None else f"optimizer.learning_rate.{key}={self.suggestion:g}"

    def figure(self) -> Figure:
        """Loss against learning rate (log axis): raw and smoothed, the suggestion and the minimum marked."""
        from matplotlib.figure import Figure

        figure = Figure(figsize=(9.0, 5.4), dpi=100, layout="constrained")
        ax = figure.subplots()
        keep = np.isfinite(self.losses)
        ax.plot(self.lrs[keep], self.losses[keep], color="tab:blue", alpha=0.3, lw=1, label="loss per step")
        ax.plot(self.lrs, self.smoothed, color="tab:blue", lw=2, label=f"smoothed (moving average, beta {BETA})")
        ax.set_xscale("log")
        marks = [
            (self.min_loss_lr, "tab:orange", ":", "lowest smoothed loss"),
            (self.steepest_lr, "tab:purple", ":", "steepest descent"),
            (self.suggestion, "tab:green", "-", f"suggestion ({self.rule})"),
        ]
        for lr, color, style, label in marks:
            if lr is not None:
                ax.axvline(lr, color=color, ls=style, lw=1.6, label=f"{label}: {lr:.2g}")
        if self.suggestion is not None:
            y = float(np.interp(math.log(self.suggestion), np.log(self.lrs), _filled(self.smoothed)))
            ax.plot([self.suggestion], [y], "o", color="tab:green", ms=8, zorder=5)
        finite = np.isfinite(self.smoothed)
        if finite.any():
            # Frame the curves up to the smoothed minimum; the raw spikes and the divergence leave the top.
            best = int(np.nanargmin(self.smoothed))
            raw = self.losses[: best + 1][np.isfinite(self.losses[: best + 1])]
            low = min(float(self.smoothed[best]), float(raw.min()) if len(raw) else math.inf)
            high = float(np.nanmax(self.smoothed[: best + 1]))
            span = max(high - low, 1e-3 * max(abs(low), 1e-12))
            ax.set_ylim(low - 0.1 * span, high + 0.4 * span)
        ax.set_xlabel("learning rate (log scale)")
        ax.set_ylabel("training loss")
        ax.grid(True, which="both", alpha=0.25)
        ax.legend(fontsize=9, loc="lower left")  # the flat start of the curve sits high
        ending = "diverged" if self.diverged else "ran all steps"
        ax.set_title(f"{len(self.losses)} of {self.steps} steps, learning rate {self.start:g} to {self.end:g} "
                     f"({ending})", fontsize=10)
        figure.suptitle(f"{self.name}: learning-rate range test")
        return figure

    def to_dict(self) -> dict[str, Any]:
        """Everything recorded, as plain data (``lr_find.json``)."""
        return {
            "name": self.name,
            "suggestion": self.suggestion,
            "rule": self.rule,
            "min_loss_lr": self.min_loss_lr,
            "steepest_lr": self.steepest_lr,
            "diverged": self.diverged,
            "steps": self.steps,
            "steps_run": len(self.losses),
            "start": self.start,
            "end": self.end,
            "beta": BETA,
            "diverge_factor": DIVERGE,
            "notes": list(self.notes),
            "recipe_learning_rate": self.learning_rate,
            "lrs": [float(v) for v in self.lrs],
            "losses": [float(v) for v in self.losses],
            "smoothed": [float(v) for v in self.smoothed],
        }

    def save(self, folder: Path) -> None:
        """Write ``lr_find.png`` and ``lr_find.json`` into ``folder``."""
        from trainlab.monitor.axes import save  # here: matplotlib loads only when a figure is drawn

        save(self.figure(), folder / "lr_find.png")
        rundir.write_json(folder / "lr_find.json", self.to_dict())
        self.dir = folder


def lr_find(
    recipe: str | Path | Mapping[str, Any] | Any,
    *,
    steps: int = 100,
    start: float = 1e-7,
    end: float = 10.0,
    out: str | Path | None = None,
    overrides: Mapping[str, Any] | Sequence[str] | None = None,
) -> LRFindResult:
    """Run the learning-rate range test on a recipe and write ``lr_find.png`` and ``lr_find.json``.

    Args:
        recipe: a YAML path, a mapping shaped like the YAML, or a :class:`~trainlab.Recipe`.
        steps: training steps over the range (>= 10); fewer run when the loss diverges.
        start: the first learning rate (> 0).
        end: the last learning rate (> start).
        out: the folder to write (new or empty; default ``runs/lr-find-<name>-<timestamp>``).
        overrides: ``{"training.batch_size": 64}`` or ``["training.batch_size=64"]``.

    Returns:
        An :class:`LRFindResult`; ``.suggestion`` is the learning rate to try.

    Raises:
        TrainlabError: a bad recipe or data, a bad number
            (``start: must be < the end of the range (10), got 20.0``),
            or an ``out`` folder that holds files.

    Example:
        >>> lr_find("examples/digits.yaml", steps=100).suggestion
    """
    _check(steps, start, end)
    recipe_obj, base_dir, name = load_recipe(recipe, overrides)
    if recipe_obj.training.distribute != "none":  # the range test is short: it trains on one device
        recipe_obj = recipe_obj.model_copy(
            update={"training": recipe_obj.training.model_copy(update={"distribute": "none"})})
    folder = rundir.new_run_dir(f"lr-find-{recipe_obj.name or name}", out)  # a taken --out fails before any work
    try:
        trainer = Trainer(recipe_obj, name=name, base_dir=base_dir)
        result = range_test(trainer, steps=steps, start=start, end=end)
        result.save(folder)
    except BaseException:
        rundir.discard(folder)
        raise
    return result


def range_test(trainer: Trainer, *, steps: int = 100, start: float = 1e-7, end: float = 10.0) -> LRFindResult:
    """The range test on a prepared :class:`~trainlab.training.trainer.Trainer`, leaving it as it was.

    The trainer's model and optimizer are untouched afterwards, so ``trainer.fit()`` trains as if
    the test had never run. The test trains on full batches of the run's batch size, drawn from the
    training split in a fresh seeded shuffle each epoch, one compiled call per :data:`CHUNK` steps.

    Args:
        trainer: a trainer built from a recipe (in-memory data).
        steps, start, end: as for :func:`lr_find`.

    Returns:
        An :class:`LRFindResult` (nothing written).

    Raises:
        TrainlabError: a bad number, or data streamed from ``tf.data`` (its length is unknown).
    """
    _check(steps, start, end)
    if trainer.streamed:
        raise TrainlabError("data", "lr-find needs in-memory data (arrays), not a tf.data stream", "tf.data")
    model = trainer.model
    saved_model = [v.numpy() for v in model.variables]  # weights, batch-norm statistics, dropout seeds
    saved_optimizer = [v.numpy() for v in trainer.member.optimizer.variables]
    spec = {**trainer.recipe.optimizer.spec(), "learning_rate": ExponentialRamp(start, end, steps)}
    optimizer = optimizers.build(spec, where="optimizer")
    training = trainer.recipe.training
    engine = Engine([Member(model, optimizer, trainer.member.loss)], training.batch_size,
                    jit_compile=training.jit_compile, eval_batch_size=training.eval_batch_size)
    x, y, *weights = trainer.splits["train"]  # (x, y, sample_weight) when weighted
    batches = _batches(len(x), training.batch_size, -(-steps // CHUNK) * CHUNK, trainer.recipe.seed, training.shuffle)
    rows = CHUNK * training.batch_size
    losses: list[float] = []
    lrs: list[float] = []
    try:
        for first in range(0, steps, CHUNK):
            # Every call trains on CHUNK full batches gathered in advance: one shape, so one trace.
            take = tf.constant(batches[first * training.batch_size:][:rows])
            record = engine.train_epoch(tf.gather(x, take), tf.gather(y, take),
                                        sample_weight=tf.gather(weights[0], take) if weights else None)
            losses.extend(float(v) for v in record.loss[:, 0])
            lrs.extend(float(v) for v in record.lr[:, 0])
            stopped = _divergence(np.asarray(losses[:steps]))
            if stopped is not None:
                losses, lrs = losses[: stopped + 1], lrs[: stopped + 1]
                break
        losses, lrs = losses[:steps], lrs[:steps]  # the last call may run past steps (rate held at end)
    finally:
        for variable, value in zip(model.variables, saved_model):
            variable.assign(value)
        for variable, value in zip(trainer.member.optimizer.variables, saved_optimizer):
            variable.assign(value)
    result = summarize(trainer.name, np.asarray(lrs), np.asarray(losses), steps, start, end)
    result.learning_rate = trainer.recipe.optimizer.learning_rate
    return result


def summarize(name: str, lrs: np.ndarray, losses: np.ndarray, steps: int, start: float, end: float) -> LRFindResult:
    """Smooth a range test's losses and choose the suggestion (no training; for tests and reuse).

    Args:
        name: the recipe's name.
        lrs: the learning rate of each step.
        losses: the loss of each step.
        steps, start, end: the test's settings, as asked for.

    Returns:
        An :class:`LRFindResult`.
    """
    smoothed = smooth(losses)
    diverged = _divergence(losses) is not None
    notes: list[str] = []
    # As fastai does, the first tenth of the steps is left out: there the average rests on a few losses.
    skip = len(losses) // 10
    finite = np.flatnonzero(np.isfinite(smoothed[skip:])) + skip
    if len(finite) < 3:
        notes.append("too few finite losses to judge; lower --start or --end")
        return LRFindResult(name, lrs, losses, smoothed, None, RULE, None, None, diverged, steps, start, end, notes)
    best = int(finite[np.argmin(smoothed[finite])])
    min_lr = float(lrs[best])
    steepest = _steepest(lrs, smoothed, best)
    if best == len(losses) - 1 and not diverged:
        notes.append(f"the loss was still falling at the end ({end:g}): the best rate may be higher; raise --end")
    if best <= skip + max(1, len(losses) // 20):
        notes.append(f"the loss was lowest near the start: even {start:g} may be too high; lower --start")
    drop = (smoothed[finite[0]] - smoothed[best]) / max(abs(smoothed[finite[0]]), 1e-12)
    if drop < 0.01:
        notes.append(f"the smoothed loss fell only {drop:.1%} over the range: the curve says little")
    suggestion = float(f"{min_lr / 10:.2g}")
    return LRFindResult(name, lrs, losses, smoothed, suggestion, RULE, min_lr, steepest, diverged, steps, start, end,
                        notes)


def _batches(n: int, batch_size: int, steps: int, seed: int, shuffle: bool) -> np.ndarray:
    """Row indices for ``steps`` full batches: each epoch a fresh shuffle (seeded), its last partial batch left out."""
    rng = np.random.default_rng(seed)
    per_epoch = n // batch_size
    epochs = -(-steps // per_epoch)
    orders = [rng.permutation(n) if shuffle else np.arange(n) for _ in range(epochs)]
    return np.concatenate([order[: per_epoch * batch_size] for order in orders]).astype(np.int32)


def smooth(losses: np.ndarray, beta: float = BETA) -> np.ndarray:
    """Exponential moving average with bias correction; a non-finite loss is skipped (NaN in the output).

    ``avg_i = beta * avg_(i-1) + (1 - beta) * loss_i`` and ``smoothed_i = avg_i / (1 - beta ** n_i)``,
    with ``n_i`` the number of finite losses so far, so early values are not pulled towards 0.

    Example:
        >>> smooth(np.array([2.0, 2.0, 2.0]))
        array([2., 2., 2.])
    """
    out = np.full(len(losses), np.nan)
    avg, n = 0.0, 0
    for i, loss in enumerate(np.asarray(losses, dtype=np.float64)):
        if not math.isfinite(loss):
            continue
        n += 1
        avg = beta * avg + (1 - beta) * loss
        out[i] = avg / (1 - beta**n)
    return out


def _divergence(losses: np.ndarray) -> int | None:
    """The first step where the smoothed loss exceeds :data:`DIVERGE` x its minimum so far, or the
    loss is not finite; None if neither happens."""
    smoothed = smooth(losses)
    best = math.inf
    for i, (loss, value) in enumerate(zip(losses, smoothed)):
        if not math.isfinite(loss):
            return i
        if value > DIVERGE * best:
            return i
        best = min(best, value)
    return None


def _steepest(lrs: np.ndarray, smoothed: np.ndarray, best: int) -> float | None:
    """The rate where the smoothed loss falls fastest per decade of learning rate, up to its minimum.

    Each slope is a centred difference over ``2k`` steps (``k`` a twentieth of the steps), which
    steadies it against the noise left in the smoothed curve. The first tenth of the steps is left
    out: there the moving average still rests on few losses.
    """
    k = max(1, len(lrs) // 20)
    centres = np.arange(max(k, len(lrs) // 10), best - k + 1)
    if len(centres) < 2:
        return None
    log_lrs = np.log10(lrs)
    slopes = (smoothed[centres + k] - smoothed[centres - k]) / (log_lrs[centres + k] - log_lrs[centres - k])
    if not np.isfinite(slopes).any():
        return None
    return float(lrs[centres[int(np.nanargmin(slopes))]])


def _filled(values: np.ndarray) -> np.ndarray:
    """NaNs replaced by the last finite value before them (for interpolating a smoothed curve)."""
    out = np.array(values, dtype=np.float64)
    last = np.nan
    for i, v in enumerate(out):
        if math.isfinite(v):
            last = v
        else:
            out[i] = last
    return out


def _check(steps: Any, start: Any, end: Any, min_steps: int = 10) -> None:
    """Refuse numbers that make no range: an integer ``steps >= min_steps``, ``0 < start < end``, both finite."""
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < min_steps:
        raise TrainlabError("steps", f"must be an integer >= {min_steps}", steps)
    for name, value in (("start", start), ("end", end)):
        if not checks.is_number(value) or not math.isfinite(value) or value <= 0:
            raise TrainlabError(name, "must be a finite number > 0", value)
    if not start < end:
        raise TrainlabError("start", f"must be < the end of the range ({end:g})", start)
