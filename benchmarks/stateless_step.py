"""How much tracing one step per architecture would save: K members of one architecture in one epoch program.

A measurement behind docs/performance.md's options for the search's speed, not a trainlab feature. Two ways
to build the fused epoch program of ``K`` MLPs 50-256-128-64-1 (batch norm, dropout 0.2), SGD, on 350 x 50
samples in batches of 32:

- ``stateful``: as trainlab's engine does, each member's Keras model and optimizer called in the program
  (their graph traced once per member);
- ``stateless``: one step traced once for the architecture (``keras.Model.stateless_call`` on a template
  model, the SGD update written out: Keras' TensorFlow backend refuses ``optimizer.stateless_apply``), then
  called in the program by every member with its own variables' values, the results assigned back.

Prints the seconds to build the models, to trace the shared step (stateless), the first epoch (tracing the
program, optimizing it, running it) and the median of 10 more. Run from the repository root:
``python benchmarks/stateless_step.py [--members 8]``; each way runs in a process of its own.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def measure(mode: str, k: int) -> None:
    import numpy as np
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)  # as trainlab runs a fused engine
    tf.config.threading.set_inter_op_parallelism_threads(2)
    import keras

    rng = np.random.default_rng(0)
    x = tf.constant(rng.normal(size=(350, 50)).astype("float32"))
    y = tf.constant((rng.random((350, 1)) > 0.5).astype("float32"))

    def build(seed: int):
        keras.utils.set_random_seed(seed)
        layers = [keras.Input((50,))]
        for width in (256, 128, 64):
            layers += [keras.layers.Dense(width), keras.layers.BatchNormalization(), keras.layers.Activation("relu"),
                       keras.layers.Dropout(0.2)]
        model = keras.Sequential([*layers, keras.layers.Dense(1, activation="sigmoid")])
        optimizer = keras.optimizers.SGD(0.01)
        optimizer.build(model.trainable_variables)
        return model, optimizer

    tick = time.perf_counter()
    members = [build(seed) for seed in range(k)]
    built = time.perf_counter() - tick
    loss_fn = keras.losses.BinaryCrossentropy()
    batch, steps = 32, (350 + 31) // 32
    traced = 0.0

    if mode == "stateful":
        def members_step(xb, yb):
            losses = []
            for model, optimizer in members:
                with tf.GradientTape() as tape:
                    loss = loss_fn(yb, model(xb, training=True))
                optimizer.apply(tape.gradient(loss, model.trainable_variables), model.trainable_variables)
                losses.append(loss)
            return tf.add_n(losses)
    else:
        template = members[0][0]

        def step(trainable, non_trainable, xb, yb):
            with tf.GradientTape() as tape:
                tape.watch(trainable)
                pred, non_trainable = template.stateless_call(trainable, non_trainable, xb, training=True)
                loss = loss_fn(yb, pred)
            grads = tape.gradient(loss, trainable)
            return loss, [v - 0.01 * g for v, g in zip(trainable, grads)], non_trainable

        def spec(variables):
            return [tf.TensorSpec(v.shape, v.dtype) for v in variables]

        tick = time.perf_counter()
        shared = tf.function(step, autograph=False).get_concrete_function(
            spec(template.trainable_variables), spec(template.non_trainable_variables),
            tf.TensorSpec((None, 50)), tf.TensorSpec((None, 1)))
        traced = time.perf_counter() - tick

        def members_step(xb, yb):
            losses = []
            for model, _ in members:
                loss, trainable, non_trainable = shared([v.value for v in model.trainable_variables],
                                                        [v.value for v in model.non_trainable_variables], xb, yb)
                for variable, value in zip(model.trainable_variables + model.non_trainable_variables,
                                           trainable + non_trainable):
                    variable.assign(value)
                losses.append(loss)
            return tf.add_n(losses)

    @tf.function(autograph=False)
    def epoch():
        def body(i, total):
            xb, yb = x[i * batch:(i + 1) * batch], y[i * batch:(i + 1) * batch]
            return i + 1, total + members_step(xb, yb)

        return tf.while_loop(lambda i, _: i < steps, body, (tf.constant(0), tf.constant(0.0)))[1]

    tick = time.perf_counter()
    epoch()
    first = time.perf_counter() - tick
    rest = []
    for _ in range(10):
        tick = time.perf_counter()
        epoch()
        rest.append(time.perf_counter() - tick)
    print(f"{mode:9s} K {k}: models {built:.2f} s, shared step traced {traced:.2f} s, first epoch {first:.2f} s,"
          f" then {1000 * statistics.median(rest):.1f} ms an epoch")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=8)
    parser.add_argument("--mode", choices=("stateful", "stateless"))  # internal: one way, in this process
    args = parser.parse_args()
    if args.mode:
        measure(args.mode, args.members)
        return
    from machine import clean_env, machine_lines  # benchmarks/machine.py, beside this file

    env, removed = clean_env()
    print("\n".join(machine_lines(env, removed)))
    for mode in ("stateful", "stateless"):
        done = subprocess.run([sys.executable, __file__, "--members", str(args.members), "--mode", mode], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, check=True)
        print(done.stdout.strip())


if __name__ == "__main__":
    main()
