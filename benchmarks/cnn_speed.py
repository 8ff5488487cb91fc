"""examples/digits_cnn.yaml trained by trainlab and by Keras ``fit``, side by side in one run.

The recipe: scikit-learn's 8x8 digits as images (N, 8, 8, 1), 70/15/15 split, a CNN of two conv
blocks (16 and 32 filters), global average pooling, Dense 64, dropout 0.2, softmax; random
translation and rotation of the training images; Adam, batch 64. Compared, for the same seeds,
epochs (early stopping off: every contender trains every epoch) and batch size:

- trainlab: ``trainlab.train(recipe)`` in this process, every record on (steps, layers, TensorBoard,
  checkpoints, the saved model); ``train`` draws no figures (``trainlab run`` does, from the records);
- Keras ``fit``: ``benchmarks/baselines/keras_cnn_fit.py`` in a process of its own with TensorFlow's
  default threads: the same model in plain Keras, the augmentation as Keras layers at the model's
  front, ``model.fit`` with NumPy input on the recipe's own splits, after a one-epoch warm-up.

Prints the machine, the date, each side's wall time, the ratio, the final validation and test
accuracy of each seed, and trainlab's steady-state epoch against the FLOP limit of this machine
(3 x the forward pass's multiply-adds x 2 per training sample, at the rate of a large float32
matmul measured here).
Run from the repository root: ``python benchmarks/cnn_speed.py [--epochs 40] [--seeds 3]``
(``--quick``: 5 epochs, 1 seed).
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

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import trainlab  # noqa: E402
from trainlab import rundir  # noqa: E402
from machine import clean_env, flop_rate, machine_lines  # noqa: E402  (benchmarks/machine.py, beside this file)

RECIPE = Path(__file__).parents[1] / "examples" / "digits_cnn.yaml"
KERAS_FIT = Path(__file__).parent / "baselines" / "keras_cnn_fit.py"


def overrides(epochs: int, seed: int) -> dict:
    return {"training.epochs": epochs, "training.early_stopping": None, "seed": seed, "training.verbose": 0}


def run_trainlab(epochs: int, seeds: list[int], tmp: str) -> tuple[float, list[trainlab.Run]]:
    runs = []
    start = time.perf_counter()
    for seed in seeds:
        runs.append(trainlab.train(RECIPE, out=os.path.join(tmp, f"trainlab-{seed}"), overrides=overrides(epochs, seed)))
    return time.perf_counter() - start, runs


def run_keras_fit(recipe: trainlab.Recipe, epochs: int, seeds: list[int], tmp: str, env: dict) -> dict:
    """``baselines/keras_cnn_fit.py`` in its own process, on the recipe's splits."""
    splits = trainlab.data.load(recipe.data, seed=recipe.seed)
    data = os.path.join(tmp, "data.npz")
    np.savez(data, x_train=splits.x_train, y_train=splits.y_train, x_val=splits.x_val, y_val=splits.y_val,
             x_test=splits.x_test, y_test=splits.y_test, n_classes=splits.n_classes)
    model = recipe.model
    spec = {"filters": model.filters, "kernel_size": model.kernel_size, "dense": model.dense,
            "dropout": model.dropout, "augment": recipe.data.augment, "learning_rate": recipe.optimizer.learning_rate,
            "batch_size": recipe.training.batch_size, "epochs": epochs}
    spec_file = os.path.join(tmp, "spec.json")
    Path(spec_file).write_text(json.dumps(spec))
    command = [sys.executable, str(KERAS_FIT), data, spec_file, "--seeds", *map(str, seeds)]
    done = subprocess.run(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines = [line for line in done.stdout.splitlines() if line.startswith("FIT ")]
    if done.returncode != 0 or not lines:
        raise SystemExit(f"{KERAS_FIT} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return json.loads(lines[-1][len("FIT "):])


def forward_flops(model: keras.Model) -> float:
    """Multiply-adds x 2 of one sample's forward pass through the conv and dense layers."""
    flops = 0.0
    for layer in model._flatten_layers(include_self=False):
        if isinstance(layer, keras.layers.Conv2D):
            h, w, c_out = layer.output.shape[1:]
            k_h, k_w, c_in, _ = layer.kernel.shape
            flops += 2.0 * h * w * c_out * k_h * k_w * c_in
        elif isinstance(layer, keras.layers.Dense):
            flops += 2.0 * np.prod(layer.kernel.shape)
    return flops


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="a smoke run: 5 epochs, 1 seed")
    args = parser.parse_args()
    if args.quick:
        args.epochs, args.seeds = 5, 1
    seeds = list(range(args.seeds))
    env, removed = clean_env()  # for the Keras fit process: TensorFlow's own thread defaults
    for line in machine_lines(env, removed):
        print(line, flush=True)
    recipe = trainlab.load_recipe(RECIPE)[0]
    with tempfile.TemporaryDirectory() as tmp:
        run_trainlab(1, [0], os.path.join(tmp, "warm"))  # TensorFlow's runtime and the lazily loaded modules
        trainlab_s, runs = run_trainlab(args.epochs, seeds, tmp)
        epoch = statistics.median(row["epoch_time_s"] for row in rundir.read_csv(runs[0].dir / "history.csv")[1:])
        fit = run_keras_fit(recipe, args.epochs, seeds, tmp, env)
    n_train = len(runs[0].data.x_train)
    print(f"workload: {RECIPE.name}, {len(seeds)} seed(s) x {args.epochs} epochs, {n_train} training images"
          f" {runs[0].data.input_shape}, batch {recipe.training.batch_size}")
    print(f"{'implementation':<30}{'wall s':>9}{'per run s':>11}")
    for name, seconds in (("trainlab", trainlab_s), ("keras fit (own process)", fit["seconds"])):
        print(f"{name:<30}{seconds:>9.2f}{seconds / len(seeds):>11.2f}")
    threads = fit["threads"]
    print(f"keras fit process: threads intra {threads['intra_op']} inter {threads['inter_op']} (0: TensorFlow's"
          f" default)")
    print(f"ratio keras fit / trainlab: {fit['seconds'] / trainlab_s:.2f}x")
    print("final accuracy per seed (trainlab val, test | keras fit val, test):")
    for i, (seed, run) in enumerate(zip(seeds, runs)):
        test = run.summary.get("test", {}).get("accuracy", float("nan"))
        print(f"  seed {seed}: {run.history[-1]['val_accuracy']:.4f} {test:.4f} |"
              f" {fit['val_accuracy'][i]:.4f} {fit['test_accuracy'][i]:.4f}")
    limit = 3 * forward_flops(runs[0].model) * n_train / flop_rate()
    print(f"trainlab steady-state epoch (incl. validation and records): {epoch * 1000:.1f} ms; FLOP limit"
          f" {limit * 1000:.2f} ms ({3 * forward_flops(runs[0].model) * n_train / 1e9:.3f} GFLOP per epoch);"
          f" {epoch / limit:.1f}x the limit")


if __name__ == "__main__":
    main()
