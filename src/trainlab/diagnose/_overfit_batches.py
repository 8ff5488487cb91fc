"""The rule of ``training.overfit_batches``: a model that cannot memorize a few fixed batches has a bug.

A run with ``overfit_batches: N`` trains on the same N batches every epoch and validates on them, in
inference mode (its ``val_loss``). Any model with enough weights drives that loss near zero; one that
cannot has a bug in the model (frozen or too narrow layers, a wrong output), the loss (one that does
not match the labels) or the labels themselves (contradicting each other), or a rate too small to learn.

Thresholds, from runs of ``examples/basic.yaml`` with ``overfit_batches`` 1, 2 and 4 (64-256
samples), Adam 1e-3: healthy runs end at 1-3% of the first epoch's loss after 100 epochs (10-24%
after 50, falling 4-6% a epoch at the end, accuracy already 0.98-1.0); a model whose two hidden
layers are frozen and 1 to 4 units wide, or a learning rate of 1e-5, ends at 93-99%, its loss
moving under 0.1% a epoch.
"""

from __future__ import annotations

import numpy as np

from trainlab.diagnose._finding import Finding
from trainlab.diagnose._series import finite_epochs, fmt, last_lr
from trainlab.rundir import Records

# Near zero: the final loss on the fixed batches is at most this share of the first epoch's loss ...
NEAR_ZERO = 0.05
# ... or the batches are classified this well (accuracy-like metrics), which healthy runs reach sooner.
MEMORIZED = 0.99
# Still learning: over the last quarter of the epochs (at least 3) a straight line fitted to the loss falls
# at least this much per epoch, relative to its mean: then the run only needs more epochs.
STILL_FALLING = 0.01
MIN_EPOCHS = 3  # fewer: nothing to judge (a fast dev run trains one epoch)


def cannot_overfit(records: Records) -> Finding | None:
    """A run with ``training.overfit_batches`` whose loss on those batches stayed far from zero (error), or is
    still falling when training ended (info).
    """
    batches = (records.summary.get("sanity") or {}).get("overfit_batches")
    if not batches:
        return None
    column = "val_loss" if len(finite_epochs(records, "val_loss")[1]) else "loss"
    epochs, loss = finite_epochs(records, column)
    _, first = finite_epochs(records, "loss")
    if len(loss) < MIN_EPOCHS or not len(first) or first[0] <= 0:
        return None
    level = float(loss[-1] / first[0])
    accuracy = _accuracy(records)
    if level <= NEAR_ZERO or (accuracy is not None and accuracy >= MEMORIZED):
        return None
    tail = loss[-max(MIN_EPOCHS, len(loss) // 4):]
    falling = -float(np.polyfit(np.arange(len(tail)), tail, 1)[0]) / max(float(tail.mean()), 1e-12)
    lr = last_lr(records)
    evidence = {"overfit_batches": int(batches), "column": column, "first_loss": float(first[0]),
                "final_loss": float(loss[-1]), "level": level, "last_epoch": int(epochs[-1]),
                "falling_per_epoch": falling, "accuracy": accuracy, "lr": lr}
    where = f"on its {batches} fixed batch{'es' if batches > 1 else ''} (training.overfit_batches)"
    scored = "" if accuracy is None else f", accuracy {accuracy:.3f}"
    if falling >= STILL_FALLING:
        message = (f"The loss {where} ends at {fmt(loss[-1])}, {level:.0%} of the first epoch's{scored}, and was still"
                   f" falling {falling:.1%} per epoch: not memorized yet.")
        return Finding("cannot_overfit", "info", message, evidence,
                       f"train for more epochs (now {int(epochs[-1])}) or at a higher learning rate (now {fmt(lr)})")
    message = (f"The model cannot memorize {batches} batch{'es' if batches > 1 else ''}: its loss {where} stays at"
               f" {fmt(loss[-1])}, {level:.0%} of the first epoch's {fmt(first[0])}{scored}, and no longer falls.")
    advice = ("a healthy model drives this loss near zero: look for a bug. The model: frozen (trainable: false) or"
              " too narrow layers, an output that does not fit the loss. The loss: one that does not match the labels"
              f" (from_logits, sparse or one-hot). The labels: misaligned with the inputs. Or a learning rate too small"
              f" to learn (now {fmt(lr)})")
    return Finding("cannot_overfit", "error", message, evidence, advice)


def _accuracy(records: Records) -> float | None:
    """The final accuracy-like metric on the fixed batches (their validation twin), or None."""
    for name in records.metrics:
        if "acc" in name.lower():
            for column in (f"val_{name}", name):
                _, values = finite_epochs(records, column)
                if len(values):
                    return float(values[-1])
    return None
