"""One optimizer step through TensorFlow's fused kernels, where they compute what Keras computes.

Keras 3 writes each update as a dozen small ops per variable (Adam: about 25), which
on small models costs more than the forward and backward passes, both in graph
tracing and per step. TensorFlow ships fused kernels (``ResourceApplyAdam``,
``ResourceApplyKerasMomentum``, ``ResourceApplyGradientDescent``) that apply the same
formulas in one op per variable, on the optimizer's own slot variables. The formulas
match Keras' ``update_step`` term for term (tests compare many steps against
``optimizer.apply``); anything else (weight decay, EMA, AMSGrad, gradient accumulation,
a static ``loss_scale_factor``, a distribution strategy) takes Keras' own ``apply``. A
``LossScaleOptimizer`` around a fusable optimizer (what ``mixed_float16`` gives) keeps its dynamic
scaling as Keras writes it (skip and halve on an overflow, double after ``dynamic_growth_steps``),
with the inner update fused.

The kernels read Keras' private optimizer state (``_momentums``, ``_velocities``, ``_clip_gradients``,
``_get_variable_index``), which a Keras release may change: with a Keras outside :data:`TESTED_KERAS`
every update takes Keras' own ``apply`` (same results, slower), with one warning.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Sequence

import keras
import tensorflow as tf

# The Keras versions (major, minor), first and last, whose optimizers tests/optimizers/test_fused.py
# checked the fused kernels against. pyproject.toml caps Keras at the last one.
TESTED_KERAS = ((3, 10), (3, 15))


def keras_tested(version: str) -> bool:
    """True when ``version`` (such as ``"3.15.1"``) is within :data:`TESTED_KERAS`."""
    try:
        major_minor = tuple(int(part) for part in version.split(".")[:2])
    except ValueError:  # a development build such as "3.16.0.dev2026"
        return False
    return TESTED_KERAS[0] <= major_minor <= TESTED_KERAS[1]


@functools.cache
def _fused_kernels_allowed(version: str) -> bool:
    if keras_tested(version):
        return True
    first, last = (".".join(map(str, v)) for v in TESTED_KERAS)
    warnings.warn(
        f"keras {version} is outside the versions trainlab's fused optimizer kernels were tested with "
        f"({first} to {last}): optimizers update through Keras' own apply (the same updates, slower); "
        "to check a newer Keras, run pytest tests/optimizers/test_fused.py with it",
        RuntimeWarning,
        stacklevel=3,
    )
    return False


def fusable(optimizer: keras.optimizers.Optimizer) -> bool:
    """True when :func:`apply` can update with fused kernels for this optimizer (and this Keras)."""
    if not _fused_kernels_allowed(keras.__version__):
        return False
    if isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
        return fusable(optimizer.inner_optimizer) and not tf.distribute.has_strategy()
    plain = (
        not optimizer.use_ema
        and optimizer.weight_decay is None
        and optimizer.gradient_accumulation_steps is None
        and optimizer.loss_scale_factor is None
        and not tf.distribute.has_strategy()
    )
    if type(optimizer) is keras.optimizers.Adam:
        return plain and not optimizer.amsgrad
    return plain and type(optimizer) is keras.optimizers.SGD


def apply(optimizer: keras.optimizers.Optimizer, grads: Sequence[tf.Tensor], variables: Sequence) -> None:
    """``optimizer.apply(grads, variables)``, through fused kernels when :func:`fusable` (in a tf.function)."""
    if not fusable(optimizer):
        optimizer.apply(grads, variables)
        return
    if isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
        _loss_scaled(optimizer, grads, variables)
        return
    lr = tf.cast(optimizer.learning_rate, tf.float32)  # the schedule at the current iteration, as Keras reads it
    grads = optimizer._clip_gradients(list(grads))  # Keras' own clipping (clipnorm, global_clipnorm, clipvalue)
    if isinstance(optimizer, keras.optimizers.Adam):
        step = tf.cast(optimizer.iterations + 1, tf.float32)
        # tf.cast, not tf.constant: a cycled beta_1 (trainlab.optimizers.cycle_momentum) is a tensor per step.
        beta_1 = tf.cast(optimizer.beta_1, tf.float32)
        beta_1_power = tf.pow(beta_1, step)
        beta_2_power = tf.pow(tf.constant(optimizer.beta_2, tf.float32), step)
        for grad, variable in zip(grads, variables):
            i = optimizer._get_variable_index(variable)
            tf.raw_ops.ResourceApplyAdam(
                var=variable.handle, m=optimizer._momentums[i].handle, v=optimizer._velocities[i].handle,
                beta1_power=beta_1_power, beta2_power=beta_2_power, lr=lr,
                beta1=beta_1, beta2=tf.constant(optimizer.beta_2, tf.float32),
                epsilon=tf.constant(optimizer.epsilon, tf.float32), grad=grad,
            )
    elif optimizer.momentum == 0:
        for grad, variable in zip(grads, variables):
            tf.raw_ops.ResourceApplyGradientDescent(var=variable.handle, alpha=lr, delta=grad)
    else:
        momentum = tf.cast(optimizer.momentum, tf.float32)  # as beta_1 above
        for grad, variable in zip(grads, variables):
            i = optimizer._get_variable_index(variable)
            tf.raw_ops.ResourceApplyKerasMomentum(
                var=variable.handle, accum=optimizer.momentums[i].handle, lr=lr, grad=grad, momentum=momentum,
                use_nesterov=bool(optimizer.nesterov),
            )
    optimizer.iterations.assign_add(1)


def _loss_scaled(
    optimizer: keras.optimizers.LossScaleOptimizer, grads: Sequence[tf.Tensor], variables: Sequence
) -> None:
    """Keras' ``LossScaleOptimizer`` update (``_common_apply``: finite gradients unscaled and applied, the scale
    doubled after ``dynamic_growth_steps`` of them; else nothing applied and the scale halved), the inner
    optimizer's update through :func:`apply`."""
    counter, scale = optimizer.step_counter, optimizer.dynamic_scale

    def finite() -> None:
        apply(optimizer.inner_optimizer, [tf.convert_to_tensor(g) / scale for g in grads], variables)

        def grow() -> None:
            counter.assign(0)
            scale.assign(scale * 2.0)

        def count() -> None:
            counter.assign_add(1)

        tf.cond(tf.equal(counter, optimizer.dynamic_growth_steps - 1), grow, count)

    def overflow() -> None:
        counter.assign(0)
        scale.assign(scale * 0.5)

    tf.cond(optimizer.check_finite(grads), finite, overflow)
