"""Tutorial section 4's workload, trained four ways side by side in one process.

1000 x 20 synthetic samples (80/20 split), MLP 64-32 with dropout 0.2, Adam 1e-3,
binary cross-entropy, batch 32, 100 epochs, validation every epoch. Compared:

- trainlab: ``trainlab.train`` with every record on (per-step loss, gradient norm and
  learning rate; per-epoch history and per-layer norms; TensorBoard; the saved model);
- Keras ``model.fit`` with its defaults (NumPy input);
- a plain eager ``GradientTape`` loop (the tutorial's way);
- a plain PyTorch loop of the same model, when PyTorch is importable.

Each is timed from the call that trains to its return (data already in memory; for
trainlab the data set is rebuilt inside ``train``, which costs a few milliseconds), after
a one-epoch warm-up of every contender so that none pays for TensorFlow's start-up.
Prints wall time, samples per second, the ratio of each to trainlab, and final
validation accuracy. Run: ``python benchmarks/trainer_speed.py [--repeat 3] [--skip-eager]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import trainlab  # noqa: E402

EPOCHS, BATCH, SEED = 100, 32, 42
RECIPE = {
    "name": "bench", "seed": SEED,
    "data": {"source": "synthetic_classification", "n_samples": 1000, "n_features": 20, "validation_split": 0.2},
    "model": {"hidden": [64, 32], "dropout": [0.2, 0.0]},
    "loss": "binary_crossentropy", "optimizer": {"name": "adam", "learning_rate": 1e-3},
    "training": {"epochs": EPOCHS, "batch_size": BATCH, "verbose": 0},
}


def data():
    splits = trainlab.data.load(trainlab.Recipe.model_validate(RECIPE).data, seed=SEED)
    return splits.x_train, splits.y_train.astype("float32"), splits.x_val, splits.y_val.astype("float32")


def keras_model():
    keras.utils.set_random_seed(SEED)
    return trainlab.models.build_mlp(20, 1, hidden=[64, 32], dropout=[0.2, 0.0], output="sigmoid")


def run_trainlab(xt, yt, xv, yv):
    with tempfile.TemporaryDirectory() as tmp:
        run = trainlab.train(RECIPE, out=os.path.join(tmp, "run"))
    return run.history[-1]["val_accuracy"]


def run_keras_fit(xt, yt, xv, yv):
    model = keras_model()
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="binary_crossentropy", metrics=["accuracy"])
    hist = model.fit(xt, yt, epochs=EPOCHS, batch_size=BATCH, validation_data=(xv, yv), verbose=0)
    return hist.history["val_accuracy"][-1]


def run_eager(xt, yt, xv, yv):
    model = keras_model()
    opt, loss_fn = keras.optimizers.Adam(1e-3), keras.losses.BinaryCrossentropy()
    val_acc = keras.metrics.BinaryAccuracy()
    rng = np.random.default_rng(SEED)
    for _ in range(EPOCHS):
        order = rng.permutation(len(xt))
        for lo in range(0, len(xt), BATCH):
            idx = order[lo:lo + BATCH]
            with tf.GradientTape() as tape:
                loss = loss_fn(yt[idx, None], model(xt[idx], training=True))
            opt.apply(tape.gradient(loss, model.trainable_variables), model.trainable_variables)
        val_acc.reset_state()
        val_acc.update_state(yv[:, None], model(xv, training=False))
    return float(val_acc.result())


def run_torch(xt, yt, xv, yv):
    import torch

    torch.manual_seed(SEED)
    model = torch.nn.Sequential(
        torch.nn.Linear(20, 64), torch.nn.ReLU(), torch.nn.Dropout(0.2),
        torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Linear(32, 1),
    )
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    xt_t, yt_t, xv_t, yv_t = (torch.from_numpy(a) for a in (xt, yt[:, None], xv, yv[:, None]))
    gen = torch.Generator().manual_seed(SEED)
    for _ in range(EPOCHS):
        model.train()
        order = torch.randperm(len(xt_t), generator=gen)
        for lo in range(0, len(xt_t), BATCH):
            idx = order[lo:lo + BATCH]
            opt.zero_grad()
            loss = loss_fn(model(xt_t[idx]), yt_t[idx])
            loss.backward()
            opt.step()
        model.eval()
        with torch.no_grad():
            acc = ((model(xv_t) > 0).float() == yv_t).float().mean().item()
    return acc


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1, help="rounds per implementation (median reported)")
    parser.add_argument("--skip-eager", action="store_true", help="skip the slow eager loop")
    args = parser.parse_args()
    arrays = data()
    tf.constant(1.0) + 1.0  # start TensorFlow's runtime before any timing
    contenders = {"trainlab": run_trainlab, "keras fit (defaults)": run_keras_fit}
    if not args.skip_eager:
        contenders["eager GradientTape loop"] = run_eager
    try:
        import torch

        torch.set_num_threads(os.cpu_count() or 1)
        contenders["pytorch loop"] = run_torch
    except ImportError:
        print("(PyTorch not importable: its row is skipped)")
    # Warm up the shared runtime (TensorFlow's first trace in a process loads modules lazily) with a
    # throwaway run of every contender on a few samples, so no contender pays for going first.
    global EPOCHS
    EPOCHS, RECIPE["training"]["epochs"] = 1, 1
    for fn in contenders.values():
        fn(*(a[:64] for a in arrays))
    EPOCHS, RECIPE["training"]["epochs"] = 100, 100
    results = {}
    for name, fn in contenders.items():
        times, accs = [], []
        for _ in range(args.repeat):
            start = time.perf_counter()
            accs.append(fn(*arrays))
            times.append(time.perf_counter() - start)
        results[name] = (statistics.median(times), accs[-1])
    base = results["trainlab"][0]
    samples = len(arrays[0]) * EPOCHS
    print(f"workload: tutorial section 4, {len(arrays[0])} training samples x {EPOCHS} epochs, batch {BATCH}")
    print(f"{'implementation':<26}{'wall s':>9}{'samples/s':>12}{'x trainlab':>12}{'val acc':>9}")
    for name, (seconds, acc) in results.items():
        print(f"{name:<26}{seconds:>9.2f}{samples / seconds:>12.0f}{seconds / base:>12.1f}{acc:>9.3f}")


if __name__ == "__main__":
    main()
