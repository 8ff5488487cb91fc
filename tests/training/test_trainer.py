"""``trainlab.train`` end to end on tiny data: records, repeatability, callbacks, tasks."""

import csv
import json
import time

import keras
import numpy as np
import pytest
import tensorflow as tf

import trainlab
from trainlab import rundir


def _csv_header(path):
    with open(path, newline="") as f:
        return next(csv.reader(f))


def test_run_directory_contract(tmp_path, tiny_recipe):
    run = trainlab.train(tiny_recipe, out=tmp_path / "run")
    files = {p.name for p in run.dir.iterdir()}
    assert {"recipe.yaml", "history.csv", "steps.csv", "layers.csv", "summary.json", "model.keras"} <= files
    assert _csv_header(run.dir / "history.csv") == [
        "epoch", "loss", "val_loss", "accuracy", "val_accuracy", "train_eval_loss", "train_eval_accuracy",
        "lr", "grad_norm", "grad_norm_max", "epoch_time_s",
    ]
    steps = rundir.read_csv(run.dir / "steps.csv")
    n_train = 160  # 200 samples, 20% validation
    assert len(steps) == 5 * -(-n_train // 32)
    assert [s["step"] for s in steps] == list(range(1, len(steps) + 1))
    history = rundir.read_csv(run.dir / "history.csv")
    assert len(history) == len(run.history) == 5
    for epoch, row in enumerate(history, start=1):
        mine = [s for s in steps if s["epoch"] == epoch]
        assert row["grad_norm"] == pytest.approx(np.mean([s["grad_norm"] for s in mine]), rel=1e-5)
        assert row["grad_norm_max"] == pytest.approx(max(s["grad_norm"] for s in mine), rel=1e-5)
    summary = json.loads((run.dir / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["epochs_run"] == 5
    assert summary["monitor"] == "val_loss"
    assert summary["best_value"] == min(r["val_loss"] for r in history)
    assert summary["final"]["val_accuracy"] == history[-1]["val_accuracy"]
    assert {"trainlab_version", "tensorflow_version", "wall_time_s", "stopped_early", "test"} <= set(summary)
    resolved = trainlab.load_recipe(run.dir / "recipe.yaml")[0]  # re-runnable as is
    assert resolved.loss == "binary_crossentropy" and resolved.metrics == ["accuracy"]
    assert resolved.model.output == "sigmoid"
    layers = rundir.read_csv(run.dir / "layers.csv")
    assert {r["layer"] for r in layers} == {"dense_1", "dense_2", "output"}
    loaded = keras.models.load_model(run.dir / "model.keras")
    x_val = run.data.x_val
    np.testing.assert_allclose(loaded.predict(x_val, verbose=0), run.model.predict(x_val, verbose=0), rtol=1e-6)


def test_same_seed_same_history_and_new_folder_each_time(tmp_path, tiny_recipe, monkeypatch):
    monkeypatch.chdir(tmp_path)
    a = trainlab.train(tiny_recipe)
    b = trainlab.train(tiny_recipe)
    assert a.dir != b.dir and a.dir.parent == tmp_path / "runs" and a.dir.name.startswith("tiny-")
    drop = lambda rows: [{k: v for k, v in r.items() if k != "epoch_time_s"} for r in rows]  # noqa: E731
    assert drop(a.history) == drop(b.history)
    c = trainlab.train(tiny_recipe, seed=8)
    assert drop(c.history) != drop(a.history)


def test_out_folder_with_files_is_never_reused(tmp_path, tiny_recipe):
    out = tmp_path / "run"
    out.mkdir()
    (out / "summary.json").write_text("{}")
    with pytest.raises(trainlab.TrainlabError, match="already exists and is not empty"):
        trainlab.train(tiny_recipe, out=out)
    assert (out / "summary.json").read_text() == "{}"


def test_early_stopping_restores_the_best_weights(tmp_path, tiny_recipe):
    recipe = dict(tiny_recipe, training={
        **tiny_recipe["training"], "epochs": 60,
        "early_stopping": {"monitor": "val_loss", "patience": 3, "restore_best_weights": True},
    })
    recipe["optimizer"] = {"name": "adam", "learning_rate": 0.05}
    run = trainlab.train(recipe, out=tmp_path / "run")
    s = run.summary
    assert s["stopped_early"] and s["epochs_run"] < 60
    assert s["epochs_run"] == s["best_epoch"] + 3
    model = keras.models.load_model(run.dir / "model.keras")
    val_loss, _ = model.evaluate(run.data.x_val, run.data.y_val.reshape(-1, 1).astype("float32"), verbose=0)
    assert val_loss == pytest.approx(s["best_value"], rel=1e-4)


def test_plateau_scales_a_schedule_instead_of_crashing(tmp_path, tiny_recipe):
    recipe = dict(tiny_recipe)
    recipe["optimizer"] = {
        "name": "sgd",
        "learning_rate": {"name": "exponential", "initial_learning_rate": 0.1, "decay_steps": 5, "decay_rate": 0.9},
    }
    recipe["training"] = {**tiny_recipe["training"], "epochs": 12,
                          "reduce_lr_on_plateau": {"monitor": "loss", "factor": 0.5, "patience": 0, "min_delta": 10.0}}
    run = trainlab.train(recipe, out=tmp_path / "run")
    # min_delta 10 means no epoch ever improves: every epoch after the first halves the scale.
    steps = rundir.read_csv(run.dir / "steps.csv")
    per_epoch = 5  # 160 samples / 32
    for s in steps:
        epoch = s["epoch"]
        expected = 0.1 * 0.9 ** ((s["step"] - 1) / 5) * 0.5 ** max(0, epoch - 2)
        assert s["lr"] == pytest.approx(expected, rel=1e-4), s
    assert len(steps) == 12 * per_epoch


def test_plateau_on_a_constant_rate_matches_keras(tmp_path, tiny_recipe):
    recipe = dict(tiny_recipe, training={**tiny_recipe["training"], "epochs": 4, "reduce_lr_on_plateau": {
        "monitor": "loss", "factor": 0.5, "patience": 0, "min_delta": 10.0, "min_lr": 0.0003}})
    run = trainlab.train(recipe, out=tmp_path / "run")
    # epoch 1 sets the best, epoch 2 fails to improve: the reduction applies from epoch 3 on
    assert [r["lr"] for r in run.history] == pytest.approx([1e-3, 1e-3, 5e-4, 3e-4])


class EpochTimer(keras.callbacks.Callback):
    """Tutorial section 9: time each epoch, stop once validation accuracy passes a target."""

    def __init__(self, target):
        super().__init__()
        self.target, self.times, self.seen = target, [], []

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.times.append(time.perf_counter() - self._start)
        self.seen.append(dict(logs))
        if logs["val_accuracy"] > self.target:
            self.model.stop_training = True


def test_user_callbacks_see_keras_logs_and_can_stop(tmp_path, tiny_recipe):
    timer = EpochTimer(target=0.0)
    run = trainlab.train(tiny_recipe, out=tmp_path / "run", callbacks=[timer])
    assert len(timer.times) == 1 and run.summary["epochs_run"] == 1 and run.summary["stopped_early"]
    assert {"loss", "accuracy", "val_loss", "val_accuracy", "lr", "grad_norm"} <= set(timer.seen[0])
    never = EpochTimer(target=1.01)
    trainlab.train(tiny_recipe, out=tmp_path / "run2", callbacks=[never])
    assert len(never.times) == 5


def test_stock_keras_callbacks_work_unchanged(tmp_path, tiny_recipe):
    log = tmp_path / "keras_log.csv"
    stock = [
        keras.callbacks.EarlyStopping(monitor="val_accuracy", patience=50, restore_best_weights=True),
        keras.callbacks.ReduceLROnPlateau(monitor="val_loss", patience=1, factor=0.5),
        keras.callbacks.ModelCheckpoint(str(tmp_path / "best.keras"), monitor="val_accuracy", save_best_only=True),
        keras.callbacks.ModelCheckpoint(str(tmp_path / "w-{epoch:02d}.weights.h5"), save_weights_only=True),
        keras.callbacks.CSVLogger(str(log)),
        keras.callbacks.TensorBoard(log_dir=str(tmp_path / "tb"), histogram_freq=1),
        keras.callbacks.LearningRateScheduler(lambda epoch, lr: 0.01 * 0.5**epoch),
        keras.callbacks.TerminateOnNaN(),
    ]
    run = trainlab.train(tiny_recipe, out=tmp_path / "run", callbacks=stock)
    assert (tmp_path / "best.keras").exists() and (tmp_path / "w-05.weights.h5").exists()
    rows = list(csv.DictReader(open(log)))
    assert len(rows) == 5 and float(rows[-1]["val_loss"]) == pytest.approx(run.history[-1]["val_loss"])
    assert [r["lr"] for r in run.history] == pytest.approx([0.01 * 0.5**e for e in range(5)])
    assert list((tmp_path / "tb" / "train").glob("events.out.tfevents.*"))


def test_terminate_on_nan_stops_a_diverging_run(tmp_path, tiny_recipe):
    # on_nonfinite: stop records the NaN as it went (the default, rollback, would undo it).
    recipe = dict(tiny_recipe, optimizer={"name": "sgd", "learning_rate": 1e12},
                  training={**tiny_recipe["training"], "epochs": 20, "on_nonfinite": "stop"})
    run = trainlab.train(recipe, out=tmp_path / "run", callbacks=[keras.callbacks.TerminateOnNaN()])
    assert run.summary["epochs_run"] < 20 and np.isnan(run.history[-1]["loss"])
    assert np.isnan(rundir.read_csv(run.dir / "steps.csv")[-1]["loss"])
    assert run.summary["status"] == "failed" and "on_nonfinite: stop" in run.summary["error"]


def test_recipe_callbacks_by_name_write_into_the_run_directory(tmp_path, tiny_recipe):
    recipe = dict(tiny_recipe, training={**tiny_recipe["training"], "callbacks": [
        {"name": "model_checkpoint", "monitor": "val_accuracy", "save_best_only": True},
        "csv_logger", "terminate_on_nan",
    ]})
    run = trainlab.train(recipe, out=tmp_path / "run")
    assert (run.dir / "checkpoints" / "best.keras").exists() and (run.dir / "keras_log.csv").exists()


@pytest.mark.parametrize(
    "data, loss, expected",
    [
        ({"source": "wine"}, "auto", ("sparse_categorical_crossentropy", "softmax", "accuracy")),
        ({"source": "wine"}, {"name": "categorical_crossentropy", "from_logits": True},
         ("categorical_crossentropy", "logits", "accuracy")),
        ({"source": "synthetic_regression", "n_samples": 200, "n_features": 5, "noise": 0.1}, "auto", ("mse", "linear", "mae")),
        ({"source": "synthetic_classification", "n_samples": 200, "n_features": 8},
         {"name": "focal", "from_logits": True}, ("focal", "logits", "accuracy")),
    ],
)
def test_tasks_outputs_and_metrics_are_resolved(tmp_path, tiny_recipe, data, loss, expected):
    recipe = dict(tiny_recipe, data=data, loss=loss)
    run = trainlab.train(recipe, out=tmp_path / "run")
    name = run.recipe.loss if isinstance(run.recipe.loss, str) else run.recipe.loss["name"]
    assert (name, run.recipe.model.output, run.recipe.metrics[0]) == expected
    assert np.isfinite(run.history[-1]["loss"])
    assert run.history[-1]["loss"] < run.history[0]["loss"]


def test_labels_that_do_not_fit_the_loss_fail_before_training(tmp_path, tiny_recipe):
    with pytest.raises(trainlab.TrainlabError, match=r"loss: needs 2 classes .* has 3 classes.*, got 'binary_crossentropy'"):
        trainlab.train(dict(tiny_recipe, data={"source": "wine"}, loss="binary_crossentropy"), out=tmp_path / "a")
    with pytest.raises(trainlab.TrainlabError, match="loss: a classification loss, but data.source 'diabetes' has a regression"):
        trainlab.train(dict(tiny_recipe, data={"source": "diabetes"}, loss="sparse_categorical_crossentropy"),
                       out=tmp_path / "b")
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_a_user_model_and_test_split(tmp_path, tiny_recipe):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(4, activation="tanh"),
                              keras.layers.Dense(1, activation="sigmoid")])
    recipe = dict(tiny_recipe, data={**tiny_recipe["data"], "test_split": 0.2})
    run = trainlab.train(recipe, out=tmp_path / "run", model=model)
    assert run.model is model and set(run.summary["test"]) == {"loss", "accuracy"}


def test_trains_under_a_distribution_strategy_scope(tmp_path, tiny_recipe):
    strategy = tf.distribute.OneDeviceStrategy("/cpu:0")
    with strategy.scope():
        run = trainlab.train(tiny_recipe, out=tmp_path / "run")
    assert run.summary["status"] == "completed" and np.isfinite(run.history[-1]["val_loss"])


def test_clipping_and_gradient_norms_in_records(tmp_path, tiny_recipe):
    recipe = dict(tiny_recipe, optimizer={"name": "sgd", "learning_rate": 0.1, "global_clip_norm": 1e-4})
    run = trainlab.train(recipe, out=tmp_path / "run")
    first = keras.models.load_model(run.dir / "model.keras")
    assert run.history[0]["grad_norm"] > 1e-3  # the norm is measured before clipping
    # with every step's global norm clipped to 1e-4 and lr 0.1, weights barely move
    assert first.optimizer.global_clipnorm == pytest.approx(1e-4)


def test_streamed_tf_data_input_trains_like_arrays(tmp_path, tiny_recipe):
    recipe = dict(tiny_recipe, training={**tiny_recipe["training"], "shuffle": False, "epochs": 3})
    arrays = trainlab.train(recipe, out=tmp_path / "arrays")
    d = arrays.data
    streams = trainlab.data.from_datasets(
        tf.data.Dataset.from_tensor_slices((d.x_train, d.y_train)),
        tf.data.Dataset.from_tensor_slices((d.x_val, d.y_val)),
        task="binary",
    )
    streamed = trainlab.train(recipe, out=tmp_path / "streamed", data=streams)
    for a, b in zip(arrays.history, streamed.history):
        for key in ("loss", "val_loss", "accuracy", "val_accuracy", "grad_norm"):
            assert b[key] == pytest.approx(a[key], rel=1e-5), key
    assert streamed.summary["data"]["streamed"] and streamed.summary["data"]["splits"]["train"]["n"] == 160
    shuffled = trainlab.train(dict(recipe, training={**recipe["training"], "shuffle": True}),
                              out=tmp_path / "shuffled", data=streams)
    assert np.isfinite(shuffled.history[-1]["val_loss"])


def test_a_bad_callback_argument_leaves_no_run_directory(tmp_path, tiny_recipe):
    recipe = dict(tiny_recipe, training={**tiny_recipe["training"],
                                         "callbacks": [{"name": "reduce_lr_on_plateau", "factor": 2.0}]})
    with pytest.raises(trainlab.TrainlabError, match=r"training.callbacks\[0\]: invalid arguments for callback"):
        trainlab.train(recipe, out=tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_categorical_losses_on_two_classes_use_two_softmax_units(tmp_path, tiny_recipe):
    for loss in ("sparse_categorical_crossentropy", "categorical_crossentropy"):
        run = trainlab.train(dict(tiny_recipe, loss=loss), out=tmp_path / loss)
        assert run.model.output_shape == (None, 2) and run.recipe.model.output == "softmax"
        assert run.history[-1]["loss"] < run.history[0]["loss"]


@pytest.mark.parametrize(
    "loss, output, message",
    [
        ("binary_crossentropy", "softmax", "model.output: binary_crossentropy needs a 'sigmoid' output, got 'softmax'"),
        ("sparse_categorical_crossentropy", "sigmoid", "needs a 'softmax' output, got 'sigmoid'"),
        ("binary_crossentropy", "logits", "binary_crossentropy reads probabilities; use 'sigmoid' or set"),
    ],
)
def test_outputs_the_loss_cannot_read_are_refused(tmp_path, tiny_recipe, loss, output, message):
    recipe = dict(tiny_recipe, loss=loss, model={**tiny_recipe["model"], "output": output})
    with pytest.raises(trainlab.TrainlabError, match=message.replace("(", r"\(").replace(")", r"\)")):
        trainlab.train(recipe, out=tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_sigmoid_output_with_a_logits_loss_is_fixed_with_a_warning(tmp_path, tiny_recipe):
    recipe = dict(tiny_recipe, loss={"name": "binary_crossentropy", "from_logits": True},
                  model={**tiny_recipe["model"], "output": "sigmoid"})
    with pytest.warns(UserWarning, match="using a linear 'logits' output"):
        run = trainlab.train(recipe, out=tmp_path / "run")
    assert run.recipe.model.output == "logits"


def test_summary_names_the_epoch_early_stopping_restored(tmp_path, tiny_recipe):
    recipe = dict(tiny_recipe, optimizer={"name": "adam", "learning_rate": 0.05}, training={
        **tiny_recipe["training"], "epochs": 40,
        "early_stopping": {"patience": 3, "start_from_epoch": 6, "restore_best_weights": True}})
    run = trainlab.train(recipe, out=tmp_path / "run")
    assert run.summary["best_epoch"] >= 7
    val = [r["val_loss"] for r in run.history]
    assert run.summary["best_value"] == pytest.approx(min(val[6:]))
    assert run.summary["best_epoch"] == 7 + int(np.argmin(val[6:]))


def test_list_and_keyword_overrides_mix(tmp_path, tiny_recipe):
    run = trainlab.train(tiny_recipe, out=tmp_path / "run", overrides=["training.epochs=2"],
                         training__early_stopping=None, seed=3)
    assert run.summary["epochs_run"] == 2 and run.recipe.seed == 3


def test_recipe_yaml_says_when_model_or_data_came_from_python(tmp_path, tiny_recipe):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(1, activation="sigmoid")])
    run = trainlab.train(tiny_recipe, out=tmp_path / "run", model=model)
    assert (run.dir / "recipe.yaml").read_text().startswith("# This run's model came from Python")


def test_out_pointing_at_a_file_is_refused(tmp_path, tiny_recipe):
    target = tmp_path / "notes.txt"
    target.write_text("mine")
    with pytest.raises(trainlab.TrainlabError, match="notes.txt: is a file, not a folder"):
        trainlab.train(tiny_recipe, out=target)
    assert target.read_text() == "mine"


class _CtrlCAt(keras.callbacks.Callback):
    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 == self.epoch:
            raise KeyboardInterrupt


def test_an_interrupted_run_keeps_its_records_and_weights(tmp_path, tiny_recipe):
    with pytest.raises(KeyboardInterrupt):
        trainlab.train(tiny_recipe, out=tmp_path / "run", callbacks=[_CtrlCAt(3)])
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["status"] == "interrupted" and summary["epochs_run"] == 3
    assert len(rundir.read_csv(tmp_path / "run" / "history.csv")) == 3
    assert (tmp_path / "run" / "model.keras").exists()


def test_threads_apply_before_tensorflow_starts_and_warn_after(tmp_path, tiny_recipe):
    import subprocess
    import sys
    import textwrap

    code = textwrap.dedent(f"""
        import tensorflow as tf, trainlab
        recipe = {tiny_recipe!r}
        recipe["training"]["threads"] = 1
        trainlab.train(recipe, out={str(tmp_path / "run")!r})
        print("threads", tf.config.threading.get_intra_op_parallelism_threads(),
              tf.config.threading.get_inter_op_parallelism_threads())
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=180)
    assert "threads 1 1" in out.stdout, out.stderr[-2000:]
    # Once TensorFlow has run an op, the setting is refused with a warning, and training goes on.
    tf.reduce_sum(tf.ones([2]))
    wanted = tf.config.threading.get_intra_op_parallelism_threads() + 3
    recipe = dict(tiny_recipe, training={**tiny_recipe["training"], "threads": wanted})
    with pytest.warns(UserWarning, match=f"training.threads: {wanted} ignored: TensorFlow already started"):
        run = trainlab.train(recipe, out=tmp_path / "run2")
    assert run.summary["status"] == "completed"


def test_summary_carries_the_written_diagnosis(tmp_path, tiny_recipe):
    healthy = trainlab.train(tiny_recipe, out=tmp_path / "ok")
    assert json.loads((healthy.dir / "summary.json").read_text())["diagnosis"] == []
    diverging = dict(tiny_recipe, optimizer={"name": "sgd", "learning_rate": 1e12})
    run = trainlab.train(diverging, out=tmp_path / "nan")
    rules = [f["rule"] for f in json.loads((run.dir / "summary.json").read_text())["diagnosis"]]
    assert rules[0] == "nonfinite"


def test_end_of_run_diagnosis_equals_a_diagnosis_of_the_run_directory(tmp_path, tiny_recipe):
    from trainlab.diagnose import diagnose

    recipe = dict(tiny_recipe, optimizer={"name": "adam", "learning_rate": 0.05},
                  model={"hidden": [64, 64], "dropout": 0.0}, training={**tiny_recipe["training"], "epochs": 40})
    run = trainlab.train(recipe, out=tmp_path / "run")
    assert run.summary["diagnosis"] == [f.to_dict() for f in diagnose(run.dir)]
    assert "overfitting" in [f["rule"] for f in run.summary["diagnosis"]]


def _trainer(recipe, **changes):
    from trainlab.config import load_recipe
    from trainlab.training.trainer import Trainer

    resolved, _, _ = load_recipe({**recipe, **changes})
    return Trainer(resolved, name=resolved.name)


def test_a_traced_engine_trains_the_next_seed_exactly_as_its_own_engine(tmp_path, tiny_recipe):
    from trainlab.training import fit_together, same_program

    data_fixed = {**tiny_recipe, "data": {**tiny_recipe["data"], "seed": 3}}
    first = _trainer(data_fixed, seed=1)
    fit_together([first], [tmp_path / "first"], restartable=True)
    again = _trainer(data_fixed, seed=2)
    assert same_program(first, again)
    reused = fit_together([again], [tmp_path / "reused"], engine=first.engine)[0]
    assert again.engine is first.engine and again.model is first.model
    alone = fit_together([_trainer(data_fixed, seed=2)], [tmp_path / "alone"])[0]
    for a, b in zip(reused.history, alone.history):
        assert a["loss"] == pytest.approx(b["loss"], rel=1e-6)
        assert a["val_loss"] == pytest.approx(b["val_loss"], rel=1e-6)
        assert a["grad_norm"] == pytest.approx(b["grad_norm"], rel=1e-6)
    saved = keras.models.load_model(tmp_path / "reused" / "model.keras")
    for w, v in zip(saved.get_weights(), alone.model.get_weights()):
        np.testing.assert_allclose(w, v, rtol=1e-5, atol=1e-7)


def test_same_program_means_the_same_recipe_but_for_seed_name_and_held_hyperparameters(tiny_recipe):
    from trainlab.training import same_program

    a = _trainer(tiny_recipe, seed=1, name="a")
    assert same_program(a, _trainer(tiny_recipe, seed=5, name="b"))
    # the learning rate (a number) and the dropout rates are held in variables
    assert same_program(a, _trainer(tiny_recipe, seed=5, model={"hidden": [16, 8], "dropout": [0.3, 0.0]},
                                    optimizer={"name": "adam", "learning_rate": 0.05}))
    assert not same_program(a, _trainer(tiny_recipe, seed=5, model={"hidden": [16, 8], "dropout": [0.1, 0.1]}))
    assert not same_program(a, _trainer(tiny_recipe, seed=5, model={"hidden": [16, 4], "dropout": [0.1, 0.0]}))
    assert not same_program(a, _trainer(tiny_recipe, seed=1, optimizer={"name": "sgd"}))
    assert not same_program(a, _trainer(tiny_recipe, seed=1, optimizer={"name": "adam", "beta_1": 0.8}))
    schedule = {"name": "adam", "learning_rate": {"name": "cosine", "initial_learning_rate": 0.01, "decay_steps": 9}}
    assert not same_program(a, _trainer(tiny_recipe, seed=1, optimizer=schedule))


def test_a_builder_of_ones_own_keeps_its_dropout_in_the_program(tiny_recipe, monkeypatch):
    """Its ``dropout`` may go anywhere (here: a constant of a layer whose config does not show it), so it is not
    held: another program."""
    import keras

    from trainlab import models
    from trainlab.training import same_program

    monkeypatch.setattr(models.registry, "_entries", dict(models.registry._entries))  # registered for this test only

    class Shrink(keras.layers.Layer):
        def __init__(self, rate):
            super().__init__()
            self.rate = rate

        def call(self, x):
            return x * (1.0 - self.rate)

    @models.registry.register("noisy_net")
    def noisy_net(input_shape, n_outputs, dropout=0.0, output="sigmoid"):
        inputs = keras.Input(input_shape)
        x = Shrink(dropout)(keras.layers.Dense(8)(inputs))
        return keras.Model(inputs, keras.layers.Dense(n_outputs, activation=output)(x))

    own = {**tiny_recipe, "model": {"name": "noisy_net", "dropout": 0.1}}
    assert not models.holds_dropout("noisy_net") and models.holds_dropout("mlp")
    a = _trainer(own, seed=1)
    assert same_program(a, _trainer(own, seed=2))
    assert not same_program(a, _trainer({**own, "model": {"name": "noisy_net", "dropout": 0.3}}, seed=1))
