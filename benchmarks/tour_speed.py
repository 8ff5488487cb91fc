"""The full ``trainlab tour`` against the tutorial's own way of training the same sections, side by side.

Baseline: each section trained as the tutorial's code trains it (TUTORIAL-SPEC), in this process,
with the minimal fixes needed to run on TensorFlow 2.21 / Keras 3 and no plotting:

- 1: the loss values, computed with Keras' loss functions;
- 2: five optimizers, 50 eager steps each on sum((x - 2)^2);
- 3: the four Keras schedules and the warm-up cosine evaluated step by step (eager) over 500 steps;
- 4: an eager ``GradientTape`` loop: 1000 x 20 unstandardized samples, MLP 64-32, 100 epochs, batch 32;
- 5: compiled (``tf.function``) train and validation steps, batch norm and dropout, Adam on an
  exponential decay, clipping to norm 1.0, early stopping (patience 15) with the best weights kept;
- 6: one ``model.fit`` per variant (none, dropout, batch norm, both), 100 epochs each, one seed each;
- 7: one ``model.fit`` per variant (none, L1, L2, L1+L2), 150 epochs each, one seed each;
- 8: ``model.fit`` on scikit-learn's digits with the six callbacks (the tutorial defined this demo but
  never ran it; it is timed here because the tour runs it);
- 9: ``model.fit`` for 20 epochs on random labels with the custom callback;
- 10: the monitored loop, eager like section 4 (2000 samples, MLP 128-64, 100 epochs), recording the
  gradient norm each step; the test set scaled with its own statistics, as the tutorial did; the
  labels cast to float (the minimal fix for its crash).

The tour is ``trainlab.tour(out=...)`` as ``trainlab tour`` runs it: every record, figure and report
written, 5 seeds for section 6 and 3 for section 7 where the tutorial trained 1, sections two at a
time in worker processes (forked from one process that imports TensorFlow once; each starts its own
runtime). Both are timed from the call to its return,
after a warm-up. Prints each section's time both ways, the totals and the ratio, and the ratio per
model trained (the tour trains 38 models, the baseline 13).

Run: ``python benchmarks/tour_speed.py [--quick] [--workers N] [--skip-baseline] [--skip-tour]``.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from sklearn.datasets import load_digits, make_classification  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

import trainlab  # noqa: E402

SEED = 42
QUICK = False  # --quick: the baseline trains as few epochs as the quick tour


def epochs(full: int, quick: int) -> int:
    return quick if QUICK else full


# ------------------------------------------------------------------------------------------ the data
def classification(n_samples: int, n_features: int, test_size: float, scale: bool = True, **kw):
    x, y = make_classification(n_samples=n_samples, n_features=n_features, random_state=SEED, **kw)
    xt, xv, yt, yv = train_test_split(x, y, test_size=test_size, random_state=SEED)
    if scale:
        scaler = StandardScaler().fit(xt)
        xt, xv = scaler.transform(xt), scaler.transform(xv)
    return (xt.astype("float32"), yt.astype("float32"), xv.astype("float32"), yv.astype("float32"))


def mlp(n_inputs: int, hidden: list[int], dropout: list[float] | None = None, batch_norm: bool = False,
        regularizer=None, outputs: int = 1, activation: str = "sigmoid") -> keras.Model:
    keras.utils.set_random_seed(SEED)
    layers: list = [keras.Input((n_inputs,))]
    for i, units in enumerate(hidden):
        layers.append(keras.layers.Dense(units, activation="relu", kernel_regularizer=regularizer))
        if batch_norm:
            layers.append(keras.layers.BatchNormalization())
        if dropout and dropout[i]:
            layers.append(keras.layers.Dropout(dropout[i]))
    layers.append(keras.layers.Dense(outputs, activation=activation))
    return keras.Sequential(layers)


# ------------------------------------------------------------------------------------------ sections
def losses() -> None:
    y, p = np.array([0, 1, 1, 0, 1.0]), np.array([0.1, 0.9, 0.8, 0.2, 0.7])
    keras.losses.BinaryCrossentropy()(y, p)
    keras.losses.BinaryCrossentropy(from_logits=True)(y, np.array([-2.2, 2.2, 1.4, -1.4, 0.8]))
    labels = np.array([0, 1, 2, 1, 0])
    logits = np.array([[2.0, 0.5, 0.1], [0.1, 2.5, 0.2], [0.2, 0.3, 2.1], [0.8, 1.9, 0.4], [1.8, 0.6, 0.3]])
    keras.losses.sparse_categorical_crossentropy(labels, logits, from_logits=True)
    keras.losses.categorical_crossentropy(np.eye(3)[labels], logits, from_logits=True)
    t, q = np.array([1, 2, 3, 4, 5.0]), np.array([1.1, 1.9, 3.2, 3.8, 5.1])
    for fn in (keras.losses.mean_squared_error, keras.losses.mean_absolute_error, keras.losses.huber,
               keras.losses.mean_squared_logarithmic_error):
        fn(t, q)
    keras.losses.BinaryFocalCrossentropy(apply_class_balancing=True, alpha=0.25, gamma=2.0)(y, p)


def optimizers() -> None:
    for make in (lambda: keras.optimizers.SGD(0.1), lambda: keras.optimizers.SGD(0.1, momentum=0.9),
                 lambda: keras.optimizers.Adam(0.1), lambda: keras.optimizers.RMSprop(0.1),
                 lambda: keras.optimizers.Adagrad(0.1)):
        x, opt = tf.Variable([0.0, 0.0]), make()
        for _ in range(50):
            with tf.GradientTape() as tape:
                loss = tf.reduce_sum(tf.square(x - 2.0))
            opt.apply_gradients([(tape.gradient(loss, x), x)])


def schedules() -> None:
    s = keras.optimizers.schedules
    warmup = s.CosineDecay(0.0, 900, alpha=0.1, warmup_target=1e-3, warmup_steps=100)
    for schedule in (s.ExponentialDecay(0.1, 100, 0.96, staircase=True), s.PolynomialDecay(0.1, 1000, 0.01, 0.5),
                     s.PiecewiseConstantDecay([100, 200, 300], [0.1, 0.05, 0.01, 0.005]), s.CosineDecay(0.1, 1000),
                     warmup):
        [float(schedule(step)) for step in range(500)]


def train_step(model, opt, loss_fn, xb, yb, loss_metric, accuracy_metric) -> None:
    """One step of the tutorial's own loops: the loss under a GradientTape, the update, the running metrics."""
    with tf.GradientTape() as tape:
        pred = model(xb, training=True)
        loss = loss_fn(yb, pred)
    opt.apply_gradients(zip(tape.gradient(loss, model.trainable_variables), model.trainable_variables))
    loss_metric.update_state(loss)
    accuracy_metric.update_state(yb, pred)


def val_step(model, loss_fn, xb, yb, loss_metric, accuracy_metric) -> None:
    pred = model(xb, training=False)
    loss_metric.update_state(loss_fn(yb, pred))
    accuracy_metric.update_state(yb, pred)


def basic() -> None:
    xt, yt, xv, yv = classification(1000, 20, 0.2, scale=False)  # the tutorial fed them unstandardized
    model = mlp(20, [64, 32], [0.2, 0.0])
    opt, loss_fn = keras.optimizers.Adam(1e-3), keras.losses.BinaryCrossentropy()
    train_loss, train_acc = keras.metrics.Mean(), keras.metrics.BinaryAccuracy()
    val_loss, val_acc = keras.metrics.Mean(), keras.metrics.BinaryAccuracy()
    data = tf.data.Dataset.from_tensor_slices((xt, yt[:, None])).shuffle(1000, seed=SEED).batch(32)
    for _ in range(epochs(100, 10)):
        for m in (train_loss, train_acc, val_loss, val_acc):
            m.reset_state()
        for xb, yb in data:  # eager: every step is a Python call
            train_step(model, opt, loss_fn, xb, yb, train_loss, train_acc)
        val_step(model, loss_fn, xv, yv[:, None], val_loss, val_acc)


def advanced() -> None:
    xt, yt, xv, yv = classification(2000, 20, 0.2)
    model = mlp(20, [128, 64], [0.3, 0.2], batch_norm=True)
    schedule = keras.optimizers.schedules.ExponentialDecay(1e-3, 100, 0.96)
    opt, loss_fn = keras.optimizers.Adam(schedule, clipnorm=1.0), keras.losses.BinaryCrossentropy()
    train_loss, train_acc = keras.metrics.Mean(), keras.metrics.BinaryAccuracy()
    val_loss, val_acc = keras.metrics.Mean(), keras.metrics.BinaryAccuracy()
    # Compiled, as the tutorial's advanced trainer compiled its steps.
    compiled_train = tf.function(lambda xb, yb: train_step(model, opt, loss_fn, xb, yb, train_loss, train_acc))
    compiled_val = tf.function(lambda xb, yb: val_step(model, loss_fn, xb, yb, val_loss, val_acc))
    train = tf.data.Dataset.from_tensor_slices((xt, yt[:, None])).shuffle(2000, seed=SEED).batch(32)
    val = tf.data.Dataset.from_tensor_slices((xv, yv[:, None])).batch(32)
    best, best_weights, wait = np.inf, None, 0
    for _ in range(epochs(200, 200)):
        for m in (train_loss, train_acc, val_loss, val_acc):
            m.reset_state()
        for xb, yb in train:
            compiled_train(xb, yb)
        for xb, yb in val:
            compiled_val(xb, yb)
        if float(val_loss.result()) < best:
            best, best_weights, wait = float(val_loss.result()), model.get_weights(), 0
        else:
            wait += 1
            if wait >= 15:
                break
    model.set_weights(best_weights)


def regularization() -> None:
    xt, yt, xv, yv = classification(500, 50, 0.3, n_informative=10, n_redundant=40)
    for dropout, batch_norm in ((None, False), ([0.3, 0.2, 0.1], False), (None, True), ([0.3, 0.2, 0.1], True)):
        model = mlp(50, [256, 128, 64], dropout, batch_norm)
        model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
        model.fit(xt, yt, epochs=epochs(100, 30), batch_size=32, validation_data=(xv, yv), verbose=0)


def weight_decay() -> None:
    xt, yt, xv, yv = classification(800, 30, 0.2, n_informative=5, n_redundant=25)
    for regularizer in (None, keras.regularizers.L1(0.01), keras.regularizers.L2(0.01),
                        keras.regularizers.L1L2(0.01, 0.01)):
        model = mlp(30, [128, 64], regularizer=regularizer)
        model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
        model.fit(xt, yt, epochs=epochs(150, 30), batch_size=32, validation_data=(xv, yv), verbose=0)


def callbacks() -> None:
    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype("float32")
    xr, _, yr, _ = train_test_split(x, y, test_size=0.15, random_state=SEED, stratify=y)
    xt, xv, yt, yv = train_test_split(xr, yr, test_size=270, random_state=SEED, stratify=yr)
    model = mlp(64, [128, 64], [0.2, 0.2], outputs=10, activation="softmax")
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    with tempfile.TemporaryDirectory() as tmp:
        cbs = [keras.callbacks.EarlyStopping(patience=10, restore_best_weights=True),
               keras.callbacks.ReduceLROnPlateau(factor=0.5, patience=5, min_lr=1e-7),
               keras.callbacks.ModelCheckpoint(os.path.join(tmp, "best.keras"), monitor="val_accuracy",
                                               save_best_only=True),
               keras.callbacks.TensorBoard(os.path.join(tmp, "logs"), histogram_freq=1),
               keras.callbacks.CSVLogger(os.path.join(tmp, "log.csv")),
               keras.callbacks.LearningRateScheduler(lambda epoch: 0.001 * 0.9 ** epoch)]
        model.fit(xt, yt, epochs=epochs(50, 10), batch_size=128, validation_data=(xv, yv), callbacks=cbs, verbose=0)


class _Timer(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.last = time.perf_counter() - self.start
        if logs.get("val_accuracy", 0.0) > 0.95:
            self.model.stop_training = True


def custom_callback() -> None:
    rng = np.random.default_rng(SEED)
    x, y = rng.uniform(size=(1000, 20)).astype("float32"), rng.integers(0, 2, 1000).astype("float32")
    model = mlp(20, [64])
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    model.fit(x[:800], y[:800], epochs=20, batch_size=32, validation_data=(x[800:], y[800:]), callbacks=[_Timer()],
              verbose=0)


def monitor() -> None:
    x, y = make_classification(n_samples=2000, n_features=20, random_state=SEED)
    xt, xv, yt, yv = train_test_split(x, y, test_size=0.2, random_state=SEED)
    xt = StandardScaler().fit_transform(xt).astype("float32")
    xv = StandardScaler().fit_transform(xv).astype("float32")  # the tutorial's leak: the test set's own statistics
    yt, yv = yt.astype("float32")[:, None], yv.astype("float32")[:, None]  # the minimal fix for its int64 crash
    model = mlp(20, [128, 64], [0.3, 0.2])
    opt, loss_fn = keras.optimizers.Adam(1e-3), keras.losses.BinaryCrossentropy()
    data = tf.data.Dataset.from_tensor_slices((xt, yt)).shuffle(2000, seed=SEED).batch(32)
    for _ in range(epochs(100, 20)):
        losses, norms = [], []
        for xb, yb in data:  # eager, like its basic loop
            with tf.GradientTape() as tape:
                pred = model(xb, training=True)
                loss = loss_fn(yb, pred)
            grads = tape.gradient(loss, model.trainable_variables)
            norms.append(float(tf.linalg.global_norm(grads)))
            opt.apply_gradients(zip(grads, model.trainable_variables))
            losses.append(float(loss))
        pred = model(xv, training=False)
        float(loss_fn(yv, pred)), float(np.mean((pred.numpy() > 0.5) == yv))


BASELINE: dict[int, Callable[[], None]] = {
    1: losses, 2: optimizers, 3: schedules, 4: basic, 5: advanced, 6: regularization, 7: weight_decay,
    8: callbacks, 9: custom_callback, 10: monitor,
}
BASELINE_MODELS = {4: 1, 5: 1, 6: 4, 7: 4, 8: 1, 9: 1, 10: 1}


def run_baseline() -> tuple[float, dict[int, float]]:
    times = {}
    start = time.perf_counter()
    for number, fn in BASELINE.items():
        tick = time.perf_counter()
        fn()
        times[number] = time.perf_counter() - tick
        print(f"  baseline section {number:>2}: {times[number]:7.1f} s", flush=True)
    return time.perf_counter() - start, times


def run_tour(workers: int | None) -> tuple[float, object]:
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        result = trainlab.tour(out=os.path.join(tmp, "tour"), quick=QUICK, workers=workers,
                               echo=lambda line: print("  " + line, flush=True))
        return time.perf_counter() - start, result


def main() -> None:
    global QUICK
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the quick tour, and the baseline at its epochs")
    parser.add_argument("--workers", type=int, default=None, help="the tour's workers (default: its own choice)")
    parser.add_argument("--skip-baseline", action="store_true")
    parser.add_argument("--skip-tour", action="store_true")
    args = parser.parse_args()
    QUICK = args.quick
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"machine: {os.cpu_count()} cores, load average {load:.2f} at the start", flush=True)
    warm = tf.function(lambda x: tf.reduce_sum(x * 2.0))
    warm(tf.ones(4))  # start TensorFlow's runtime and its first trace before any timing
    tour_time = base_time = None
    if not args.skip_tour:
        print("the tour (trainlab.tour):", flush=True)
        tour_time, result = run_tour(args.workers)
        sections = {s.number: s for s in result.sections}
    if not args.skip_baseline:
        print("the baseline (the tutorial's way):", flush=True)
        base_time, base = run_baseline()
    print(f"\n{'section':<28}{'tour s':>9}{'baseline s':>12}{'tour models':>13}{'baseline models':>17}")
    if tour_time is not None and base_time is not None:
        for number, fn in BASELINE.items():
            s = sections.get(number)
            print(f"{number:>2}. {fn.__name__:<24}{s.seconds if s else float('nan'):>9.1f}{base[number]:>12.1f}"
                  f"{s.runs if s else 0:>13}{BASELINE_MODELS.get(number, 0):>17}")
        models, base_models = sum(s.runs for s in result.sections), sum(BASELINE_MODELS.values())
        print(f"\nthe tour: {tour_time:.1f} s in all ({result.startup_seconds:.1f} s of it starting TensorFlow in its "
              f"workers), {models} models trained, every record, figure and report written")
        print(f"the baseline: {base_time:.1f} s, {base_models} models trained, nothing recorded or drawn")
        print(f"ratio (baseline / tour): {base_time / tour_time:.2f}x")
        print(f"ratio per model trained: {(base_time / base_models) / (tour_time / models):.2f}x")
    elif tour_time is not None:
        print(f"the tour: {tour_time:.1f} s")
    elif base_time is not None:
        print(f"the baseline: {base_time:.1f} s")
    end = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"load average at the end: {end:.2f}")


if __name__ == "__main__":
    main()
