"""What the engine records over an epoch's steps, and how many steps an epoch has."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass
class EpochSteps:
    """What the engine recorded over an epoch's steps, per step and member.

    ``loss``, ``grad_norm`` and ``lr`` have shape ``[steps, K]``: each step's loss (with
    regularization), the global gradient norm measured before clipping, and the
    learning rate used. ``batch`` is each step's batch size, ``layer_grad_norm`` holds
    each member's per-layer gradient norms, ``[steps, layers]``, ``metrics`` each
    member's training metrics over the epoch so far. ``layer_weight_norm`` and
    ``layer_weight_l1`` are each member's per-layer L2 and L1 weight norms after the last
    step, and ``layer_update_ratio`` the relative change of each layer's weights over the
    steps, ``||W_end - W_start|| / ||W_start||``. ``state_finite`` says, per member, whether the rest of the
    state training changes (optimizer slots, batch-norm statistics) holds only finite values after the
    last step: with the weight norms, a NaN or inf anywhere in the state shows (None where not measured).

    With dynamic loss scaling (a member's optimizer a ``keras.optimizers.LossScaleOptimizer``, as
    ``mixed_float16`` gives it), ``loss_scale`` (``[steps, K]``) is the scale each step multiplied the loss
    by (1 for a member whose loss is not scaled) and ``overflow`` (``[steps, K]``, bool) marks the steps the
    optimizer skipped because the scaled gradients overflowed: their ``grad_norm`` is inf or NaN, nothing was
    applied and the scale was halved. That is loss scaling at work, not a non-finite value of training's
    (see :meth:`skipped`). Both are None when no member scales its loss dynamically.
    """

    loss: np.ndarray
    grad_norm: np.ndarray
    lr: np.ndarray
    batch: np.ndarray
    layer_grad_norm: list[np.ndarray]
    metrics: list[dict[str, float]]
    layer_weight_norm: list[np.ndarray]
    layer_weight_l1: list[np.ndarray]
    layer_update_ratio: list[np.ndarray]
    state_finite: np.ndarray | None = None
    loss_scale: np.ndarray | None = None
    overflow: np.ndarray | None = None

    def skipped(self, k: int) -> np.ndarray:
        """Per step, whether member ``k``'s optimizer skipped it for a loss-scale overflow (all False without)."""
        if self.overflow is None:
            return np.zeros(len(self.loss), bool)
        return self.overflow[:, k].astype(bool)

    @classmethod
    def concat(cls, parts: Sequence[EpochSteps]) -> EpochSteps:
        """Consecutive runs of one epoch's steps as one: per-step arrays joined, the rest from the last part.

        The metrics, weight norms and update ratios of the last part already cover the whole
        epoch: metrics accumulate until they are reset, and update ratios are measured from the
        weights at the epoch's start.
        """
        if len(parts) == 1:
            return parts[0]
        last = parts[-1]
        scaled = any(p.overflow is not None for p in parts)
        return cls(
            np.concatenate([p.loss for p in parts]), np.concatenate([p.grad_norm for p in parts]),
            np.concatenate([p.lr for p in parts]), np.concatenate([p.batch for p in parts]),
            [np.concatenate(layers) for layers in zip(*(p.layer_grad_norm for p in parts))],
            last.metrics, last.layer_weight_norm, last.layer_weight_l1, last.layer_update_ratio, last.state_finite,
            # A part without them (a resumed epoch's first part) scaled nothing it did not record as an overflow.
            np.concatenate([p.loss_scale if p.loss_scale is not None else np.full(p.loss.shape, np.nan, np.float32)
                            for p in parts]) if scaled else None,
            np.concatenate([p.overflow if p.overflow is not None else np.zeros(p.loss.shape, bool)
                            for p in parts]) if scaled else None,
        )


def steps_per_epoch(n_samples: int, batch_size: int, accumulate: int = 1) -> int:
    """Optimizer steps in an epoch of ``n_samples``: the last batch may be smaller; with ``accumulate`` (N > 1
    batches per step, see ``training.accumulate_grad_batches``), the last step may have fewer than N batches."""
    batches = -(-int(n_samples) // int(batch_size))
    return -(-batches // int(accumulate))

