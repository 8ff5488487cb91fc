"""A hyper-parameter search on tutorial section 6's data and model family, three ways side by side.

Space: learning rate log-uniform in [1e-4, 1e-2], dropout in [0, 0.5] (one rate for every hidden layer),
batch norm on/off, widths 64-32-16, 128-64-32 or 256-128-64; an MLP (relu, sigmoid output), Adam,
binary cross-entropy, batch 32, on the regularization study's data (500 x 50, 70/30, standardized).
The same trial count (Keras Tuner's Hyperband sets its own, from the maximum epochs) and maximum epochs:

- trainlab tune: ``executor: fused``, populations of 8 trials, TPE, ASHA (reduction factor 3, first rung at
  epochs / 27, at least 1), in this process as ``trainlab tune`` starts TensorFlow;
- Keras Tuner's Hyperband (factor 3) over ``model.fit``;
- Optuna's TPE with its MedianPruner over ``model.fit`` (``optuna-integration``'s ``KerasPruningCallback``),

the last two in processes of their own with TensorFlow's default threads
(``benchmarks/baselines/tune_baselines.py``), each after a one-epoch warm-up fit. For each search seed:
wall time, trials, epochs trained in all, and the best validation accuracy any trial reached.
Needs ``pip install keras-tuner optuna-integration`` (benchmark-only; not trainlab dependencies).
Run from the repository root: ``python benchmarks/tune_speed.py [--trials 24] [--epochs 100] [--seeds 3]
[--tools trainlab,keras_tuner,optuna]`` (``--quick``: 8 trials, 9 epochs, 1 seed).
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
from trainlab import rundir  # noqa: E402
from trainlab.config.loading import read_yaml  # noqa: E402
from trainlab.runtime import prefer_fused_threads  # noqa: E402
from machine import clean_env, machine_lines  # noqa: E402  (benchmarks/machine.py, beside this file)

STUDY = Path(__file__).parents[1] / "examples" / "studies" / "regularization.yaml"
BASELINES = Path(__file__).parent / "baselines" / "tune_baselines.py"
SPACE = {
    "optimizer.learning_rate": {"log_uniform": [1.0e-4, 1.0e-2]},
    "model.dropout": {"uniform": [0.0, 0.5]},
    "model.batch_norm": {"choice": [False, True]},
    "model.hidden": {"choice": [[64, 32, 16], [128, 64, 32], [256, 128, 64]]},
}
# --space lr-dropout: the architecture fixed (the study's 256-128-64, no batch norm); a dropout above 0, so that
# every trial has the same layers and only values an engine holds in variables differ.
LR_DROPOUT = {"optimizer.learning_rate": {"log_uniform": [1.0e-4, 1.0e-2]}, "model.dropout": {"uniform": [0.05, 0.5]}}


def search(trials: int, epochs: int, seed: int, space: str = "full") -> dict:
    base = read_yaml(STUDY)["base"]
    return {"name": "section6-search", "base": {**base, "training": {**base["training"], "epochs": epochs}},
            "space": LR_DROPOUT if space == "lr-dropout" else SPACE, "trials": trials,
            "population": min(trials, 8), "sampler": "tpe", "seed": seed,
            "pruner": {"name": "asha", "min_epochs": max(1, epochs // 27), "reduction_factor": 3},
            "metric": "val_accuracy", "executor": "fused"}


def run_trainlab(trials: int, epochs: int, seed: int, out: str, space: str) -> dict:
    start = time.perf_counter()
    result = trainlab.tune(search(trials, epochs, seed, space), out=out)
    seconds = time.perf_counter() - start
    histories = [rundir.read_csv(result.dir / "runs" / f"trial-{r['trial']:03d}" / rundir.HISTORY)
                 for r in result.trials if r["status"] != "failed"]
    best = max(h["val_accuracy"] for history in histories for h in history)
    return {"seconds": seconds, "trials": len(result.trials), "best": best,
            "epochs_trained": sum(int(r["epochs_run"] or 0) for r in result.trials)}


def run_baseline(tool: str, data: str, trials: int, epochs: int, seed: int, env: dict[str, str], space: str) -> dict:
    command = [sys.executable, str(BASELINES), data, "--tool", tool, "--trials", str(trials), "--epochs", str(epochs),
               "--seed", str(seed), "--space", space]
    done = subprocess.run(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines = [line for line in done.stdout.splitlines() if line.startswith("SEARCH ")]
    if done.returncode != 0 or not lines:
        raise SystemExit(f"{BASELINES} --tool {tool} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return json.loads(lines[-1][len("SEARCH "):])


def save_data(tmp: str) -> str:
    """The search's data (the study's split and scaling) as an .npz for the baselines."""
    recipe = trainlab.studies.load_study(STUDY).plans[0].recipe
    splits = trainlab.data.load(recipe.data, seed=recipe.data.seed)
    path = os.path.join(tmp, "data.npz")
    np.savez(path, x_train=splits.x_train, y_train=splits.y_train.astype("float32"), x_val=splits.x_val,
             y_val=splits.y_val.astype("float32"))
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=24)
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--first-seed", type=int, default=0, help="the first search seed (the others follow it)")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 8 trials, 9 epochs, 1 seed")
    parser.add_argument("--tools", default="trainlab,keras_tuner,optuna",
                        help="which searches run, comma-separated (Keras Tuner's Hyperband at 100 epochs takes the"
                             " longest by far: run it on its own)")
    parser.add_argument("--space", choices=["full", "lr-dropout"], default="full",
                        help="full: learning rate, dropout, batch norm, width; lr-dropout: the learning rate and the"
                             " dropout only (every trial the same program: trainlab traces once)")
    args = parser.parse_args()
    tools = set(args.tools.split(","))
    if not tools <= {"trainlab", "keras_tuner", "optuna"}:
        parser.error(f"--tools: trainlab, keras_tuner or optuna, got {args.tools!r}")
    if args.quick:
        args.trials, args.epochs, args.seeds = 8, 9, 1
    env, removed = clean_env()  # for the baselines' processes: TensorFlow's own thread defaults
    for line in machine_lines(env, removed):
        print(line, flush=True)
    prefer_fused_threads()  # as trainlab tune does for a fused search, before TensorFlow starts
    tf.constant(1.0) + 1.0
    names = {"trainlab": "trainlab tune (fused, ASHA)", "keras_tuner": "keras tuner hyperband + fit",
             "optuna": "optuna tpe + median + fit"}
    results: dict[str, list[dict]] = {names[tool]: [] for tool in names if tool in tools}
    with tempfile.TemporaryDirectory() as tmp:
        data = save_data(tmp)
        trainlab.tune(search(2, 1, 0), out=os.path.join(tmp, "warm"))  # warms up trainlab's lazy modules
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            runs = (
                ("trainlab tune (fused, ASHA)", lambda: run_trainlab(args.trials, args.epochs, seed,
                                                                      os.path.join(tmp, f"tune-{seed}"), args.space)),
                ("keras tuner hyperband + fit", lambda: run_baseline("keras_tuner", data, args.trials, args.epochs,
                                                                     seed, env, args.space)),
                ("optuna tpe + median + fit", lambda: run_baseline("optuna", data, args.trials, args.epochs, seed,
                                                                   env, args.space)),
            )
            for name, run in runs:
                if name not in results:
                    continue
                facts = run()
                results[name].append(facts)
                print(f"seed {seed} {name:<30} {facts['seconds']:8.2f} s  trials {facts['trials']:3d}  "
                      f"epochs trained {facts['epochs_trained']:5d}  best val accuracy {facts['best']:.4f}", flush=True)
    print(f"workload: tutorial section 6 data, space {args.space}, {args.trials} trials (hyperband: its own), "
          f"{args.epochs} max epochs, "
          f"{args.seeds} search seeds")
    ours = [r["seconds"] for r in results.get(names["trainlab"], [])]
    print(f"{'search':<32}{'mean wall s':>12}{'x trainlab':>12}{'mean best val acc':>19}{'epochs trained':>16}")
    for name, rows in results.items():
        seconds = statistics.mean(r["seconds"] for r in rows)
        ratio = f"{seconds / statistics.mean(ours):>12.2f}" if ours else f"{'-':>12}"
        print(f"{name:<32}{seconds:>12.2f}{ratio}{statistics.mean(r['best'] for r in rows):>19.4f}"
              f"{statistics.mean(r['epochs_trained'] for r in rows):>16.0f}")


if __name__ == "__main__":
    main()
