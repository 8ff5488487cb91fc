"""Rules on the loss curves: divergence, over-fitting, plateau, a too-low learning rate, oscillation."""

from __future__ import annotations

import numpy as np

from trainlab.diagnose._finding import Finding
from trainlab.diagnose._series import finite_epochs, finite_steps, fmt, last_lr, moving_average
from trainlab.rundir import Records

# Divergence: the loss ends this many times above its minimum ...
DIVERGE_FACTOR = 1.5
# ... having given back at least this share of the progress from its start to that minimum.
# Both must hold: a ratio alone fires on noise near zero loss (2e-5 -> 4e-5 is "2x").
DIVERGE_GIVEN_BACK = 0.5
# Per-step loss is smoothed over this share of the steps before looking for a rise
# (with few epochs a run can diverge inside the last one).
STEP_SMOOTHING = 0.05

# Over-fitting: the validation loss ends this far above its minimum (10%: well beyond the
# ~3% wobble of a healthy run stopped early with patience 10) ...
OVERFIT_RISE = 0.10
# ... at least this many epochs after the minimum (fewer is noise, or early stopping did its job).
OVERFIT_MIN_EPOCHS = 5
# Both are judged on the validation loss smoothed over this share of the epochs (at least 3): the
# minimum of a raw noisy series is biased low, so a flat curve with 3-4% epoch-to-epoch noise over
# 100 epochs "rose 10%" from its minimum 29-56% of the time.
OVERFIT_SMOOTHING = 0.1

# Plateau: over the last half of the epochs a straight line fitted to the training loss moves
# less than this (relative to its mean) ...
PLATEAU_CHANGE = 0.01
# ... while still above this share of the first epoch's loss (it never really learned) ...
PLATEAU_HIGH = 0.8
# ... unless the weights barely moved; without update ratios recorded, a rate under this (the flat
# loss is then the rate's fault: see lr_too_low).
PLATEAU_MIN_LR = 1e-5
# The fewest epochs a curve needs before it can be called flat, slow or rising.
MIN_EPOCHS = 6

# A too-low learning rate: over the last half of the epochs a straight line fitted to the loss
# falls at least this much per epoch (relative to its mean; 0.2%/epoch is ~10% over 50 epochs
# more: still learning, not converged) ...
LR_MIN_DROP = 0.002
# ... and still above this share of the first epoch's loss (far from converged) ...
LR_FAR = 0.5
# ... with a learning rate no larger than this (a large rate that learns slowly is another problem).
LR_SMALL = 1e-2
# A run that learned almost nothing: the loss ends above this share of the first epoch's ...
LR_NOTHING = 0.95
# ... while the weights barely moved: the median over epochs and layers of the relative change of a
# layer's weights in one epoch (``layers.csv`` update_ratio) is under this. Healthy runs move their
# weights ~1e-2 to 1e-1 per epoch; SGD at 1e-5 moves them ~1e-5.
LR_UPDATE_TINY = 1e-4

# Oscillation: in each quarter of the last half of the steps, the median step-to-step |change| of
# the loss is over this many times the quarter's level (its 10%-trimmed mean). Robust statistics and every quarter, not a mean
# over the half: heavy-tailed per-step losses (a few bad batches near convergence) must not trip it.
# Mini-batch noise in healthy runs gives 0.2-0.6.
OSCILLATION_RATIO = 1.0
OSCILLATION_PARTS = 4
# A loss whose last half sits under this share of the first epoch's has converged well: its
# batch-to-batch bounce is noise around a small value, not a rate too high to learn.
OSCILLATION_CONVERGED = 0.1


def divergence(records: Records) -> Finding | None:
    """The training loss rose back: per epoch, or in the smoothed per-step loss (error)."""
    where, x, values = "epoch", *finite_epochs(records, "loss")
    found = _gave_back(values)
    if found is None:
        steps, step_loss = finite_steps(records, "loss")
        window = max(1, int(len(step_loss) * STEP_SMOOTHING))
        where, x, values = "step", steps[window - 1:], moving_average(step_loss, window)
        found = _gave_back(values)
    if found is None:
        return None
    i_min, ratio = found
    lr = last_lr(records)
    low_at, last_at, low, last = int(x[i_min]), int(x[-1]), float(values[i_min]), float(values[-1])
    evidence = {"unit": where, f"min_{where}": low_at, "min_loss": low, f"last_{where}": last_at,
                "last_loss": last, "ratio": ratio, "lr": lr}
    smoothed = " (moving average)" if where == "step" else ""
    message = (f"The training loss diverged: it rose {ratio:.1f}x from its minimum{smoothed} {fmt(low)}"
               f" at {where} {low_at} to {fmt(last)} at {where} {last_at}.")
    advice = (f"lower the learning rate 3-10x (now {fmt(lr)}), or add optimizer.global_clip_norm: 1.0,"
              " or decay the rate with a schedule (warmup_cosine)")
    return Finding("divergence", "error", message, evidence, advice)


def overfitting(records: Records) -> Finding | None:
    """Validation loss bottomed at epoch E, then rose clearly while the training loss kept falling (warning).

    The training side is ``train_eval_loss`` when recorded (the training data re-evaluated in
    inference mode: the true gap, free of dropout and of averaging over a changing model),
    else the running training loss.
    """
    val_epochs, val = finite_epochs(records, "val_loss")
    if len(val) < OVERFIT_MIN_EPOCHS + 1:
        return None
    window = max(3, round(len(val) * OVERFIT_SMOOTHING))
    smooth = moving_average(val, window)  # smooth[j] ends at epoch val_epochs[j + window - 1]
    j_best = int(np.argmin(smooth))
    smoothed_rise = float(smooth[-1] / smooth[j_best] - 1) if smooth[j_best] > 0 else 0.0
    if len(smooth) - 1 - j_best < OVERFIT_MIN_EPOCHS or smoothed_rise <= OVERFIT_RISE:
        return None
    # The evidence names the raw lowest epoch (the one early stopping would keep) up to the smoothed low.
    i_best = int(np.argmin(val[:j_best + window]))
    best_epoch, last_epoch = int(val_epochs[i_best]), int(val_epochs[-1])
    rise = float(val[-1] / val[i_best] - 1) if val[i_best] > 0 else 0.0
    column = "train_eval_loss" if len(finite_epochs(records, "train_eval_loss")[1]) else "loss"
    train = dict(zip(*[a.tolist() for a in finite_epochs(records, column)]))
    train_best, train_last = train.get(float(best_epoch)), train.get(float(last_epoch))
    if train_best is None or train_last is None or train_last >= train_best:
        return None
    gap_best, gap_last = float(val[i_best] - train_best), float(val[-1] - train_last)
    evidence = {"best_epoch": best_epoch, "min_val_loss": float(val[i_best]), "last_epoch": last_epoch,
                "final_val_loss": float(val[-1]), "rise": rise, "smoothed_rise": smoothed_rise,
                "smoothing_epochs": window, "train_column": column,
                "train_loss_at_best": train_best, "final_train_loss": train_last, "gap_at_best": gap_best,
                "final_gap": gap_last}
    measured = " (re-evaluated in inference mode)" if column == "train_eval_loss" else ""
    message = (f"The model over-fits from epoch {best_epoch}: validation loss was lowest there ({fmt(val[i_best])})"
               f" and ended {rise:.0%} higher ({fmt(val[-1])}) at epoch {last_epoch} ({smoothed_rise:.0%} on its"
               f" {window}-epoch moving average) while the training loss{measured}"
               f" fell from {fmt(train_best)} to {fmt(train_last)} (gap {fmt(gap_best)} -> {fmt(gap_last)}).")
    summary = records.summary
    if summary.get("restored_best_weights") and summary.get("best_epoch") == best_epoch:
        # Early stopping caught it: the saved model is the best epoch's, not an over-fitted one.
        evidence["restored_epoch"] = best_epoch
        message += f" Early stopping restored the weights of epoch {best_epoch}, so the saved model is not over-fitted."
        advice = ("nothing is wrong with the saved model; to spend fewer epochs past the best one, lower"
                  " training.early_stopping.patience, or regularize more (dropout, kernel_regularizer l2)")
        return Finding("overfitting", "info", message, evidence, advice)
    advice = (f"add training.early_stopping with restore_best_weights: true (patience ~{OVERFIT_MIN_EPOCHS}-10),"
              " raise dropout, add weight decay (kernel_regularizer l2), use a smaller model, or get more data")
    return Finding("overfitting", "warning", message, evidence, advice)


def plateau(records: Records) -> Finding | None:
    """The training loss is flat over the last half and still near where it started (warning).

    Not raised when the weights barely moved (see :func:`lr_too_low`): then the rate, not the model, is at fault.
    """
    epochs, loss = finite_epochs(records, "loss")
    if len(loss) < MIN_EPOCHS or loss[0] <= 0:
        return None
    half = loss[len(loss) // 2:]
    # A straight-line fit, not the end points: one noisy epoch must not make a flat curve "move".
    slope = float(np.polyfit(np.arange(len(half)), half, 1)[0])
    change = abs(slope) * (len(half) - 1) / max(float(half.mean()), 1e-12)
    level = float(loss[-1] / loss[0])
    lr = last_lr(records)
    if change >= PLATEAU_CHANGE or level <= PLATEAU_HIGH or _steps_too_small(records, lr)[0]:
        return None
    evidence = {"first_loss": float(loss[0]), "final_loss": float(loss[-1]), "from_epoch": int(epochs[len(loss) // 2]),
                "last_epoch": int(epochs[-1]), "relative_change": change, "lr": lr}
    message = (f"The training loss plateaued: it moved {change:.2%} from epoch {int(epochs[len(loss) // 2])}"
               f" to {int(epochs[-1])} and ends at {fmt(loss[-1])}, {level:.0%} of the first epoch's {fmt(loss[0])}.")
    advice = (f"the model under-fits: raise the learning rate (now {fmt(lr)}) or switch to adam, use a larger"
              " model, lower regularization/dropout, and check that inputs are standardized and labels match the loss")
    return Finding("plateau", "warning", message, evidence, advice)


def lr_too_low(records: Records) -> Finding | None:
    """A learning rate too small: the run learned almost nothing because its weights barely moved (warning),
    or the loss still falls steadily at the end, far from converged, with a small rate (info).

    The second is not raised when early stopping ended the run: then the validation loss, not the rate, set the end.
    """
    epochs, loss = finite_epochs(records, "loss")
    lr = last_lr(records)
    if len(loss) < MIN_EPOCHS or loss[0] <= 0 or lr is None:
        return None
    if loss[-1] / loss[0] >= LR_NOTHING and (nothing := _learned_nothing(records, epochs, loss, lr)) is not None:
        return nothing
    if lr > LR_SMALL or records.stopped_at is not None:
        return None
    half = loss[len(loss) // 2:]
    # Fitted, not epoch-to-epoch: mini-batch noise makes single epochs go up now and then.
    drop = -float(np.polyfit(np.arange(len(half)), half, 1)[0]) / float(half.mean())
    if drop < LR_MIN_DROP or loss[-1] / loss[0] < LR_FAR:
        return None
    from_epoch = int(epochs[len(loss) // 2])
    evidence = {"from_epoch": from_epoch, "last_epoch": int(epochs[-1]), "drop_per_epoch": drop,
                "first_loss": float(loss[0]), "final_loss": float(loss[-1]), "lr": lr}
    message = (f"The loss was still falling {drop:.1%} per epoch from epoch {from_epoch} to {int(epochs[-1])} and"
               f" ends at {fmt(loss[-1])}, {loss[-1] / loss[0]:.0%} of the first epoch's: training stopped far"
               " from converged.")
    advice = f"raise the learning rate 3-10x (now {fmt(lr)}), or train for more epochs"
    return Finding("lr_too_low", "info", message, evidence, advice)


def _learned_nothing(records: Records, epochs: np.ndarray, loss: np.ndarray, lr: float) -> Finding | None:
    """The warning for a run whose loss barely moved because its steps were too small to move the weights."""
    small, moved = _steps_too_small(records, lr)
    if not small:
        return None
    evidence = {"first_loss": float(loss[0]), "final_loss": float(loss[-1]), "last_epoch": int(epochs[-1]),
                "lr": lr, **moved}
    _, accuracy = finite_epochs(records, "val_accuracy")
    if len(accuracy):
        evidence["final_val_accuracy"] = float(accuracy[-1])
    weights = ("" if not moved else f" and the weights of its most-changed layer ({moved['layer']}) moved"
               f" {moved['update_ratio']:.1g} of their size per epoch")
    scored = f" (validation accuracy {accuracy[-1]:.2f})" if len(accuracy) else ""
    message = (f"The run learned almost nothing: the training loss went from {fmt(loss[0])} to {fmt(loss[-1])}"
               f" in {int(epochs[-1])} epochs{scored}{weights}; a learning rate of {fmt(lr)} is orders of"
               " magnitude too small for it.")
    advice = (f"run `trainlab lr-find <recipe>` and train at the rate it suggests (now {fmt(lr)}; adam usually"
              " learns at 1e-3, sgd at 1e-2 to 1e-1)")
    return Finding("lr_too_low", "warning", message, evidence, advice)


def _steps_too_small(records: Records, lr: float | None) -> tuple[bool, dict]:
    """Whether the optimizer's steps were too small to move the weights, and the numbers that show it.

    Read from ``layers.csv``'s update_ratio when recorded (the layer that moved most, by its median
    epoch, under ``LR_UPDATE_TINY``); a layer with no gradient at all (dead units) moves nothing at
    any rate, so the most-changed layer is the one judged. Without it, a rate under ``PLATEAU_MIN_LR``.
    """
    ratios = {name: float(np.median(v[np.isfinite(v)])) for name, (_, v) in records.layer_series("update_ratio").items()
              if np.isfinite(v).any()}
    if ratios:
        layer = max(ratios, key=ratios.get)
        return ratios[layer] < LR_UPDATE_TINY, {"layer": layer, "update_ratio": ratios[layer]}
    # The rate as recorded is float32: 1e-5 reads back as 9.99999975e-06.
    return lr is not None and lr < PLATEAU_MIN_LR * (1 - 1e-6), {}


def oscillation(records: Records) -> Finding | None:
    """The per-step loss bounces by more than its own level in every part of the last half of the steps (warning).

    Judged with medians and trimmed means in each of ``OSCILLATION_PARTS`` parts (a persistent bounce, not a few heavy-tailed
    batches), and not when the loss has converged to under ``OSCILLATION_CONVERGED`` of the first epoch's.
    """
    steps, loss = finite_steps(records, "loss")
    half = loss[len(loss) // 2:]
    if len(half) < 20:
        return None
    parts = np.array_split(half, OSCILLATION_PARTS)
    levels = np.array([_trimmed_mean(part) for part in parts])
    if not (levels > 0).all():
        return None
    ratios = np.array([np.median(np.abs(np.diff(part))) for part in parts]) / levels
    _, epoch_loss = finite_epochs(records, "loss")
    converged = len(epoch_loss) > 0 and float(np.median(half)) < OSCILLATION_CONVERGED * float(epoch_loss[0])
    if ratios.min() <= OSCILLATION_RATIO or converged:
        return None
    ratio, level = float(np.median(ratios)), _trimmed_mean(half)
    lr = last_lr(records)
    evidence = {"from_step": int(steps[len(loss) // 2]), "last_step": int(steps[-1]), "ratio": ratio,
                "min_part_ratio": float(ratios.min()), "mean_loss": level, "lr": lr}
    message = (f"The loss oscillates: from step {int(steps[len(loss) // 2])} on, it changes by {ratio:.1f}x its"
               f" typical level ({fmt(level)}) from one step to the next, in every quarter of those steps.")
    advice = (f"lower the learning rate 3-10x (now {fmt(lr)}), raise the batch size, or decay the rate"
              " with a schedule")
    return Finding("oscillation", "warning", message, evidence, advice)


def _trimmed_mean(values: np.ndarray, cut: float = 0.1) -> float:
    """The mean without the lowest and highest ``cut`` share: a level a few extreme batches cannot move."""
    values = np.sort(values)
    k = int(len(values) * cut)
    return float(values[k:len(values) - k].mean())


def _gave_back(loss: np.ndarray) -> tuple[int, float] | None:
    """``(argmin, last/min)`` when the curve ends well above its minimum, else None."""
    if len(loss) < 3:
        return None
    i_min = int(np.argmin(loss))
    low, first, last = float(loss[i_min]), float(loss[0]), float(loss[-1])
    if low <= 0 or i_min == len(loss) - 1:
        return None
    ratio = last / low
    gave_back = (last - low) >= DIVERGE_GIVEN_BACK * max(first - low, 0.0)
    return (i_min, ratio) if ratio > DIVERGE_FACTOR and gave_back else None
