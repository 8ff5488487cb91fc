"""Tutorial section 6's study (4 variants x 3 seeds, 100 epochs each), trained three ways side by side.

Data: 500 x 50 synthetic samples (10 informative, 40 redundant), 70/30 split, standardized.
Variants of an MLP 256-128-64 relu + sigmoid: none, dropout 0.3/0.2/0.1, batch norm, both;
Adam 1e-3, binary cross-entropy, batch 32, validation every epoch. Compared:

- trainlab fused: ``trainlab.study`` with ``executor: fused``: the 12 runs train together in
  one compiled program (each with its own weights, dropout masks, batch-norm statistics and
  optimizer state), every record of every run written as in a single run;
- trainlab sequential: the same study with ``executor: sequential`` (12 runs one by one);
- Keras ``fit``: 12 sequential ``model.fit`` calls with Keras' defaults (NumPy input), as the
  tutorial did (it ran one seed per variant): ``benchmarks/baselines/keras_fit.py``, in a process of
  its own with TensorFlow's default threads, on the study's own data splits, timed from its first
  ``fit`` to its last after a one-epoch warm-up ``fit``.

trainlab's studies run in this process, started as ``trainlab study`` starts TensorFlow for a fused
study (one thread per op, one op in flight per core: ``trainlab.runtime.prefer_fused_threads``),
after a one-epoch warm-up study; each is timed from the call to its return, records written, figures
and reports off (they read records afterwards and cost the same whatever trained). Prints the machine,
the date, wall times, ratios, mean validation accuracy per variant, and the fused run's steady-state
epoch time against the FLOP limit of this machine (6 x parameters x training samples per epoch, per
run, at the rate of a large float32 matmul measured here).
Run from the repository root: ``python benchmarks/study_speed.py [--epochs 100] [--seeds 3]`` (``--quick``:
10 epochs, 2 seeds).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import trainlab  # noqa: E402
from trainlab.runtime import prefer_fused_threads  # noqa: E402
from trainlab import rundir  # noqa: E402
from machine import clean_env, flop_rate, machine_lines  # noqa: E402  (benchmarks/machine.py, beside this file)

STUDY = Path(__file__).parents[1] / "examples" / "studies" / "regularization.yaml"
KERAS_FIT = Path(__file__).parent / "baselines" / "keras_fit.py"
VARIANTS = ("none", "dropout", "batch_norm", "both")


def run_study(executor: str, epochs: int, seeds: list[int], out: str) -> tuple[float, dict]:
    start = time.perf_counter()
    study = trainlab.study(STUDY, out=out, figures=False,
                           overrides={"executor": executor, "seeds": seeds, "base.training.epochs": epochs})
    return time.perf_counter() - start, study


def run_keras_fit(epochs: int, seeds: list[int], tmp: str, env: dict[str, str]) -> tuple[float, dict]:
    """``baselines/keras_fit.py`` in its own process, on the study's data: its fits' wall time, its accuracies."""
    recipe = trainlab.studies.load_study(STUDY).plans[0].recipe
    splits = trainlab.data.load(recipe.data, seed=recipe.data.seed)  # the study's data: same split, same scaling
    data = os.path.join(tmp, "data.npz")
    np.savez(data, x_train=splits.x_train, y_train=splits.y_train.astype("float32"), x_val=splits.x_val,
             y_val=splits.y_val.astype("float32"))
    command = [sys.executable, str(KERAS_FIT), data, "--epochs", str(epochs), "--seeds", *map(str, seeds)]
    done = subprocess.run(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines = [line for line in done.stdout.splitlines() if line.startswith("FIT ")]
    if done.returncode != 0 or not lines:
        raise SystemExit(f"{KERAS_FIT} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    facts = json.loads(lines[-1][len("FIT "):])
    return facts["seconds"], facts


def steady_epoch(study_dir: Path) -> float:
    """The median epoch time after the first (which includes tracing) of the first run."""
    first = next((study_dir / "runs").glob("*/seed*/history.csv"))
    times = [row["epoch_time_s"] for row in rundir.read_csv(first)][1:]
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="a smoke run: 10 epochs, 2 seeds")
    args = parser.parse_args()
    if args.quick:
        args.epochs, args.seeds = 10, 2
    seeds = list(range(args.seeds))
    env, removed = clean_env()  # for the Keras fit process: TensorFlow's own thread defaults
    for line in machine_lines(env, removed):
        print(line, flush=True)
    prefer_fused_threads()  # as trainlab study does, before TensorFlow starts
    tf.constant(1.0) + 1.0  # start TensorFlow's runtime before any timing
    with tempfile.TemporaryDirectory() as tmp:
        # A throwaway 1-epoch study warms up the modules every contender loads lazily.
        run_study("sequential", 1, [0], os.path.join(tmp, "warm"))
        fused_s, fused = run_study("fused", args.epochs, seeds, os.path.join(tmp, "fused"))
        seq_s, seq = run_study("sequential", args.epochs, seeds, os.path.join(tmp, "seq"))
        epoch = steady_epoch(fused.dir)
        fit_s, fit = run_keras_fit(args.epochs, seeds, tmp, env)
    runs = len(VARIANTS) * len(seeds)
    print(f"workload: tutorial section 6, {len(VARIANTS)} variants x {len(seeds)} seeds = {runs} runs,"
          f" {args.epochs} epochs each")
    print(f"{'implementation':<32}{'wall s':>9}{'per run s':>11}{'x fused':>9}")
    for name, seconds in (("trainlab fused", fused_s), ("trainlab sequential", seq_s),
                          (f"keras fit x {runs} (own process)", fit_s)):
        print(f"{name:<32}{seconds:>9.2f}{seconds / runs:>11.2f}{seconds / fused_s:>9.1f}")
    threads = fit["threads"]
    print(f"keras fit process: threads intra {threads['intra_op']} inter {threads['inter_op']} (0: TensorFlow's "
          f"default); trainlab's studies: intra {tf.config.threading.get_intra_op_parallelism_threads()} inter "
          f"{tf.config.threading.get_inter_op_parallelism_threads()}")
    print(f"ratio keras fit / trainlab fused: {fit_s / fused_s:.2f}x")
    print("mean final val accuracy per variant (fused | sequential | keras fit):")
    for label in VARIANTS:
        f = np.mean([r["final_val_accuracy"] for r in fused.results if r["variant"] == label])
        s = np.mean([r["final_val_accuracy"] for r in seq.results if r["variant"] == label])
        print(f"  {label:<12}{f:>8.4f}{s:>9.4f}{np.mean(fit['accuracies'][label]):>9.4f}")
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
