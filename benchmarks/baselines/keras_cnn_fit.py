"""examples/digits_cnn.yaml's model trained with Keras ``model.fit`` (its defaults, NumPy input).

The baseline of ``benchmarks/cnn_speed.py``, run as its own process so that TensorFlow starts with its
default threads (no trainlab import). The data are the recipe's own splits, saved by ``cnn_speed.py``
into an ``.npz``; the model is trainlab's ``cnn`` written in plain Keras as a Keras user writes it,
the augmentation as Keras' preprocessing layers at the front of the model (active in ``fit`` only):
Conv2D 3x3 (same padding) + relu + 2x2 max pooling per block, global average pooling, Dense + relu,
dropout, softmax. Adam, sparse categorical cross-entropy, validation each epoch. A one-epoch ``fit``
warms TensorFlow and Keras up before the clock starts.

Run: ``python benchmarks/baselines/keras_cnn_fit.py DATA.npz SPEC.json --seeds 0 1 2``; prints one line,
``FIT {json}``: the wall time of the fits, each seed's final validation and test accuracy, the threads.
"""

from __future__ import annotations

import argparse
import json
import time

import keras
import numpy as np
import tensorflow as tf

AUGMENTATIONS = {"random_translation": keras.layers.RandomTranslation, "random_rotation": keras.layers.RandomRotation,
                 "random_zoom": keras.layers.RandomZoom, "random_flip": keras.layers.RandomFlip,
                 "random_contrast": keras.layers.RandomContrast, "gaussian_noise": keras.layers.GaussianNoise}


def cnn(spec: dict, input_shape: tuple[int, ...], n_classes: int) -> keras.Model:
    layers: list = [keras.Input(input_shape)]
    for item in spec["augment"]:
        kwargs = {k: v for k, v in item.items() if k != "name"}
        layers.append(AUGMENTATIONS[item["name"]](**kwargs))
    for filters in spec["filters"]:
        layers.append(keras.layers.Conv2D(filters, spec["kernel_size"], padding="same", activation="relu"))
        layers.append(keras.layers.MaxPooling2D(2))
    layers.append(keras.layers.GlobalAveragePooling2D())
    for units in spec["dense"]:
        layers.append(keras.layers.Dense(units, activation="relu"))
        if spec["dropout"]:
            layers.append(keras.layers.Dropout(spec["dropout"]))
    layers.append(keras.layers.Dense(n_classes, activation="softmax"))
    return keras.Sequential(layers)


def fit(data: dict, spec: dict, seed: int, epochs: int) -> tuple[float, float]:
    """One run; its final validation and test accuracy."""
    keras.utils.set_random_seed(seed)
    model = cnn(spec, data["x_train"].shape[1:], int(data["n_classes"]))
    model.compile(optimizer=keras.optimizers.Adam(spec["learning_rate"]), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    history = model.fit(data["x_train"], data["y_train"], epochs=epochs, batch_size=spec["batch_size"],
                        validation_data=(data["x_val"], data["y_val"]), verbose=0)
    test = model.evaluate(data["x_test"], data["y_test"], verbose=0, return_dict=True)["accuracy"]
    return float(history.history["val_accuracy"][-1]), float(test)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", help=".npz with x_train, y_train, x_val, y_val, x_test, y_test, n_classes")
    parser.add_argument("spec", help="a JSON file: filters, kernel_size, dense, dropout, augment, learning_rate, "
                        "batch_size, epochs")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    args = parser.parse_args()
    data = dict(np.load(args.data))
    with open(args.spec) as fh:
        spec = json.load(fh)
    fit(data, spec, 0, 1)  # the warm-up: TensorFlow's runtime, Keras' lazy modules, the first traces
    start = time.perf_counter()
    results = [fit(data, spec, seed, spec["epochs"]) for seed in args.seeds]
    seconds = time.perf_counter() - start
    print("FIT " + json.dumps({
        "seconds": seconds, "val_accuracy": [r[0] for r in results], "test_accuracy": [r[1] for r in results],
        "threads": {"intra_op": tf.config.threading.get_intra_op_parallelism_threads(),
                    "inter_op": tf.config.threading.get_inter_op_parallelism_threads()},
    }), flush=True)


if __name__ == "__main__":
    main()
