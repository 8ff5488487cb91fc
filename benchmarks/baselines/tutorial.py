"""The tutorial "TensorFlow Training and Optimization", sections 1-10, as its own code trains them.

This is the baseline of ``benchmarks/tour_speed.py``: written to /work/shared/TUTORIAL-SPEC.md's facts
in the tutorial's own style (eager ``GradientTape`` loops in sections 4 and 10, ``tf.function`` steps in
section 5, one ``model.fit`` per variant in 6, 7, 8 and 9, every figure drawn), with only the fixes it
needs to run on TensorFlow 2.21 / Keras 3, each marked ``FIX:`` where it is made and listed in FIXES.
It imports no trainlab and sets no threads: TensorFlow runs with its defaults.

Run as its own process: ``python benchmarks/baselines/tutorial.py --out DIR [--quick] [--sections 4 6]``.
The tutorial's own prints go to stdout; the last stdout line is ``TIMES {json}``: each section's wall
time in seconds, the seconds from the interpreter's start to the first section (imports), the fixes
applied, and the versions.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

PROCESS_START = time.perf_counter()

import matplotlib  # noqa: E402

matplotlib.use("Agg")  # FIX: no display here; each plt.show() below is a savefig into --out (see show())
import matplotlib.pyplot as plt  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from sklearn.datasets import load_digits, make_classification  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

# What had to change for the tutorial's code to run here, per section (printed by tour_speed.py).
FIXES = {
    1: "tf.keras.losses.mean_squared_error, mean_absolute_error and mean_squared_logarithmic_error no longer "
       "exist: keras.losses' functions called instead",
    5: "Keras 3: metric.reset_states() -> reset_state(); best weights saved as .weights.h5 instead of .h5",
    8: "defined but never run by the tutorial; run here because the tour runs it; scikit-learn's bundled 8x8 "
       "digits instead of MNIST (no download here)",
    10: "crashed comparing float predictions with int64 labels: labels cast to float32",
}
FIGURES = "."
QUICK = False


def epochs(full: int, quick: int) -> int:
    return quick if QUICK else full


def show(name: str) -> None:
    # FIX: plt.show() draws nothing without a display; the figure is drawn into a file instead.
    plt.savefig(os.path.join(FIGURES, name + ".png"), dpi=100)
    plt.close("all")


# ---------------------------------------------------------------------------- 1. loss functions
def focal_loss(alpha=0.25, gamma=2.0):
    def loss(y_true, y_pred):
        # The tutorial's bug, kept: the cross-entropy is reduced over the batch before each element is weighted.
        bce = tf.keras.losses.binary_crossentropy(y_true, y_pred)
        p_t = y_true * y_pred + (1 - y_true) * (1 - y_pred)
        alpha_t = y_true * alpha + (1 - y_true) * (1 - alpha)
        return tf.reduce_mean(alpha_t * tf.pow(1 - p_t, gamma) * bce)
    return loss


def demo_losses():
    y_true = tf.constant([0.0, 1.0, 1.0, 0.0, 1.0])
    y_pred = tf.constant([0.1, 0.9, 0.8, 0.2, 0.7])
    print("BCE:", tf.keras.losses.BinaryCrossentropy()(y_true, y_pred).numpy())
    logits = tf.constant([-2.2, 2.2, 1.4, -1.4, 0.8])
    print("BCE (logits):", tf.keras.losses.BinaryCrossentropy(from_logits=True)(y_true, logits).numpy())
    labels = tf.constant([0, 1, 2, 1, 0])
    logits3 = tf.constant([[2.0, 0.5, 0.1], [0.1, 2.5, 0.2], [0.2, 0.3, 2.1], [0.8, 1.9, 0.4], [1.8, 0.6, 0.3]])
    print("SCCE:", tf.keras.losses.sparse_categorical_crossentropy(labels, logits3, from_logits=True).numpy())
    print("CCE:", tf.keras.losses.categorical_crossentropy(tf.one_hot(labels, 3), logits3, from_logits=True).numpy())
    t = tf.constant([1.0, 2.0, 3.0, 4.0, 5.0])
    p = tf.constant([1.1, 1.9, 3.2, 3.8, 5.1])
    # FIX: these three were tf.keras.losses.<name>, gone in Keras 3.
    print("MSE:", keras.losses.mean_squared_error(t, p).numpy())
    print("MAE:", keras.losses.mean_absolute_error(t, p).numpy())
    print("Huber:", tf.keras.losses.Huber(delta=1.0)(t, p).numpy())
    print("MSLE:", keras.losses.mean_squared_logarithmic_error(t, p).numpy())
    print("Focal:", focal_loss()(y_true, y_pred).numpy())


# ---------------------------------------------------------------------------- 2. optimizers
def demo_optimizers():
    optimizers = {
        "SGD": tf.keras.optimizers.SGD(learning_rate=0.1),
        "SGD+Momentum": tf.keras.optimizers.SGD(learning_rate=0.1, momentum=0.9),
        "Adam": tf.keras.optimizers.Adam(learning_rate=0.1),
        "RMSprop": tf.keras.optimizers.RMSprop(learning_rate=0.1),
        "Adagrad": tf.keras.optimizers.Adagrad(learning_rate=0.1),
    }
    history = {}
    for name, opt in optimizers.items():
        x = tf.Variable([0.0, 0.0])
        losses = []
        for _ in range(50):
            with tf.GradientTape() as tape:
                loss = tf.reduce_sum(tf.square(x - 2.0))
            grads = tape.gradient(loss, [x])
            opt.apply_gradients(zip(grads, [x]))
            losses.append(loss.numpy())
        history[name] = losses
        print(f"{name}: final loss {losses[-1]:.6f}")
    plt.figure(figsize=(10, 6))
    for name, losses in history.items():
        plt.plot(losses, label=name)
    plt.yscale("log")
    plt.xlabel("step")
    plt.ylabel("loss")
    plt.legend()
    plt.title("Optimizers on f(x) = sum((x - 2)^2)")
    show("02-optimizers")


# ---------------------------------------------------------------------------- 3. learning-rate schedules
class WarmUpCosine(tf.keras.optimizers.schedules.LearningRateSchedule):
    """The tutorial's custom schedule, bugs kept (no get_config; step 0 of an empty warm-up divides by zero)."""

    def __init__(self, warmup_steps, peak_lr, total_steps, final_lr):
        super().__init__()
        self.warmup_steps, self.peak_lr, self.total_steps, self.final_lr = warmup_steps, peak_lr, total_steps, final_lr

    def __call__(self, step):
        step = tf.cast(step, tf.float32)
        warm = self.peak_lr * step / self.warmup_steps
        progress = (step - self.warmup_steps) / (self.total_steps - self.warmup_steps)
        cosine = self.final_lr + 0.5 * (self.peak_lr - self.final_lr) * (1 + tf.cos(np.pi * progress))
        return tf.where(step < self.warmup_steps, warm, cosine)


def demo_schedules():
    s = tf.keras.optimizers.schedules
    schedules = {
        "Exponential decay": s.ExponentialDecay(0.1, decay_steps=100, decay_rate=0.96, staircase=True),
        "Polynomial decay": s.PolynomialDecay(0.1, decay_steps=1000, end_learning_rate=0.01, power=0.5),
        "Piecewise constant": s.PiecewiseConstantDecay([100, 200, 300], [0.1, 0.05, 0.01, 0.005]),
        "Cosine decay": s.CosineDecay(0.1, decay_steps=1000),
        "Warm-up + cosine (custom)": WarmUpCosine(100, 1e-3, 1000, 1e-4),
    }
    steps = range(500)
    fig, axes = plt.subplots(2, 3, figsize=(15, 8))
    for ax, (name, schedule) in zip(axes.flat, schedules.items()):
        ax.plot(list(steps), [schedule(tf.constant(step)).numpy() for step in steps])
        ax.set_title(name)
        ax.set_xlabel("step")
        ax.set_ylabel("learning rate")
    plt.tight_layout()
    show("03-schedules")


# ---------------------------------------------------------------------------- 4. a basic training loop
def demo_basic_loop():
    X, y = make_classification(n_samples=1000, n_features=20, n_classes=2, random_state=42)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=42)
    X_train, X_test = X_train.astype("float32"), X_test.astype("float32")  # fed unstandardized, as it did
    y_train, y_test = y_train.astype("float32"), y_test.astype("float32")
    train_ds = tf.data.Dataset.from_tensor_slices((X_train, y_train)).shuffle(1000).batch(32)
    val_ds = tf.data.Dataset.from_tensor_slices((X_test, y_test)).batch(32)
    model = tf.keras.Sequential([
        tf.keras.layers.Input((20,)),
        tf.keras.layers.Dense(64, activation="relu"),
        tf.keras.layers.Dropout(0.2),
        tf.keras.layers.Dense(32, activation="relu"),
        tf.keras.layers.Dense(1, activation="sigmoid"),
    ])
    optimizer = tf.keras.optimizers.Adam(learning_rate=1e-3)
    loss_fn = tf.keras.losses.BinaryCrossentropy()
    history = {"loss": [], "accuracy": [], "val_loss": [], "val_accuracy": []}
    start = time.time()
    for epoch in range(epochs(100, 10)):
        train_loss, train_acc = tf.keras.metrics.Mean(), tf.keras.metrics.BinaryAccuracy()
        val_loss, val_acc = tf.keras.metrics.Mean(), tf.keras.metrics.BinaryAccuracy()
        for x_batch, y_batch in train_ds:  # eager: no tf.function
            with tf.GradientTape() as tape:
                pred = model(x_batch, training=True)
                loss = loss_fn(y_batch, pred)
            grads = tape.gradient(loss, model.trainable_variables)
            optimizer.apply_gradients(zip(grads, model.trainable_variables))
            train_loss.update_state(loss)
            train_acc.update_state(y_batch, pred)
        for x_batch, y_batch in val_ds:
            pred = model(x_batch, training=False)
            val_loss.update_state(loss_fn(y_batch, pred))
            val_acc.update_state(y_batch, pred)
        for key, metric in (("loss", train_loss), ("accuracy", train_acc), ("val_loss", val_loss),
                            ("val_accuracy", val_acc)):
            history[key].append(float(metric.result()))
        if epoch == 0 or (epoch + 1) % 10 == 0:
            print(f"Epoch {epoch + 1}: loss {history['loss'][-1]:.4f} acc {history['accuracy'][-1]:.4f} "
                  f"val_loss {history['val_loss'][-1]:.4f} val_acc {history['val_accuracy'][-1]:.4f}")
    print(f"Training time: {time.time() - start:.1f} s")
    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    axes[0].plot(history["loss"], label="train")
    axes[0].plot(history["val_loss"], label="validation")
    axes[0].legend()
    axes[1].plot(history["accuracy"], label="train")
    axes[1].plot(history["val_accuracy"], label="validation")
    axes[1].legend()
    axes[2].plot(np.array(history["loss"]) - np.array(history["val_loss"]))
    axes[2].set_title("train - validation loss")
    show("04-basic")


# ---------------------------------------------------------------------------- 5. an advanced trainer
class AdvancedTrainer:
    def __init__(self, model, optimizer, loss_fn, patience=15, checkpoint="best.weights.h5"):
        self.model, self.optimizer, self.loss_fn = model, optimizer, loss_fn
        self.patience = patience
        self.checkpoint = checkpoint  # FIX: Keras 3 saves weights only to *.weights.h5 (the tutorial's: .h5)
        self.train_loss, self.train_acc = tf.keras.metrics.Mean(), tf.keras.metrics.BinaryAccuracy()
        self.val_loss, self.val_acc = tf.keras.metrics.Mean(), tf.keras.metrics.BinaryAccuracy()

    @tf.function
    def train_step(self, x, y):
        with tf.GradientTape() as tape:
            pred = self.model(x, training=True)
            loss = self.loss_fn(y, pred)
        grads = tape.gradient(loss, self.model.trainable_variables)
        grads = [tf.clip_by_norm(g, 1.0) for g in grads]
        self.optimizer.apply_gradients(zip(grads, self.model.trainable_variables))
        self.train_loss.update_state(loss)
        self.train_acc.update_state(y, pred)

    @tf.function
    def val_step(self, x, y):
        pred = self.model(x, training=False)
        self.val_loss.update_state(self.loss_fn(y, pred))
        self.val_acc.update_state(y, pred)

    def fit(self, train_ds, val_ds, max_epochs):
        best, wait = np.inf, 0
        for epoch in range(max_epochs):
            for metric in (self.train_loss, self.train_acc, self.val_loss, self.val_acc):
                metric.reset_state()  # FIX: Keras 3 renamed reset_states() to reset_state()
            for x, y in train_ds:
                self.train_step(x, y)
            for x, y in val_ds:
                self.val_step(x, y)
            val_loss = float(self.val_loss.result())
            if (epoch + 1) % 10 == 0:
                print(f"Epoch {epoch + 1}: loss {float(self.train_loss.result()):.4f} val_loss {val_loss:.4f} "
                      f"val_acc {float(self.val_acc.result()):.4f}")
            if val_loss < best:
                best, wait = val_loss, 0
                self.model.save_weights(self.checkpoint)
            else:
                wait += 1
                if wait >= self.patience:
                    print(f"Early stopping at epoch {epoch + 1}")
                    break
        self.model.load_weights(self.checkpoint)


def demo_advanced():
    X, y = make_classification(n_samples=2000, n_features=20, random_state=42)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=42)
    scaler = StandardScaler()
    X_train = scaler.fit_transform(X_train).astype("float32")
    X_test = scaler.transform(X_test).astype("float32")
    y_train, y_test = y_train.astype("float32"), y_test.astype("float32")
    train_ds = tf.data.Dataset.from_tensor_slices((X_train, y_train)).shuffle(2000).batch(32)
    val_ds = tf.data.Dataset.from_tensor_slices((X_test, y_test)).batch(32)
    model = tf.keras.Sequential([
        tf.keras.layers.Input((20,)),
        tf.keras.layers.Dense(128, activation="relu"),
        tf.keras.layers.BatchNormalization(),
        tf.keras.layers.Dropout(0.3),
        tf.keras.layers.Dense(64, activation="relu"),
        tf.keras.layers.BatchNormalization(),
        tf.keras.layers.Dropout(0.2),
        tf.keras.layers.Dense(1, activation="sigmoid"),
    ])
    schedule = tf.keras.optimizers.schedules.ExponentialDecay(1e-3, decay_steps=100, decay_rate=0.96)
    trainer = AdvancedTrainer(model, tf.keras.optimizers.Adam(schedule), tf.keras.losses.BinaryCrossentropy(),
                              checkpoint=os.path.join(FIGURES, "best.weights.h5"))
    start = time.time()
    trainer.fit(train_ds, val_ds, max_epochs=200)
    print(f"Training time: {time.time() - start:.1f} s")


# ---------------------------------------------------------------------------- 6. dropout and batch norm
def regularized_model(n_inputs, dropout=False, batch_norm=False):
    layers = [tf.keras.layers.Input((n_inputs,))]
    for units, rate in ((256, 0.3), (128, 0.2), (64, 0.1)):
        layers.append(tf.keras.layers.Dense(units, activation="relu"))
        if batch_norm:
            layers.append(tf.keras.layers.BatchNormalization())
        if dropout:
            layers.append(tf.keras.layers.Dropout(rate))
    layers.append(tf.keras.layers.Dense(1, activation="sigmoid"))
    return tf.keras.Sequential(layers)


def demo_dropout_batchnorm():
    X, y = make_classification(n_samples=500, n_features=50, n_informative=10, n_redundant=40, random_state=42)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=42)
    scaler = StandardScaler()
    X_train, X_test = scaler.fit_transform(X_train), scaler.transform(X_test)
    variants = {"No regularization": (False, False), "Dropout": (True, False), "Batch norm": (False, True),
                "Dropout + batch norm": (True, True)}
    histories = {}
    start = time.time()
    for name, (dropout, batch_norm) in variants.items():
        model = regularized_model(50, dropout, batch_norm)
        model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
        histories[name] = model.fit(X_train, y_train, epochs=epochs(100, 30), batch_size=32,
                                    validation_data=(X_test, y_test), verbose=0).history
    print(f"Training time: {time.time() - start:.1f} s")
    fig, axes = plt.subplots(2, 2, figsize=(12, 10))
    for ax, (name, history) in zip(axes.flat, histories.items()):
        ax.plot(history["loss"], label="train")
        ax.plot(history["val_loss"], label="validation")
        ax.set_title(name)
        ax.legend()
    show("06-dropout-batchnorm")
    for name, history in histories.items():
        print(f"{name:<22} final val accuracy {history['val_accuracy'][-1]:.4f}")


# ---------------------------------------------------------------------------- 7. L1 and L2
def demo_weight_regularization():
    X, y = make_classification(n_samples=800, n_features=30, n_informative=5, n_redundant=25, random_state=42)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=42)
    r = tf.keras.regularizers
    variants = {"None": None, "L1": r.l1(0.01), "L2": r.l2(0.01), "L1+L2": r.l1_l2(l1=0.01, l2=0.01)}
    histories, weights = {}, {}
    start = time.time()
    for name, regularizer in variants.items():
        model = tf.keras.Sequential([
            tf.keras.layers.Input((30,)),
            tf.keras.layers.Dense(128, activation="relu", kernel_regularizer=regularizer),
            tf.keras.layers.Dense(64, activation="relu", kernel_regularizer=regularizer),
            tf.keras.layers.Dense(1, activation="sigmoid"),
        ])
        model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
        histories[name] = model.fit(X_train, y_train, epochs=epochs(150, 30), batch_size=32,
                                    validation_data=(X_test, y_test), verbose=0).history
        weights[name] = model.layers[0].get_weights()[0].flatten()
    print(f"Training time: {time.time() - start:.1f} s")
    fig, axes = plt.subplots(2, 2, figsize=(14, 10))
    for name, history in histories.items():
        axes[0, 0].plot(history["loss"], label=name)
        axes[0, 1].plot(history["val_loss"], label=name)
    for name in ("L1", "L2", "L1+L2"):
        axes[1, 0].hist(weights[name], bins=50, alpha=0.5, label=name)
    names = list(weights)
    axes[1, 1].bar(np.arange(4) - 0.2, [np.abs(weights[n]).sum() for n in names], 0.4, label="L1 norm")
    axes[1, 1].bar(np.arange(4) + 0.2, [np.sqrt((weights[n] ** 2).sum()) for n in names], 0.4, label="L2 norm")
    axes[1, 1].set_xticks(range(4), names)
    for ax in axes.flat:
        ax.legend()
    show("07-weight-regularization")


# ---------------------------------------------------------------------------- 8. built-in callbacks
def demo_callbacks():
    # FIX: MNIST cannot be downloaded here; scikit-learn's bundled 8x8 digits instead (flattened, in [0, 1]).
    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype("float32")
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=42)
    model = tf.keras.Sequential([
        tf.keras.layers.Input((64,)),
        tf.keras.layers.Dense(128, activation="relu"),
        tf.keras.layers.Dropout(0.2),
        tf.keras.layers.Dense(64, activation="relu"),
        tf.keras.layers.Dropout(0.2),
        tf.keras.layers.Dense(10, activation="softmax"),
    ])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    callbacks = [
        tf.keras.callbacks.EarlyStopping(monitor="val_loss", patience=10, restore_best_weights=True),
        tf.keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=5, min_lr=1e-7),
        tf.keras.callbacks.ModelCheckpoint(os.path.join(FIGURES, "best_model.keras"), monitor="val_accuracy",
                                           save_best_only=True),
        tf.keras.callbacks.TensorBoard(log_dir=os.path.join(FIGURES, "logs"), histogram_freq=1),
        tf.keras.callbacks.CSVLogger(os.path.join(FIGURES, "training_log.csv")),
        tf.keras.callbacks.LearningRateScheduler(lambda epoch: 0.001 * 0.9 ** epoch),
    ]
    model.fit(X_train, y_train, epochs=epochs(50, 10), batch_size=128, validation_data=(X_test, y_test),
              callbacks=callbacks, verbose=0)
    print("Test accuracy:", model.evaluate(X_test, y_test, verbose=0)[1])


# ---------------------------------------------------------------------------- 9. a custom callback
class CustomCallback(tf.keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.times = []

    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.time()

    def on_epoch_end(self, epoch, logs=None):
        self.times.append(time.time() - self.start)
        print(f"Epoch {epoch + 1}: acc {logs['accuracy']:.4f} val_acc {logs['val_accuracy']:.4f} "
              f"({self.times[-1]:.2f} s)")
        if logs["val_accuracy"] > 0.95:
            print("Reached 95% validation accuracy, stopping")
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        print(f"Mean epoch time: {np.mean(self.times):.3f} s")


def demo_custom_callback():
    X = np.random.rand(1000, 20)
    y = np.random.randint(0, 2, 1000)
    model = tf.keras.Sequential([tf.keras.layers.Input((20,)), tf.keras.layers.Dense(64, activation="relu"),
                                 tf.keras.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    model.fit(X[:800], y[:800], epochs=20, validation_data=(X[800:], y[800:]), callbacks=[CustomCallback()],
              verbose=0)


# ---------------------------------------------------------------------------- 10. training monitor
class TrainingMonitor:
    def __init__(self):
        self.history = {k: [] for k in ("loss", "accuracy", "val_loss", "val_accuracy", "lr", "grad_norm")}

    def record(self, **values):
        for key, value in values.items():
            self.history[key].append(value)

    def plot(self):
        h = self.history
        fig, axes = plt.subplots(2, 3, figsize=(18, 10))
        axes[0, 0].plot(h["loss"], label="train")
        axes[0, 0].plot(h["val_loss"], label="validation")
        axes[0, 1].plot(h["accuracy"], label="train")
        axes[0, 1].plot(h["val_accuracy"], label="validation")
        axes[0, 2].plot(h["lr"])
        axes[1, 0].plot(h["grad_norm"])
        axes[1, 1].plot(np.array(h["val_loss"]) - np.array(h["loss"]))
        axes[1, 2].plot(h["loss"], alpha=0.4)
        axes[1, 2].plot(np.convolve(h["loss"], np.ones(5) / 5, mode="valid"))
        for ax, title in zip(axes.flat, ("loss", "accuracy", "learning rate", "gradient norm", "overfitting gap",
                                         "stability")):
            ax.set_title(title)
        show("10-monitor")


def demo_monitor():
    X, y = make_classification(n_samples=2000, n_features=20, random_state=42)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=42)
    X_train = StandardScaler().fit_transform(X_train).astype("float32")
    X_test = StandardScaler().fit_transform(X_test).astype("float32")  # the tutorial's leak, kept
    # FIX: the labels were int64 and the accuracy below compared them with float predictions (a crash on TF 2.21).
    y_train, y_test = y_train.astype("float32"), y_test.astype("float32")
    model = tf.keras.Sequential([
        tf.keras.layers.Input((20,)),
        tf.keras.layers.Dense(128, activation="relu"),
        tf.keras.layers.Dropout(0.3),
        tf.keras.layers.Dense(64, activation="relu"),
        tf.keras.layers.Dropout(0.2),
        tf.keras.layers.Dense(1, activation="sigmoid"),
    ])
    optimizer = tf.keras.optimizers.Adam(1e-3)
    loss_fn = tf.keras.losses.BinaryCrossentropy()
    train_ds = tf.data.Dataset.from_tensor_slices((X_train, y_train)).shuffle(2000).batch(32)
    monitor = TrainingMonitor()
    for epoch in range(epochs(100, 20)):
        losses, accs, norms = [], [], []
        for x_batch, y_batch in train_ds:  # eager, like section 4
            with tf.GradientTape() as tape:
                pred = tf.squeeze(model(x_batch, training=True), -1)
                loss = loss_fn(y_batch, pred)
            grads = tape.gradient(loss, model.trainable_variables)
            norms.append(tf.linalg.global_norm(grads).numpy())
            optimizer.apply_gradients(zip(grads, model.trainable_variables))
            losses.append(loss.numpy())
            accs.append(tf.reduce_mean(tf.cast(tf.equal(tf.round(pred), y_batch), tf.float32)).numpy())
        val_pred = tf.squeeze(model(X_test, training=False), -1)
        val_acc = tf.reduce_mean(tf.cast(tf.equal(tf.round(val_pred), y_test), tf.float32)).numpy()
        monitor.record(loss=np.mean(losses), accuracy=np.mean(accs), val_loss=loss_fn(y_test, val_pred).numpy(),
                       val_accuracy=val_acc, lr=float(optimizer.learning_rate.numpy()), grad_norm=np.mean(norms))
        if (epoch + 1) % 10 == 0:
            print(f"Epoch {epoch + 1}: loss {np.mean(losses):.4f} val_acc {val_acc:.4f} grad norm {np.mean(norms):.3f}")
    monitor.plot()


SECTIONS = {1: demo_losses, 2: demo_optimizers, 3: demo_schedules, 4: demo_basic_loop, 5: demo_advanced,
            6: demo_dropout_batchnorm, 7: demo_weight_regularization, 8: demo_callbacks, 9: demo_custom_callback,
            10: demo_monitor}
MODELS = {4: 1, 5: 1, 6: 4, 7: 4, 8: 1, 9: 1, 10: 1}  # models each section trains


def main() -> None:
    global FIGURES, QUICK
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="folder for the figures and files the tutorial writes")
    parser.add_argument("--quick", action="store_true", help="the quick tour's epochs in sections 4, 6, 7, 8, 10")
    parser.add_argument("--sections", nargs="+", type=int, choices=sorted(SECTIONS), default=sorted(SECTIONS))
    args = parser.parse_args()
    FIGURES, QUICK = args.out, args.quick
    os.makedirs(FIGURES, exist_ok=True)
    tf.random.set_seed(42)
    np.random.seed(42)
    imports = time.perf_counter() - PROCESS_START
    times = {}
    for number in sorted(args.sections):
        print(f"\n=== {number}. {SECTIONS[number].__name__}", flush=True)
        tick = time.perf_counter()
        SECTIONS[number]()
        times[number] = time.perf_counter() - tick
    print("TIMES " + json.dumps({
        "sections": times, "imports": imports, "models": {n: MODELS.get(n, 0) for n in times},
        "fixes": {n: FIXES[n] for n in times if n in FIXES}, "quick": QUICK,
        "versions": {"python": sys.version.split()[0], "tensorflow": tf.__version__, "keras": keras.__version__},
        "threads": {"intra_op": tf.config.threading.get_intra_op_parallelism_threads(),
                    "inter_op": tf.config.threading.get_inter_op_parallelism_threads()},
    }), flush=True)


if __name__ == "__main__":
    main()
