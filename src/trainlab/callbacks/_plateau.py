"""Reduce-on-plateau that also works when the learning rate is a schedule.

Keras' ``ReduceLROnPlateau`` assigns ``optimizer.learning_rate``, which raises a
``TypeError`` when the optimizer was built with a schedule. trainlab wraps every
schedule in :class:`trainlab.schedules.Scaled`; this callback multiplies that
wrapper's scale instead, so the schedule keeps its shape and the plateau rule
lowers it as a whole. With a plain number it behaves exactly like Keras'.
"""

from __future__ import annotations

import keras
import numpy as np


class ReduceLROnPlateau(keras.callbacks.ReduceLROnPlateau):
    """``keras.callbacks.ReduceLROnPlateau`` that scales schedules instead of failing."""

    def _reduce_optimizer_lr(self, optimizer, epoch, name=""):
        schedule = getattr(optimizer, "_learning_rate", None)  # Keras keeps no public handle
        scale = getattr(schedule, "scale", None)
        if not isinstance(schedule, keras.optimizers.schedules.LearningRateSchedule) or scale is None:
            return super()._reduce_optimizer_lr(optimizer, epoch, name)
        current = float(keras.ops.convert_to_numpy(optimizer.learning_rate))
        if current <= np.float32(self.min_lr):
            return False
        old = float(keras.ops.convert_to_numpy(scale))
        new = old * self.factor
        if self.min_lr > 0 and current * self.factor < self.min_lr:
            new = old * self.min_lr / current
        scale.assign(new)
        if self.verbose > 0:
            keras.utils.io_utils.print_msg(
                f"\nEpoch {epoch + 1}: ReduceLROnPlateau scaling the learning-rate schedule by {new:.4g}."
            )
        return True
