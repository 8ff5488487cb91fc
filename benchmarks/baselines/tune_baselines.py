"""The search baselines of ``benchmarks/tune_speed.py``: Keras Tuner's Hyperband and Optuna's TPE with a
median pruner, both over Keras ``model.fit`` (one trial at a time), on the same space and data.

Run as its own process (TensorFlow's default threads, no trainlab import):
``python benchmarks/baselines/tune_baselines.py DATA.npz --tool keras_tuner|optuna --trials 24 --epochs 100 --seed 0
[--space full|lr-dropout]``;
prints one line, ``SEARCH {json}``: the wall time of the search, the trials trained, the epochs trained in all,
and the best validation accuracy any trial reached (its best epoch).

The space (as the trainlab search in ``tune_speed.py``): learning rate log-uniform in [1e-4, 1e-2], one
dropout rate in [0, 0.5] after every hidden layer, batch norm on/off, widths 64-32-16, 128-64-32 or
256-128-64; an MLP with relu and a sigmoid output, Adam, binary cross-entropy, batch 32.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time

import keras
import numpy as np

WIDTHS = ([64, 32, 16], [128, 64, 32], [256, 128, 64])


def mlp(n_inputs: int, hidden: list[int], dropout: float, batch_norm: bool, lr: float) -> keras.Model:
    layers = [keras.Input((n_inputs,))]
    for units in hidden:
        layers.append(keras.layers.Dense(units, activation="relu"))
        if batch_norm:
            layers.append(keras.layers.BatchNormalization())
        if dropout > 0:
            layers.append(keras.layers.Dropout(dropout))
    layers.append(keras.layers.Dense(1, activation="sigmoid"))
    model = keras.Sequential(layers)
    model.compile(optimizer=keras.optimizers.Adam(lr), loss="binary_crossentropy", metrics=["accuracy"])
    return model


def keras_tuner(data: dict, trials: int, epochs: int, seed: int, space: str) -> dict:
    """Hyperband (factor 3, one iteration): its bracket sizes come from max_epochs, not from ``trials``."""
    import keras_tuner as kt

    def build(hp: kt.HyperParameters) -> keras.Model:
        if space == "lr-dropout":  # the architecture fixed: 256-128-64, no batch norm
            return mlp(data["x_train"].shape[1], WIDTHS[2], hp.Float("dropout", 0.05, 0.5), False,
                       hp.Float("learning_rate", 1e-4, 1e-2, sampling="log"))
        return mlp(data["x_train"].shape[1], WIDTHS[hp.Choice("width", [0, 1, 2])],
                   hp.Float("dropout", 0.0, 0.5), hp.Boolean("batch_norm"),
                   hp.Float("learning_rate", 1e-4, 1e-2, sampling="log"))

    with tempfile.TemporaryDirectory() as tmp:
        tuner = kt.Hyperband(build, objective="val_accuracy", max_epochs=epochs, factor=3, seed=seed,
                             directory=tmp, project_name="search", overwrite=True)
        start = time.perf_counter()
        tuner.search(data["x_train"], data["y_train"], validation_data=(data["x_val"], data["y_val"]),
                     batch_size=32, verbose=0)
        seconds = time.perf_counter() - start
        done = tuner.oracle.get_best_trials(num_trials=10**6)
        trained = sum(int(t.hyperparameters.values.get("tuner/epochs", epochs))
                      - int(t.hyperparameters.values.get("tuner/initial_epoch", 0)) for t in done)
        best = max(float(t.score) for t in done if t.score is not None)
    return {"seconds": seconds, "trials": len(done), "epochs_trained": trained, "best": best}


def optuna_tpe(data: dict, trials: int, epochs: int, seed: int, space: str) -> dict:
    """TPE with Optuna's MedianPruner, pruning through optuna-integration's Keras callback."""
    import optuna
    from optuna_integration import KerasPruningCallback

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    trained = [0]

    def objective(trial: optuna.Trial) -> float:
        if space == "lr-dropout":  # the architecture fixed: 256-128-64, no batch norm
            model = mlp(data["x_train"].shape[1], WIDTHS[2], trial.suggest_float("dropout", 0.05, 0.5), False,
                        trial.suggest_float("learning_rate", 1e-4, 1e-2, log=True))
        else:
            model = mlp(data["x_train"].shape[1], WIDTHS[trial.suggest_categorical("width", [0, 1, 2])],
                        trial.suggest_float("dropout", 0.0, 0.5),
                        trial.suggest_categorical("batch_norm", [False, True]),
                        trial.suggest_float("learning_rate", 1e-4, 1e-2, log=True))
        history = model.fit(data["x_train"], data["y_train"], validation_data=(data["x_val"], data["y_val"]),
                            epochs=epochs, batch_size=32, verbose=0,
                            callbacks=[KerasPruningCallback(trial, "val_accuracy")])
        trained[0] += len(history.history["val_accuracy"])
        return max(history.history["val_accuracy"])

    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed),
                                pruner=optuna.pruners.MedianPruner())
    start = time.perf_counter()
    study.optimize(objective, n_trials=trials)
    seconds = time.perf_counter() - start
    # A pruned trial's fit raised before its history returned: count its epochs from its reports.
    pruned = [t for t in study.trials if t.state == optuna.trial.TrialState.PRUNED]
    trained[0] += sum(len(t.intermediate_values) for t in pruned)
    best = max(max(t.intermediate_values.values()) for t in study.trials if t.intermediate_values)
    return {"seconds": seconds, "trials": len(study.trials), "epochs_trained": trained[0], "best": float(best)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", help=".npz with x_train, y_train, x_val, y_val")
    parser.add_argument("--tool", choices=["keras_tuner", "optuna"], required=True)
    parser.add_argument("--trials", type=int, default=24)
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--space", choices=["full", "lr-dropout"], default="full")
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    data = dict(np.load(args.data))
    keras.utils.set_random_seed(args.seed)
    mlp(data["x_train"].shape[1], WIDTHS[0], 0.1, True, 1e-3).fit(  # warm-up: runtime, lazy modules, first traces
        data["x_train"], data["y_train"], validation_data=(data["x_val"], data["y_val"]), epochs=1, verbose=0)
    search = keras_tuner if args.tool == "keras_tuner" else optuna_tpe
    print("SEARCH " + json.dumps(search(data, args.trials, args.epochs, args.seed, args.space)), flush=True)


if __name__ == "__main__":
    main()
