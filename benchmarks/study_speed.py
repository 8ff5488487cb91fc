"""Tutorial section 6's study (4 variants x 3 seeds, 100 epochs each), trained three ways side by side.

Data: 500 x 50 synthetic samples (10 informative, 40 redundant), 70/30 split, standardized.
Variants of an MLP 256-128-64 relu + sigmoid: none, dropout 0.3/0.2/0.1, batch norm, both;
Adam 1e-3, binary cross-entropy, batch 32, validation every epoch. Compared:

- trainlab fused: ``trainlab.study`` with ``executor: fused``: the 12 runs train together in
  one compiled program (each with its own weights, dropout masks, batch-norm statistics and
  optimizer state), every record of every run written as in a single run;
- trainlab sequential: the same study with ``executor: sequential`` (12 runs one by one);
- Keras ``fit``: 12 sequential ``model.fit`` calls with Keras' defaults (NumPy input), as the
  tutorial did (it ran one seed per variant).

TensorFlow starts as ``trainlab study`` starts it for a fused study: one thread per op, one op in
flight per core (``trainlab.runtime.prefer_fused_threads``); the same for every contender, as
they share the process (Keras ``fit`` measured the same either way here: 7.1 | 7.7 s and 10.7 | 10.6 s
per 30-epoch run, none | both, 2026-11-29).

Figures and reports are off in both trainlab studies (they read records afterwards and cost the
same whatever trained). Prints wall times, ratios, mean validation accuracy per variant, and the
fused run's steady-state epoch time against the FLOP limit of this machine (6 x parameters
x training samples per epoch, per run, at the rate of a large float32 matmul measured here).
Run: ``python benchmarks/study_speed.py [--epochs 100] [--seeds 3]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import trainlab  # noqa: E402
from trainlab.runtime import prefer_fused_threads  # noqa: E402
from trainlab import rundir  # noqa: E402

STUDY = Path(__file__).parents[1] / "examples" / "studies" / "regularization.yaml"
VARIANTS = {"none": (0.0, False), "dropout": ([0.3, 0.2, 0.1], False), "batch_norm": (0.0, True),
            "both": ([0.3, 0.2, 0.1], True)}


def run_study(executor: str, epochs: int, seeds: list[int], out: str) -> tuple[float, dict]:
    start = time.perf_counter()
    study = trainlab.study(STUDY, out=out, figures=False,
                           overrides={"executor": executor, "seeds": seeds, "base.training.epochs": epochs})
    return time.perf_counter() - start, study


def run_keras_fit(epochs: int, seeds: list[int]) -> tuple[float, dict[str, list[float]]]:
    recipe = trainlab.studies.load_study(STUDY).plans[0].recipe
    splits = trainlab.data.load(recipe.data, seed=recipe.data.seed)  # the study's data: same split, same scaling
    xt, yt = splits.x_train, splits.y_train.astype("float32")
    xv, yv = splits.x_val, splits.y_val.astype("float32")
    accs: dict[str, list[float]] = {}
    start = time.perf_counter()
    for label, (dropout, batch_norm) in VARIANTS.items():
        for seed in seeds:
            keras.utils.set_random_seed(seed)
            model = trainlab.models.build_mlp(xt.shape[1], 1, hidden=[256, 128, 64], dropout=dropout,
                                              batch_norm=batch_norm, output="sigmoid")
            model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="binary_crossentropy", metrics=["accuracy"])
            hist = model.fit(xt, yt, epochs=epochs, batch_size=32, validation_data=(xv, yv), verbose=0)
            accs.setdefault(label, []).append(hist.history["val_accuracy"][-1])
    return time.perf_counter() - start, accs


def flop_rate() -> float:
    """float32 FLOP/s of a large matmul on this machine (the best of a few)."""
    a = tf.random.normal([2048, 2048])
    matmul = tf.function(lambda m: tf.matmul(m, m))
    matmul(a).numpy()
    best = 0.0
    for _ in range(5):
        start = time.perf_counter()
        matmul(a).numpy()
        best = max(best, 2 * 2048**3 / (time.perf_counter() - start))
    return best


def steady_epoch(study_dir: Path) -> float:
    """The median epoch time after the first (which includes tracing) of the first run."""
    first = next((study_dir / "runs").glob("*/seed*/history.csv"))
    times = [row["epoch_time_s"] for row in rundir.read_csv(first)][1:]
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    seeds = list(range(args.seeds))
    prefer_fused_threads()  # as trainlab study does, before TensorFlow starts
    tf.constant(1.0) + 1.0  # start TensorFlow's runtime before any timing
    with tempfile.TemporaryDirectory() as tmp:
        # A throwaway 1-epoch study warms up the modules every contender loads lazily.
        run_study("sequential", 1, [0], os.path.join(tmp, "warm"))
        fused_s, fused = run_study("fused", args.epochs, seeds, os.path.join(tmp, "fused"))
        seq_s, seq = run_study("sequential", args.epochs, seeds, os.path.join(tmp, "seq"))
        epoch = steady_epoch(fused.dir)
        fit_s, fit_accs = run_keras_fit(args.epochs, seeds)
    runs = len(VARIANTS) * len(seeds)
    print(f"workload: tutorial section 6, {len(VARIANTS)} variants x {len(seeds)} seeds = {runs} runs,"
          f" {args.epochs} epochs each")
    print(f"{'implementation':<32}{'wall s':>9}{'per run s':>11}{'x fused':>9}")
    for name, seconds in (("trainlab fused", fused_s), ("trainlab sequential", seq_s),
                          (f"keras fit x {runs} (defaults)", fit_s)):
        print(f"{name:<32}{seconds:>9.2f}{seconds / runs:>11.2f}{seconds / fused_s:>9.1f}")
    print("mean final val accuracy per variant (fused | sequential | keras fit):")
    for label in VARIANTS:
        f = np.mean([r["final_val_accuracy"] for r in fused.results if r["variant"] == label])
        s = np.mean([r["final_val_accuracy"] for r in seq.results if r["variant"] == label])
        print(f"  {label:<12}{f:>8.4f}{s:>9.4f}{np.mean(fit_accs[label]):>9.4f}")
    params = sum(
        int(np.prod(v.shape)) for v in trainlab.models.build_mlp(50, 1, hidden=[256, 128, 64]).trainable_variables
    )
    n_train = 350
    limit = 6 * params * n_train * runs / flop_rate()
    print(f"fused steady-state epoch (all {runs} runs, incl. validation and records): {epoch * 1000:.1f} ms;"
          f" FLOP limit {limit * 1000:.1f} ms ({6 * params * n_train * runs / 1e9:.2f} GFLOP per epoch);"
          f" {epoch / limit:.1f}x the limit")


if __name__ == "__main__":
    main()
