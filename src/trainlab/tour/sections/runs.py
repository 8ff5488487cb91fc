"""Sections 4, 5 and 10: the tutorial's training loops, as recipes trained by ``trainlab.train``."""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from trainlab.tour.sections import facts as tutorial
from trainlab.tour.section import Compared, Context, Section, num, png_file, relative


def train(ctx: Context, recipe: str | Path | Mapping[str, Any], folder: str,
          overrides: Mapping[str, Any] | None = None, **kwargs: Any) -> Any:
    """``trainlab.train`` into ``<tour>/<folder>`` without the progress display; the run's figures and
    ``report.html``, as ``trainlab run`` writes them, are drawn by the tour in another process."""
    import trainlab  # in a lane: TensorFlow stays out of the tour's process

    run = trainlab.train(recipe, out=ctx.folder(folder), overrides={"training.verbose": 0, **(overrides or {})},
                         **kwargs)
    ctx.draw_run(run.dir)
    return run


def run_links(ctx: Context, run: Any, label: str) -> list[tuple[str, str]]:
    return [(f"{label}: report", relative(ctx, run.dir / "report.html")), (f"{label}: run directory",
                                                                           relative(ctx, run.dir))]


def diagnosis_text(summary: Mapping[str, Any]) -> str:
    findings = summary.get("diagnosis") or []
    return "; ".join(f"{f['rule']}: {f['message']}" for f in findings) or "healthy: no findings"


def _epochs_note(ctx: Context, epochs: int, full: int) -> str:
    return f"{epochs} of the tutorial's {full} epochs (--quick)" if ctx.quick else f"{epochs} epochs"


# ----------------------------------------------------------------------------------------------- section 4
_BASIC_STORY = (
    "The tutorial's basic loop trained an MLP (64 relu, dropout 0.2, 32 relu, sigmoid) on 1000 synthetic "
    "samples with Adam 1e-3 for 100 epochs, in an eager GradientTape loop: every step a separate Python call, "
    "27.9 s. It fed the features unstandardized and kept four numbers per epoch. trainlab runs "
    "examples/basic.yaml: the same model and data, standardized with the training statistics, one compiled "
    "graph per epoch, recording per-step loss, gradient norms and learning rate, per-layer norms and dead "
    "units, and diagnosing the run at the end."
)


def basic(ctx: Context) -> Section:
    """Section 4: ``examples/basic.yaml`` through ``trainlab.train``."""
    run = train(ctx, ctx.recipe("basic.yaml"), "04-basic", {"training.epochs": 10} if ctx.quick else None)
    first, summary = run.history[0], run.summary
    epochs, wall = summary["epochs_run"], summary["wall_time_s"]
    tol = tutorial.FIRST_EPOCH_TOLERANCE
    compared = [
        Compared(f"first epoch: {_label(key)}", num(expected), num(first[key]),
                 "same" if abs(first[key] - expected) <= tol else "differs",
                 f"within {tol} (another weight initialization; standardized features)" if key == "loss" else "")
        for key, expected in tutorial.BASIC_FIRST_EPOCH.items()
    ]
    compared += [
        training_time(run, tutorial.BASIC_SECONDS, 100, "eager"),
        Compared("best validation loss", "not tracked", f"{summary['best_value']:.4f} at epoch {summary['best_epoch']}",
                 "new", "the epoch to stop at"),
        Compared("diagnosis", "none", diagnosis_text(summary), "new"),
    ]
    return Section(
        4, "A basic training loop",
        line=(f"examples/basic.yaml, {_epochs_note(ctx, epochs, 100)} in {wall:.1f} s (tutorial "
              f"{tutorial.BASIC_SECONDS} s for 100, eager); first epoch val acc {first['val_accuracy']:.3f} (tutorial "
              f"{tutorial.BASIC_FIRST_EPOCH['val_accuracy']})"),
        story=_BASIC_STORY, compared=compared,
        figures=[*png_file(run.dir / "curves.png", "Training curves (curves.png)",
                           "Loss and accuracy per epoch: train (running mean in training mode), validation, and "
                           "the training split re-evaluated after each epoch (dashed); best epoch in green."),
                 *png_file(run.dir / "monitor.png", "Training monitor (monitor.png)",
                           "The tutorial's loss, accuracy and train-minus-validation gap, with the learning rate "
                           "and gradient norm per step.")],
        links=run_links(ctx, run, "basic"), findings=summary.get("diagnosis"), runs=1,
        tutorial_seconds=tutorial.BASIC_SECONDS,
        values={"first_epoch": {k: first[k] for k in tutorial.BASIC_FIRST_EPOCH}, "epochs": epochs,
                "wall_time_s": wall, "best_epoch": summary["best_epoch"],
                "diagnosis": [f["rule"] for f in summary.get("diagnosis") or []]},
    )


def stop_compared(epochs: int, best_epoch: int, stopped_early: bool, patience: int) -> Compared:
    """Where early stopping ended the run, against the tutorial's epoch 33, and how far after the best epoch."""
    if stopped_early:
        after = epochs - best_epoch
        note = (f"{after} epochs after the best one ({best_epoch}), "
                + (f"as patience {patience} says" if after == patience else f"though patience is {patience}"))
    else:
        note = f"did not stop: all {epochs} epochs ran, the best was epoch {best_epoch}"
    same = stopped_early and epochs == tutorial.ADVANCED_STOP_EPOCH
    return Compared("stopped at epoch", str(tutorial.ADVANCED_STOP_EPOCH),
                    f"{epochs}" + ("" if stopped_early else " (did not stop)"), "same" if same else "differs",
                    note + ("" if same else "; another initialization and batch order move it"))


def training_time(run: Any, tutorial_seconds: float, tutorial_epochs: int, how: str, more: str = "") -> Compared:
    """The run's training time beside the tutorial's (``tutorial_epochs`` epochs, trained ``how``), and why they
    differ (``more`` adds to the note)."""
    summary = run.summary
    return Compared("training time", f"{tutorial_seconds} s ({tutorial_epochs} epochs, {how})",
                    f"{summary['wall_time_s']:.1f} s ({summary['epochs_run']} epochs)", "differs",
                    speed_note(run, tutorial_seconds / tutorial_epochs) + more)


def speed_note(run: Any, tutorial_per_epoch: float) -> str:
    """How the run's time compares with the tutorial's for as many epochs; the graph-building first epoch apart."""
    times = [float(row["epoch_time_s"]) for row in run.history]
    ratio = tutorial_per_epoch * len(times) / run.summary["wall_time_s"]
    speed = f"{ratio:.1f}x faster" if ratio >= 1 else f"{1 / ratio:.1f}x slower"
    rest = f", the others {statistics.median(times[1:]) * 1000:.0f} ms each" if len(times) > 1 else ""
    return (f"{speed} for as many epochs, every record on; the first epoch builds the graph ({times[0]:.1f} s)"
            f"{rest}, against the tutorial's {tutorial_per_epoch * 1000:.0f} ms per epoch")


def _label(key: str) -> str:
    return {"loss": "training loss", "accuracy": "training accuracy", "val_loss": "validation loss",
            "val_accuracy": "validation accuracy"}.get(key, key)


# ----------------------------------------------------------------------------------------------- section 5
_ADVANCED_STORY = (
    "The tutorial's advanced trainer added batch normalization and dropout, Adam on an exponential decay, "
    "gradients clipped to norm 1.0, compiled train and validation steps, and early stopping on the validation "
    "loss (patience 15) that saved the best weights and restored them; it stopped at epoch 33 after 2.5 s with "
    "a validation accuracy of about 0.91. On Keras 3 its metric.reset_states() and its .h5 weight file names "
    "fail (reset_state(), .weights.h5). trainlab runs examples/advanced.yaml: early stopping is Keras' own "
    "EarlyStopping with the best weights restored, the metrics restart every epoch, and the model is saved as "
    "model.keras."
)


def advanced(ctx: Context) -> Section:
    """Section 5: ``examples/advanced.yaml`` (early stopping, clipping, a decay schedule)."""
    run = train(ctx, ctx.recipe("advanced.yaml"), "05-advanced")
    summary = run.summary
    best = summary["best"]
    epochs, wall = summary["epochs_run"], summary["wall_time_s"]
    accuracy = best["val_accuracy"]
    tol = tutorial.VAL_ACCURACY_TOLERANCE
    saved = bool(summary["restored_best_weights"]) and (run.dir / "model.keras").is_file()
    compared = [
        stop_compared(epochs, summary["best_epoch"], bool(summary["stopped_early"]),
                      run.recipe.training.early_stopping.patience),
        Compared("validation accuracy (restored best weights)", f"about {tutorial.ADVANCED_VAL_ACCURACY}",
                 f"{accuracy:.4f}", "same" if abs(accuracy - tutorial.ADVANCED_VAL_ACCURACY) <= tol else "differs",
                 f"within {tol}"),
        training_time(run, tutorial.ADVANCED_SECONDS, tutorial.ADVANCED_STOP_EPOCH, "compiled",
                      "; trainlab also records per-step and per-layer statistics, TensorBoard files and the model"),
        Compared("metric.reset_states(), model.save_weights('best.h5')", "fail on Keras 3",
                 "metrics restart every epoch; model.keras", "fixed" if saved else "differs",
                 f"model.keras holds the weights of epoch {summary['best_epoch']}" if saved else
                 "the best weights were NOT restored and saved as model.keras"),
    ]
    return Section(
        5, "An advanced trainer",
        line=(f"examples/advanced.yaml stopped at epoch {epochs} (tutorial {tutorial.ADVANCED_STOP_EPOCH}), best "
              f"val acc {accuracy:.3f} (tutorial ~{tutorial.ADVANCED_VAL_ACCURACY}), {wall:.1f} s (tutorial "
              f"{tutorial.ADVANCED_SECONDS} s)"),
        story=_ADVANCED_STORY, compared=compared,
        figures=png_file(run.dir / "curves.png", "Training curves (curves.png)",
                         "The best epoch (dashed green) is where early stopping restored the weights from; the "
                         "dotted grey line is where it stopped the run."),
        links=run_links(ctx, run, "advanced"), findings=summary.get("diagnosis"), runs=1,
        tutorial_seconds=tutorial.ADVANCED_SECONDS,
        values={"epochs": epochs, "stopped_early": summary["stopped_early"], "best_epoch": summary["best_epoch"],
                "val_accuracy": accuracy, "restored_best_weights": summary["restored_best_weights"],
                "wall_time_s": wall},
    )


# ---------------------------------------------------------------------------------------------- section 10
_MONITOR_STORY = (
    "The tutorial's training monitor recorded, per epoch, the training and validation loss and accuracy, the "
    "learning rate and the mean global gradient norm, and drew them in a 2x3 figure with the overfitting gap "
    "and a moving average of the loss (2000 samples, MLP 128-64 with dropout 0.3/0.2, Adam 1e-3, 100 epochs). "
    "It standardized its test set with the test set's own mean and standard deviation, which leaks information "
    "from the data it evaluates on and scales it differently from what the model trained on, and it crashed on "
    "TensorFlow 2.21 comparing float predictions with int64 labels. Below is the same run as a trainlab recipe: "
    "the validation features are scaled with the training statistics, the labels are converted for the loss, "
    "and every run gets this monitor (monitor.png) and a written diagnosis."
)

MONITOR_RECIPE: dict[str, Any] = {
    "name": "monitor", "seed": 42,
    "data": {"source": "synthetic_classification", "n_samples": 2000, "n_features": 20, "validation_split": 0.2},
    "model": {"hidden": [128, 64], "dropout": [0.3, 0.2]},
    "loss": "binary_crossentropy",
    "optimizer": {"name": "adam", "learning_rate": 0.001},
    "training": {"epochs": 100, "batch_size": 32},
    "metrics": ["accuracy"],
}


def monitor(ctx: Context) -> Section:
    """Section 10: the tutorial's monitored run as a recipe; its monitor figure and diagnosis."""
    run = train(ctx, MONITOR_RECIPE, "10-monitor", {"training.epochs": 20} if ctx.quick else None)
    summary, data = run.summary, run.data
    leak = scaling_check(data)
    labels = np.asarray(data.y_val).dtype
    accuracy = summary["final"]["val_accuracy"]
    findings = summary.get("diagnosis") or []
    compared = [
        scaling_compared(leak),
        labels_compared(labels, accuracy),
        Compared("gradient norm", "mean per epoch", "every step, with the epoch mean and max; per layer", "new"),
        Compared("diagnosis", "none", diagnosis_text(summary), "new"),
    ]
    epochs = summary["epochs_run"]
    return Section(
        10, "Training monitor",
        line=(f"{_epochs_note(ctx, epochs, 100)} in {summary['wall_time_s']:.1f} s, val acc "
              f"{accuracy:.3f}; diagnosis: {', '.join(f['rule'] for f in findings) or 'healthy'}; validation "
              + ("scaled with the training statistics" if leak["training_statistics"] else
                 "NOT scaled with the training statistics")
              + (", int64 labels fine" if compared[1].verdict == "fixed" else
                 f", labels {labels}: NOT the int64 case")),
        story=_MONITOR_STORY, compared=compared,
        figures=[*png_file(run.dir / "monitor.png", "Training monitor (monitor.png)",
                           "Loss, accuracy, learning rate per step, gradient norm per step with the epoch mean and "
                           "max, the overfitting gap (validation minus the training split re-evaluated after each "
                           "epoch, solid; minus the running training loss, dashed) and the loss per step with a "
                           "moving average."),
                 *png_file(run.dir / "layers.png", "Layers (layers.png)",
                           "Per layer: gradient norm, weight norm, update ratio and dead units per epoch.")],
        links=run_links(ctx, run, "monitor"), findings=findings, runs=1,
        values={"epochs": epochs, "val_accuracy": accuracy, "leak": leak,
                "verdicts": {c.what: c.verdict for c in compared},
                "label_dtype": str(labels), "standardized": bool(data.standardized),
                "diagnosis": [f["rule"] for f in findings], "wall_time_s": summary["wall_time_s"]},
    )


def scaling_check(data: Any) -> dict[str, Any]:
    """How the validation split was scaled: with the training split's statistics (the training features then have
    mean 0 and std 1 per column, and the validation features do not), and how far the tutorial's scaling (the
    validation set's own statistics) would move each value."""
    x_train = np.asarray(data.x_train, np.float64)
    x_val = np.asarray(data.x_val, np.float64)
    raw = x_val * data.std + data.mean
    own = (raw - raw.mean(axis=0)) / raw.std(axis=0)
    shift = float(np.max(np.abs(own - x_val)))
    training = bool(data.standardized and np.allclose(x_train.mean(axis=0), 0, atol=1e-4)
                    and np.allclose(x_train.std(axis=0), 1, atol=1e-3) and shift > 1e-6)
    return {"mean": float(x_val.mean()), "std": float(x_val.std(axis=0).mean()), "max_shift": shift,
            "training_statistics": training}


def labels_compared(labels: np.dtype, accuracy: float) -> Compared:
    """The row for the tutorial's crash on int64 labels: ``fixed`` when the labels were int64 and the run measured a
    finite accuracy with them."""
    fine = labels == np.int64 and math.isfinite(accuracy)
    return Compared("accuracy with int64 labels", "crash (float vs int64)", f"{accuracy:.4f}",
                    "fixed" if fine else "differs",
                    f"labels arrive as {labels}; " + ("trainlab converts them to what the loss reads" if fine else
                                                      "the tutorial's int64 case was NOT replayed, or NOT fine"))


def scaling_compared(leak: dict[str, Any]) -> Compared:
    """The row for the tutorial's leak: ``fixed`` only when the run scaled the validation split with the training
    split's statistics (:func:`scaling_check`)."""
    if not leak["training_statistics"]:
        return Compared("validation features scaled with", "the validation set's own mean and std (a leak)",
                        "NOT the training split's mean and std", "differs",
                        f"after scaling, the validation features' mean is {leak['mean']:.3f} and std "
                        f"{leak['std']:.3f}; the largest move to the tutorial's scaling is {leak['max_shift']:.3g}")
    return Compared("validation features scaled with", "the validation set's own mean and std (a leak)",
                    "the training split's mean and std", "fixed",
                    f"after scaling, the validation features' mean is {leak['mean']:.3f} and std {leak['std']:.3f} "
                    f"(own statistics force 0 and 1); the tutorial's scaling moves each value by up to "
                    f"{leak['max_shift']:.3f} standard deviations")
