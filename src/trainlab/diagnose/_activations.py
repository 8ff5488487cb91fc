"""Rules on the activation probe (``layers.csv``): dead ReLU units and saturated sigmoid/tanh units.

The trainer probes a fixed sample of the training data with each epoch's weights in inference
mode; ``dead_fraction`` is the share of a relu layer's units that output zero for every sample,
``saturated_fraction`` the share of a sigmoid/tanh layer's outputs in the flat tails. Only hidden
layers are judged: an output sigmoid in its tails is a confident prediction, not a fault.
"""

from __future__ import annotations

import numpy as np

from trainlab.diagnose._finding import Finding
from trainlab.diagnose._series import fmt, last_lr
from trainlab.rundir import Records

# Share of a hidden relu layer's units dead at the last epoch that is worth a warning. A healthy
# MLP (tutorial section 4, Adam 1e-3) ends with 0-15% dead units per layer; a run knocked over by
# a too-large step or a negative bias loses half of a layer or more.
DEAD_FRACTION = 0.4
# Share of a hidden sigmoid/tanh layer's outputs in the flat tails (derivative under 2% of its
# peak) at the last epoch that is worth a warning: such units pass almost no gradient back.
SATURATED_FRACTION = 0.3


def dead_relu(records: Records) -> Finding | None:
    """Hidden relu layers whose units have stopped firing on every probe sample (warning)."""
    worst = _hidden_last(records, "dead_fraction", DEAD_FRACTION)
    if worst is None:
        return None
    layers, first = worst
    names = ", ".join(f"{name} {value:.0%}" for name, value in layers.items())
    grew = {name: first[name] for name in layers if name in first}
    since = "" if not grew else " (after the first epoch: " + ", ".join(f"{n} {v:.0%}" for n, v in grew.items()) + ")"
    lr = last_lr(records)
    message = (f"Dead ReLU units: at the last epoch {names} of the units output zero for every probe sample"
               f"{since}; they get no gradient and cannot recover.")
    advice = (f"lower the learning rate (now {fmt(lr)}) or add optimizer.global_clip_norm: 1.0; use"
              " model.kernel_initializer: he_normal, or an activation without a dead zone (leaky_relu, elu, gelu)")
    evidence = {"dead_fraction": layers, "first_epoch_dead_fraction": grew, "threshold": DEAD_FRACTION, "lr": lr}
    return Finding("dead_relu", "warning", message, evidence, advice)


def saturation(records: Records) -> Finding | None:
    """Hidden sigmoid/tanh layers whose outputs sit in the flat tails (warning)."""
    worst = _hidden_last(records, "saturated_fraction", SATURATED_FRACTION)
    if worst is None:
        return None
    layers, first = worst
    names = ", ".join(f"{name} {value:.0%}" for name, value in layers.items())
    message = (f"Saturated units: at the last epoch {names} of the outputs sit in the sigmoid/tanh tails,"
               " where the derivative is under 2% of its peak, so little gradient gets through.")
    advice = ("standardize the inputs, use glorot_uniform (the default) or smaller initial weights, add"
              " batch normalization before the activation, or use relu-family activations in hidden layers")
    evidence = {"saturated_fraction": layers, "first_epoch_saturated_fraction": {n: first[n] for n in layers if n in first},
                "threshold": SATURATED_FRACTION}
    return Finding("saturation", "warning", message, evidence, advice)


def _hidden_last(records: Records, column: str, threshold: float) -> tuple[dict, dict] | None:
    """``({layer: value at the last epoch}, {layer: value at the first})`` for hidden layers at or over ``threshold``."""
    series = records.layer_series(column)
    names = list(records.layer_series("grad_norm")) or list(series)
    output = names[-1] if names else None  # layers.csv lists layers in model order: the output layer last
    over, first = {}, {}
    for name, (_, values) in series.items():
        values = values[np.isfinite(values)]
        if name == output or not len(values):
            continue
        first[name] = float(values[0])
        if values[-1] >= threshold:
            over[name] = float(values[-1])
    return (over, first) if over else None
