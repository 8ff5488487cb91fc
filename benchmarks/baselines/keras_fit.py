"""Tutorial section 6's variants trained with Keras ``model.fit`` (its defaults, NumPy input), one after another.

The baseline of ``benchmarks/study_speed.py``, run as its own process so that TensorFlow starts with its
default threads (no trainlab import; the study's 1-thread setting stays in the study's process).
The data are the study's own splits, saved by ``study_speed.py`` into an ``.npz``. The models are
trainlab's MLP written in plain Keras: Dense 256-128-64 relu, each followed by batch norm and dropout
(0.3/0.2/0.1) where the variant has them, and a sigmoid output; Adam 1e-3, binary cross-entropy, batch 32,
validation each epoch. A one-epoch ``fit`` warms TensorFlow and Keras up before the clock starts.

Run: ``python benchmarks/baselines/keras_fit.py DATA.npz --epochs 100 --seeds 0 1 2``; prints one line,
``FIT {json}``: the wall time of all the fits, each variant's final validation accuracies, the threads.
"""

from __future__ import annotations

import argparse
import json
import time

import keras
import numpy as np
import tensorflow as tf

VARIANTS = {"none": (False, False), "dropout": (True, False), "batch_norm": (False, True), "both": (True, True)}


def mlp(n_inputs: int, dropout: bool, batch_norm: bool) -> keras.Model:
    layers = [keras.Input((n_inputs,))]
    for units, rate in ((256, 0.3), (128, 0.2), (64, 0.1)):
        layers.append(keras.layers.Dense(units, activation="relu"))
        if batch_norm:
            layers.append(keras.layers.BatchNormalization())
        if dropout:
            layers.append(keras.layers.Dropout(rate))
    layers.append(keras.layers.Dense(1, activation="sigmoid"))
    return keras.Sequential(layers)


def fit(data: dict, variant: str, seed: int, epochs: int) -> float:
    """One run; its final validation accuracy."""
    keras.utils.set_random_seed(seed)
    model = mlp(data["x_train"].shape[1], *VARIANTS[variant])
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="binary_crossentropy", metrics=["accuracy"])
    history = model.fit(data["x_train"], data["y_train"], epochs=epochs, batch_size=32,
                        validation_data=(data["x_val"], data["y_val"]), verbose=0)
    return float(history.history["val_accuracy"][-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", help=".npz with x_train, y_train, x_val, y_val")
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = parser.parse_args()
    data = dict(np.load(args.data))
    fit(data, "both", 0, 1)  # the warm-up: TensorFlow's runtime, Keras' lazy modules, the first traces
    accuracies: dict[str, list[float]] = {}
    start = time.perf_counter()
    for variant in VARIANTS:
        for seed in args.seeds:
            accuracies.setdefault(variant, []).append(fit(data, variant, seed, args.epochs))
    seconds = time.perf_counter() - start
    print("FIT " + json.dumps({
        "seconds": seconds, "accuracies": accuracies,
        "threads": {"intra_op": tf.config.threading.get_intra_op_parallelism_threads(),
                    "inter_op": tf.config.threading.get_inter_op_parallelism_threads()},
    }), flush=True)


if __name__ == "__main__":
    main()
