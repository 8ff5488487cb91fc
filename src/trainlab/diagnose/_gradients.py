"""Rules on numbers and gradients: non-finite values, exploding and vanishing gradients."""

from __future__ import annotations

import math

import numpy as np

from trainlab.diagnose._finding import Finding
from trainlab.diagnose._series import finite_epochs, finite_steps, fmt, last_lr
from trainlab.rundir import Records

# A step's gradient norm counts as a spike when it exceeds this many times the median of the
# steps just before it, and as many times their 90th percentile. Mini-batch noise in healthy runs
# (tutorial section 4's model, Adam 1e-3, 800 samples, 100 epochs) stays under about 4x the median;
# near convergence norms turn heavy-tailed (a few misclassified samples in a batch) and reach 10-15x
# the median but stay under ~8x the 90th percentile; a genuine blow-up is orders of magnitude.
SPIKE_FACTOR = 10.0
SPIKE_QUANTILE = 0.9
# How many preceding steps the spike's reference median is taken over, and the fewest needed.
# A local reference (not the run's median) keeps the normal decay of gradient norms as a run
# converges (1000x over an over-fitting run) from reading as a spike.
SPIKE_WINDOW = 20
SPIKE_MIN_CONTEXT = 5
# Growth of the mean gradient norm from the first to the last epoch that means explosion:
# two orders of magnitude, far beyond the ~1-3x drift of healthy runs.
GROWTH_FACTOR = 100.0
# The first layer's mean gradient norm this many times smaller than the output layer's means
# the signal vanishes on its way back (a 6-layer sigmoid MLP shows ~4e-4; healthy relu MLPs
# sit within ~0.3-3x).
VANISHING_RATIO = 1e-2


def nonfinite(records: Records) -> Finding | None:
    """A NaN or inf loss or gradient norm: met in training (``events.csv``), or in the records (error).

    With ``training.on_nonfinite: rollback`` (the default) training meets a non-finite value,
    goes back to its last good state and goes on; ``events.csv`` says where and what was done.
    A run that recovered is a warning, one that gave up (or stopped) an error. Without events,
    any non-finite value in ``steps.csv`` or ``history.csv`` means training broke: the weights
    are NaN from there on. The first step is reported when ``steps.csv`` has one, else the first epoch.
    A step skipped for a loss-scale overflow (event ``skip_step``, its ``grad_norm`` inf) is loss scaling
    at work (``training.precision: mixed_float16``), not a non-finite value; nor is the NaN mean gradient
    norm of an epoch whose every step was skipped.
    """
    skips = [e for e in records.events if e.get("action") == "skip_step"]
    events = [e for e in records.events if e.get("action") != "skip_step"]
    if events:
        return _nonfinite_events(events)
    skipped, overflowed = {_int(e.get("step")) for e in skips}, {_int(e.get("epoch")) for e in skips}
    step = _first_nonfinite([r for r in records.steps if _int(r.get("step")) not in skipped], ("loss", "grad_norm"))
    history = [{k: v for k, v in r.items() if k != "grad_norm" or _int(r.get("epoch")) not in overflowed}
               for r in records.history]
    epoch = _first_nonfinite(history, ("loss", "val_loss", "grad_norm"))
    if step is None and epoch is None:
        return None
    evidence: dict = {}
    if epoch is not None:
        evidence.update({"first_epoch": _int(epoch[0].get("epoch")), "epoch_column": epoch[1]})
    if step is not None:
        row, column = step
        at = f"step {_int(row.get('step'))} (epoch {_int(row.get('epoch'))})"
        steps, norms = finite_steps(records, "grad_norm")
        before = norms[steps < _int(row.get("step"))]
        evidence.update({"first_step": _int(row.get("step")), "step_epoch": _int(row.get("epoch")),
                         "step_column": column, "last_finite_grad_norm": float(before[-1]) if len(before) else None})
    else:
        row, column = epoch
        at = f"epoch {_int(row.get('epoch'))}"
    lr = _float(row.get("lr"))
    evidence["lr"] = lr
    message = (f"Training produced a non-finite {column} at {at} with learning rate {fmt(lr)};"
               " every value after it is meaningless.")
    advice = (f"lower the learning rate 10-100x (now {fmt(lr)}), or add optimizer.global_clip_norm: 1.0;"
              " check the data for NaN/inf values and that inputs are standardized")
    return Finding("nonfinite", "error", message, evidence, advice)


def _nonfinite_events(events: list[dict]) -> Finding:
    """The finding for the non-finite values training met and handled (rows of ``events.csv``)."""
    first, last = events[0], events[-1]
    rollbacks = [e for e in events if e.get("action") == "rollback"]
    lr, what = _float(first.get("lr")), first.get("what") or "value"
    evidence = {"events": len(events), "rollbacks": len(rollbacks), "first_step": _int(first.get("step")),
                "first_epoch": _int(first.get("epoch")), "what": what, "lr": lr, "last_action": last.get("action"),
                "lr_scale": _float(rollbacks[-1].get("lr_scale")) if rollbacks else None}
    at = f"step {evidence['first_step']} (epoch {evidence['first_epoch']}) with learning rate {fmt(lr)}"
    times = "once" if len(events) == 1 else f"{len(events)} times"
    rolled = (f"it went back to its last good state, skipped the batch and lowered the learning rate"
              f" ({len(rollbacks)} rollback{'s' if len(rollbacks) != 1 else ''}, the rate now"
              f" x{fmt(evidence['lr_scale'])} of the recipe's)") if rollbacks else ""
    if last.get("action") == "give_up":
        gave_up = f"gave up at step {_int(last.get('step'))} (epoch {_int(last.get('epoch'))}): the run failed"
        message = (f"Training met a non-finite {what} {times}, first at {at}; "
                   + (f"{rolled}, and {gave_up}." if rollbacks else f"it {gave_up} (no rollback allowed)."))
        severity = "error"
    elif last.get("action") == "stop":
        message = f"Training produced a non-finite {what} at {at} and stopped (training.on_nonfinite: stop)."
        severity = "error"
    else:
        message = f"Training met a non-finite {what} {times}, first at {at}, and recovered: {rolled}."
        severity = "warning"
    advice = (f"lower the learning rate 10-100x (it was {fmt(lr)}), or add optimizer.global_clip_norm: 1.0;"
              " check the data for NaN/inf values and that inputs are standardized")
    return Finding("nonfinite", severity, message, evidence, advice)


def exploding_gradients(records: Records) -> Finding | None:
    """Gradient norm spikes (> ``SPIKE_FACTOR`` x the recent median) or growth >= ``GROWTH_FACTOR`` x.

    Growth over the run is an error (the run is on its way to NaN); isolated spikes a warning
    (one bad batch can throw the weights far off).
    """
    evidence: dict = {}
    steps, norms = finite_steps(records, "grad_norm")
    spike = _worst_spike(steps, norms)
    if spike is not None:
        evidence.update(spike)
    epochs, means = finite_epochs(records, "grad_norm")
    growth = None
    if len(means) >= 2 and means[0] > 0:
        growth = float(means[-1] / means[0])
        if growth >= GROWTH_FACTOR:
            evidence.update({"first_epoch": int(epochs[0]), "first_grad_norm": float(means[0]),
                             "last_epoch": int(epochs[-1]), "last_grad_norm": float(means[-1]),
                             "growth": growth})
        else:
            growth = None
    if spike is None and growth is None:
        return None
    lr = last_lr(records)
    evidence["lr"] = lr
    parts = []
    if spike is not None:
        parts.append(f"the gradient norm spiked to {fmt(spike['spike_grad_norm'])} at step {spike['spike_step']},"
                     f" {spike['spike_ratio']:.0f}x the median of the {SPIKE_WINDOW} steps before it"
                     + (f" ({spike['spike_grad_norm'] / spike['high_grad_norm']:.0f}x their 90th percentile)"
                        if spike["high_grad_norm"] > 0 else ""))
    if growth is not None:
        parts.append(f"the mean gradient norm grew {growth:.0f}x from epoch {int(epochs[0])}"
                     f" ({fmt(means[0])}) to epoch {int(epochs[-1])} ({fmt(means[-1])})")
    message = "Gradients exploded: " + " and ".join(parts) + "."
    advice = (f"add optimizer.global_clip_norm: 1.0 and lower the learning rate 3-10x (now {fmt(lr)});"
              " consider warm-up (warmup_cosine) or batch normalization")
    return Finding("exploding_gradients", "error" if growth is not None else "warning", message, evidence, advice)


def vanishing_gradients(records: Records) -> Finding | None:
    """The first layer's mean gradient norm <= ``VANISHING_RATIO`` x the output layer's (warning).

    Layers are in model order in ``layers.csv``: first layer first, ``output`` last.
    """
    layers = records.layer_series("grad_norm")
    if len(layers) < 2:
        return None
    names = list(layers)
    first, last = names[0], names[-1]
    first_mean, last_mean = _finite_mean(layers[first][1]), _finite_mean(layers[last][1])
    if first_mean is None or last_mean is None or last_mean <= 0:
        return None
    ratio = first_mean / last_mean
    if ratio > VANISHING_RATIO:
        return None
    evidence = {"first_layer": first, "first_grad_norm": first_mean, "output_layer": last,
                "output_grad_norm": last_mean, "ratio": ratio, "n_layers": len(names)}
    smaller = f"{1 / ratio:.0f}x smaller than" if ratio > 0 else "none at all, against"
    message = (f"Gradients vanish: the first layer {first} gets a mean gradient norm of {fmt(first_mean)},"
               f" {smaller} the output layer's ({fmt(last_mean)}), so early layers barely learn.")
    advice = ("use relu (or gelu) activations with he_normal initialization, add batch normalization,"
              " or use fewer sigmoid/tanh layers")
    return Finding("vanishing_gradients", "warning", message, evidence, advice)


def _worst_spike(steps: np.ndarray, norms: np.ndarray) -> dict | None:
    """The step whose norm is the most times the median of the ``SPIKE_WINDOW`` steps before it, when that
    is over ``SPIKE_FACTOR`` and the norm is also over ``SPIKE_FACTOR`` x their ``SPIKE_QUANTILE`` quantile
    (the earliest of equals); steps with fewer than ``SPIKE_MIN_CONTEXT`` before them are not judged."""
    norms = np.asarray(norms, dtype=np.float64)
    if len(norms) <= SPIKE_MIN_CONTEXT:
        return None
    # The medians and high quantiles of the windows before each step, all at once (a run has thousands of steps).
    windows = [norms[:i] for i in range(SPIKE_MIN_CONTEXT, min(SPIKE_WINDOW, len(norms)))]
    full = np.lib.stride_tricks.sliding_window_view(norms[:-1], SPIKE_WINDOW) if len(norms) > SPIKE_WINDOW \
        else np.zeros((0, SPIKE_WINDOW))
    reference = np.concatenate([np.asarray([np.median(w) for w in windows], dtype=np.float64), np.median(full, axis=1)])
    high = np.concatenate([np.asarray([np.quantile(w, SPIKE_QUANTILE) for w in windows], dtype=np.float64),
                           np.quantile(full, SPIKE_QUANTILE, axis=1)])
    current = norms[SPIKE_MIN_CONTEXT:]
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(reference > 0, current / np.where(reference > 0, reference, 1.0), -np.inf)
        over_high = current > SPIKE_FACTOR * high
    ratio = np.where(over_high, ratio, -np.inf)
    if not len(ratio) or not ratio.max() > SPIKE_FACTOR:
        return None
    at = int(np.argmax(ratio))
    i = at + SPIKE_MIN_CONTEXT
    return {"spike_step": int(steps[i]), "spike_grad_norm": float(norms[i]),
            "reference_grad_norm": float(reference[at]), "high_grad_norm": float(high[at]),
            "spike_ratio": float(ratio[at])}


def _first_nonfinite(rows: list[dict], columns: tuple[str, ...]) -> tuple[dict, str] | None:
    for row in rows:
        for column in columns:
            value = _float(row.get(column))
            if value is not None and not math.isfinite(value):
                return row, column
    return None


def _finite_mean(values: np.ndarray) -> float | None:
    values = values[np.isfinite(values)]
    return float(values.mean()) if len(values) else None


def _float(value) -> float | None:
    try:
        return None if value is None or value == "" else float(value)
    except (TypeError, ValueError):
        return None


def _int(value) -> int | None:
    number = _float(value)
    return int(number) if number is not None and math.isfinite(number) else None
