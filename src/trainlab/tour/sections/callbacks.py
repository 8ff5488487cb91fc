"""Sections 8 and 9: Keras' built-in callbacks on digits (or MNIST), and a custom callback."""

from __future__ import annotations

import math
import statistics
import time
from typing import Any

import keras
import numpy as np

from trainlab.tour.sections import facts as tutorial
from trainlab.tour.sections.runs import diagnosis_text, run_links, train
from trainlab.tour.section import Compared, Context, Figure, Section, Table, png, png_file, relative

_CALLBACKS_STORY = (
    "The tutorial's callbacks demo trained an MLP (128-64, dropout 0.2) on 5000 MNIST digits for up to 50 epochs "
    "with early stopping (validation loss, patience 10, best weights restored), reduce-on-plateau (factor 0.5, "
    "patience 5), a checkpoint of the best model by validation accuracy, TensorBoard with weight histograms "
    "every epoch, a CSV log, and a LearningRateScheduler setting 0.001 x 0.9^epoch. It defined the demo but "
    "never ran it. Offline, MNIST cannot be downloaded; and had it run, the scheduler would have set the rate "
    "back to 0.001 x 0.9^epoch at the start of every epoch, silently undoing each reduction the plateau rule "
    "made. trainlab runs examples/digits.yaml: scikit-learn's bundled 8x8 digits (or a local mnist.npz, with "
    "--mnist), the per-epoch decay written as the optimizer's schedule, and reduce-on-plateau scaling that "
    "schedule instead of fighting it. The recipe's own rate decays so fast that its validation loss never "
    "stalls. So the tour first runs trainlab lr-find on the same recipe and data (the learning-rate range test, "
    "100 steps), then trains a second run at the rate it suggests (without the TensorBoard histograms, the "
    "checkpoint and the log), which shows the plateau rule at work."
)


def callbacks(ctx: Context) -> Section:
    """Section 8: ``examples/digits.yaml`` (all six callbacks); lr-find on it, and the same recipe at lr-find's
    suggestion to show the plateau rule scaling the schedule."""
    from trainlab import schedules  # in a lane: TensorFlow stays out of the tour's process
    from trainlab.tools.lr_find import lr_find  # in a lane: TensorFlow stays out of the tour's process

    recipe = ctx.recipe("digits.yaml")
    data: dict[str, Any] = {}
    if ctx.mnist is not None:
        data["data"] = {"source": "mnist", "path": str(ctx.mnist), **_mnist_subset(ctx.mnist), "validation_split": 0.15}
    found = lr_find(recipe, out=ctx.folder("08-lr-find"), overrides=dict(data) or None)
    rate = found.suggestion
    # The recipe as it is (fewer epochs in a quick tour); and at lr-find's suggestion, where early stopping ends
    # the run once the plateau rule has fired. Only its learning rate matters there: no TensorBoard histograms,
    # no checkpoint, no CSV log.
    slow = {**data, **({"training.epochs": 10} if ctx.quick else {})}
    fast_rate = {**data, "optimizer.learning_rate.initial_learning_rate": rate, "training.tensorboard": False,
                 "training.callbacks": []}
    run = train(ctx, recipe, "08-callbacks", slow)
    fast = train(ctx, recipe, f"08-callbacks-lr-{rate:g}", fast_rate) if rate is not None else None
    fast_label = f"lr-find's suggestion ({rate:.2g})" if rate is not None else ""
    curves = {"recipe (0.001)": _lr_curve(run, schedules.recipe_schedule(recipe, slow))}
    if fast is not None:  # the schedule alone, per step of the run
        curves[fast_label] = _lr_curve(fast, schedules.recipe_schedule(recipe, fast_rate))
    source = "MNIST (local mnist.npz)" if ctx.mnist else "digits (scikit-learn, bundled)"
    summary = run.summary
    fired = {label: c["fired"] for label, c in curves.items()}
    exact = all(c["exact"] for c in curves.values())
    artifacts = _artifacts(run)
    compared = [
        Compared("data", "MNIST download (fails offline)", source, "fixed",
                 f"{summary['data']['splits']['train']['n']} training, {summary['data']['splits']['val']['n']} "
                 f"validation, {summary['data']['splits']['test']['n']} test samples"),
        Compared("the demo ran", "never", f"{summary['epochs_run']} epochs, test accuracy "
                 f"{summary['test']['accuracy']:.4f}", "new", diagnosis_text(summary)),
        plateau_compared(curves),
        lr_find_compared(found, fast, summary),
    ]
    table = Table(["callback (the tutorial's settings)", "in examples/digits.yaml", "what this run shows"],
                  artifacts, "Every callback of the tutorial's demo, as the recipe names it and what it left in the "
                             "run directory.")
    fast_fired = fired.get(fast_label, [])
    line = f"{source}: {summary['epochs_run']} epochs, test acc {summary['test']['accuracy']:.3f}; "
    if fast is None:
        line += "lr-find made no suggestion (see its figure)"
    else:
        line += (f"at lr-find's suggestion {rate:.2g} the plateau rule fired at epochs "
                 f"{', '.join(map(str, fast_fired)) or 'none'} and the rate "
                 + ("kept the schedule's shape (exact)" if exact else "did NOT keep the schedule's shape"))
    return Section(
        8, "Built-in callbacks",
        line=line,
        story=_CALLBACKS_STORY, compared=compared, tables=[table],
        figures=[*png_file(found.dir / "lr_find.png", "lr-find on examples/digits.yaml (lr_find.png)",
                           "The learning-rate range test: the training loss as the rate grows step by step, and "
                           f"the rate it suggests ({found.rule}) for the second run."),
                 Figure("Learning rate with reduce-on-plateau scaling the schedule", png(_lr_figure(curves)),
                        "Left: the learning rate each epoch trained at (solid) against the schedule alone, "
                        "0.001 x 0.9^epoch, which is also what the tutorial's LearningRateScheduler would have "
                        "set every epoch (dashed); a triangle marks each plateau reduction, after which the rate "
                        "stays halved and keeps decaying. Right: the validation loss that triggered them."),
                 *png_file(run.dir / "curves.png", "Training curves of examples/digits.yaml (curves.png)",
                           "Loss and accuracy per epoch, train, validation, and the training split re-evaluated.")],
        links=[*run_links(ctx, run, "digits.yaml"), ("lr-find: lr_find.json and lr_find.png", relative(ctx, found.dir)),
               *(run_links(ctx, fast, f"digits.yaml at {rate:g}") if fast is not None else [])],
        findings=summary.get("diagnosis"), runs=1 + (fast is not None),
        values={"source": source, "epochs": summary["epochs_run"], "test_accuracy": summary["test"]["accuracy"],
                "fast_test_accuracy": fast.summary["test"]["accuracy"] if fast is not None else None,
                "lr_find": {"suggestion": rate, "rule": found.rule, "setting": found.setting()},
                "plateau_epochs": fired, "scale_is_power_of_half": exact,
                "scales": {label: c["scale"].tolist() for label, c in curves.items()},
                "verdicts": {c.what: c.verdict for c in compared},
                "artifacts": {row[0]: row[2] for row in artifacts}},
    )


def plateau_compared(curves: dict[str, dict[str, Any]]) -> Compared:
    """The row for the tutorial's bug (its scheduler undid each plateau reduction): ``fixed`` only when every run's
    recorded rate is exactly the schedule times a power of 0.5 and at least one reduction fired to show it."""
    exact = all(c["exact"] for c in curves.values())
    fired = {label: c["fired"] for label, c in curves.items()}
    reductions = "; reductions: " + "; ".join(
        f"{label}: {'epochs ' + ', '.join(map(str, f)) if f else 'none'}" for label, f in fired.items())
    if not exact:
        return Compared("rate after a plateau reduction", "set back to 0.001 x 0.9^epoch next epoch",
                        "NOT the schedule x a power of 0.5", "differs",
                        "the recorded rate is NOT the schedule times a power of 0.5" + reductions)
    if not any(fired.values()):
        return Compared("rate after a plateau reduction", "set back to 0.001 x 0.9^epoch next epoch",
                        "no reduction fired", "differs",
                        "the rate followed the schedule exactly, but no reduction fired to check" + reductions)
    return Compared("rate after a plateau reduction", "set back to 0.001 x 0.9^epoch next epoch",
                    "the schedule x 0.5 per reduction, kept", "fixed",
                    "recorded rate / schedule is a power of 0.5 at every epoch" + reductions)


def lr_find_compared(found: Any, fast: Any, summary: dict[str, Any]) -> Compared:
    """The row for lr-find's suggestion and the run trained at it (``fast``: None when it made none)."""
    if fast is None:
        return Compared("lr-find's suggestion", "–", "none", "new", "; ".join(found.notes) or "no usable minimum")
    fast_summary = fast.summary
    return Compared(
        f"at lr-find's suggestion {found.suggestion:.2g} ({found.rule})", "–",
        f"val loss {fast_summary['best_value']:.3f} at epoch {fast_summary['best_epoch']} (recipe: "
        f"{summary['best_value']:.3f} at epoch {summary['best_epoch']}); test accuracy "
        f"{fast_summary['test']['accuracy']:.4f}", "new",
        ("stopped early" if fast_summary["stopped_early"] else "ran every epoch")
        + f"; {found.setting()}, from trainlab lr-find run on the same recipe and data")


def _mnist_subset(path: Any) -> dict[str, int]:
    """The tutorial's 5000 training and 1000 test images, or all a smaller file has."""
    subset = dict(tutorial.MNIST_SUBSET)
    try:
        with np.load(path, allow_pickle=False) as arrays:
            subset["n_train"] = min(subset["n_train"], len(arrays["y_train"]))
            subset["n_test"] = min(subset["n_test"], len(arrays["y_test"]))
    except (OSError, ValueError, KeyError):
        pass  # not a readable MNIST file: the data source says what is wrong with it
    return subset


def _lr_curve(run: Any, planned: Any) -> dict[str, Any]:
    """Per epoch: the rate the run trained at, the schedule alone, their ratio, and the plateau reductions."""
    epochs = np.array([row["epoch"] for row in run.history])
    recorded = np.array([row["lr"] for row in run.history])
    spe = planned.steps_per_epoch
    alone = np.asarray(planned.rates)[epochs * spe - 1]  # the rate at each epoch's last step, as history.csv has it
    scale = recorded / alone
    halvings = np.log(scale) / math.log(tutorial.PLATEAU_FACTOR)
    fired = [int(e) for e, before, after in zip(epochs[1:], scale[:-1], scale[1:]) if after < before * (1 - 1e-3)]
    return {"epochs": epochs, "recorded": recorded, "alone": alone, "scale": scale, "fired": fired,
            "exact": bool(np.allclose(halvings, np.round(halvings), atol=1e-3)),
            "val_loss": np.array([row.get("val_loss", np.nan) for row in run.history], float),
            "stopped": run.summary["epochs_run"] if run.summary.get("stopped_early") else None}


def _lr_figure(curves: dict[str, dict[str, Any]]):
    from matplotlib.figure import Figure as MplFigure

    figure = MplFigure(figsize=(12.0, 4.4), dpi=100, layout="constrained")
    left, right = figure.subplots(1, 2)
    for i, (label, c) in enumerate(curves.items()):
        color = f"C{i}"
        left.plot(c["epochs"], c["recorded"], color=color, lw=1.8, marker=".", label=f"{label}: trained at")
        left.plot(c["epochs"], c["alone"], color=color, lw=1.2, ls="--",
                  label=f"{label}: the schedule alone (the tutorial's scheduler)")
        right.plot(c["epochs"], c["val_loss"], color=color, lw=1.6, label=label)
        for epoch in c["fired"]:
            k = int(np.flatnonzero(c["epochs"] == epoch)[0])
            left.plot([epoch], [c["recorded"][k]], "v", color=color, ms=9)
            right.axvline(epoch - 0.5, color=color, lw=0.8, ls=":")
        if c["stopped"]:
            right.plot([c["stopped"]], [c["val_loss"][-1]], "x", color=color, ms=9, mew=2)
    left.set_yscale("log")
    left.set_xlabel("epoch")
    left.set_ylabel("learning rate (log)")
    left.set_title("Learning rate per epoch: reductions (triangles) scale the schedule", fontsize=10)
    left.grid(True, which="both", alpha=0.25)
    left.legend(fontsize=7)
    right.set_xlabel("epoch")
    right.set_ylabel("validation loss")
    right.set_title("Validation loss (dotted: a reduction; x: early stopping)", fontsize=10)
    right.grid(True, alpha=0.3)
    right.legend(fontsize=8)
    return figure


def _artifacts(run: Any) -> list[list[str]]:
    summary, folder = run.summary, run.dir
    log = folder / "keras_log.csv"
    events = list((folder / "tensorboard").rglob("events.out.tfevents.*")) if (folder / "tensorboard").is_dir() else []
    checkpoint = folder / "checkpoints" / "best.keras"
    return [
        ["early stopping (val_loss, patience 10, restore best)", "training.early_stopping",
         (f"stopped at epoch {summary['epochs_run']}" if summary["stopped_early"] else
          f"did not stop ({summary['epochs_run']} epochs)") + f"; model.keras holds epoch {summary['best_epoch']}"],
        ["reduce LR on plateau (factor 0.5, patience 5, min 1e-7)", "training.reduce_lr_on_plateau",
         "scales the schedule (see the figure)"],
        ["model checkpoint (best val_accuracy)", "training.callbacks: model_checkpoint",
         f"checkpoints/best.keras, {checkpoint.stat().st_size // 1024} KiB" if checkpoint.is_file() else "missing"],
        ["TensorBoard, weight histograms every epoch", "training.tensorboard.histogram_freq: 1",
         f"{len(events)} event files under tensorboard/ (weights and their gradients)"],
        ["CSV log", "training.callbacks: csv_logger",
         f"keras_log.csv, {max(0, len(log.read_text().splitlines()) - 1)} rows" if log.is_file() else "missing"],
        ["LearningRateScheduler 0.001 x 0.9^epoch", "optimizer.learning_rate: {name: exponential, "
         "decay_steps: 1, decay_rate: 0.9, unit: epoch}", "the optimizer's own schedule; nothing overwrites the rate"],
    ]


# ----------------------------------------------------------------------------------------------- section 9
_CUSTOM_STORY = (
    "The tutorial wrote a Keras callback that times each epoch, prints the training and validation accuracy, "
    "stops training once the validation accuracy passes 0.95, and prints the mean epoch time at the end. It "
    "tried it on 1000 samples of uniform random features with random binary labels (200 for validation), an "
    "MLP with 64 units, 20 epochs: labels that carry no signal, so the accuracy stays near chance and the stop "
    "never fires; the demo shows the hooks, not the stop. trainlab's compiled loop drives Keras' callback "
    "protocol, so the same class, unchanged, is passed to trainlab.train."
)


class EpochTimer(keras.callbacks.Callback):
    """The tutorial's custom callback: times each epoch, notes the accuracies, stops past a validation accuracy.

    Args:
        stop_at: stop training once ``val_accuracy`` exceeds this.

    Attributes:
        lines: one line per epoch, as the tutorial printed them.
        times: each epoch's wall time in seconds.
        stopped_at: the 1-based epoch at which it stopped training, or None.
        mean_epoch_s: the mean epoch time, set at the end of training.
    """

    def __init__(self, stop_at: float = tutorial.CALLBACK_STOP_AT) -> None:
        super().__init__()
        self.stop_at = stop_at
        self.lines: list[list[str]] = []
        self.times: list[float] = []
        self.stopped_at: int | None = None
        self.mean_epoch_s: float | None = None
        self._start = 0.0

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        logs = logs or {}
        self.times.append(time.perf_counter() - self._start)
        accuracy, val_accuracy = logs.get("accuracy", math.nan), logs.get("val_accuracy", math.nan)
        self.lines.append([str(epoch + 1), f"{accuracy:.4f}", f"{val_accuracy:.4f}", f"{self.times[-1] * 1000:.1f} ms"])
        if val_accuracy > self.stop_at:
            self.model.stop_training = True
            self.stopped_at = epoch + 1

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        self.mean_epoch_s = statistics.fmean(self.times) if self.times else None


CUSTOM_RECIPE: dict[str, Any] = {
    "name": "custom-callback", "seed": 42,
    "model": {"hidden": [64], "dropout": 0.0},
    "loss": "binary_crossentropy",
    "optimizer": {"name": "adam", "learning_rate": 0.001},
    "training": {"epochs": tutorial.CALLBACK_EPOCHS, "batch_size": 32},
    "metrics": ["accuracy"],
}


def custom_callback(ctx: Context) -> Section:
    """Section 9: the tutorial's custom callback, a real ``keras.callbacks.Callback``, given to ``trainlab.train``."""
    from trainlab import data  # in a lane: TensorFlow stays out of the tour's process

    rng = np.random.default_rng(42)
    x = rng.uniform(size=(1000, 20))
    y = rng.integers(0, 2, size=1000)  # random labels: nothing to learn
    splits = data.from_arrays(x, y, {"validation_split": 0.2}, seed=42)
    timer = EpochTimer()
    run = train(ctx, CUSTOM_RECIPE, "09-custom-callback", callbacks=[timer], data=splits)
    best = max(float(row["val_accuracy"]) for row in run.history)
    compared = [
        Compared("stopped early (val accuracy > 0.95)", "no: accuracy stays near chance",
                 "no" if timer.stopped_at is None else f"yes, at epoch {timer.stopped_at}",
                 "same" if timer.stopped_at is None else "differs",
                 f"the best validation accuracy was {best:.3f}: random labels carry nothing to learn"),
        Compared("hooks called", "by model.fit", f"on_epoch_begin/on_epoch_end {len(timer.times)} times, on_train_end"
                 + ("" if timer.mean_epoch_s is not None else " NOT called"),
                 "same" if len(timer.times) == run.summary["epochs_run"] and timer.mean_epoch_s is not None else
                 "differs", f"trainlab's compiled loop drives Keras' callback protocol once per epoch "
                 f"({run.summary['epochs_run']} epochs ran)"),
        Compared("mean epoch time (the callback's own clock)", "printed", f"{timer.mean_epoch_s * 1000:.1f} ms", "new",
                 f"the first epoch builds the graph ({timer.times[0]:.1f} s); the others take "
                 f"{statistics.median(timer.times[1:]) * 1000:.0f} ms each: a whole epoch runs as one compiled call"),
    ]
    return Section(
        9, "A custom callback",
        line=(f"EpochTimer (a keras.callbacks.Callback) given to trainlab.train: {len(timer.times)} epochs, best "
              f"val acc {best:.3f}, " + ("the stop at 0.95 never fired (random labels)" if timer.stopped_at is None else
                                 f"STOPPED at epoch {timer.stopped_at}")
              + f"; mean epoch {timer.mean_epoch_s * 1000:.0f} ms"),
        story=_CUSTOM_STORY, compared=compared,
        tables=[Table(["epoch", "accuracy", "val_accuracy", "epoch time"], timer.lines,
                      "What the callback printed, epoch by epoch.")],
        notes=["The callback is an ordinary Keras callback (trainlab/tour/sections/callbacks.py, class EpochTimer); "
               "it would "
               "work unchanged with model.fit. Passed in the Python API: "
               "trainlab.train(recipe, callbacks=[EpochTimer()], data=trainlab.data.from_arrays(x, y, "
               "{'validation_split': 0.2}, seed=42))."],
        links=run_links(ctx, run, "custom callback"), runs=1,
        values={"epochs": len(timer.times), "stopped_at": timer.stopped_at, "best_val_accuracy": best,
                "mean_epoch_s": timer.mean_epoch_s, "callback_calls": len(timer.times)},
    )
