"""The sanity keys by their effect: fast_dev_run, limit_train_batches, limit_val_batches, overfit_batches.

Each is checked against what Keras computes on the batches it should have used (Keras' ``evaluate``,
or SGD steps taken by hand with ``train_on_batch``), and the steps per epoch the schedules see.
"""

import copy

import keras
import numpy as np
import pytest
import tensorflow as tf

import trainlab
from trainlab.errors import TrainlabError
from trainlab.training import Trainer, fusable, sanity
from trainlab.training.prepare import load_recipe


def _recipe(tiny_recipe, **training):
    recipe = copy.deepcopy(tiny_recipe)
    recipe["training"].update(training)
    return recipe


def _steps(run):
    return [row for row in trainlab.monitor.load(run.dir).steps]


def test_a_fast_dev_run_trains_one_epoch_of_two_batches_and_validates_on_two(tiny_recipe, tmp_path):
    # 200 samples: 160 training (5 batches of 32), 40 validation, evaluated in batches of 16.
    run = trainlab.train(_recipe(tiny_recipe, eval_batch_size=16, fast_dev_run=True), out=tmp_path / "run")
    assert len(run.history) == 1 and len(_steps(run)) == 2
    assert run.summary["sanity"] == {"fast_dev_run": True, "limit_train_batches": 2, "limit_val_batches": 2,
                                     "train_batches": 2, "train_batches_available": 5}
    assert run.recipe.training.epochs == 1 and run.recipe.training.train_eval_samples == 64
    # Validation saw the first 2 batches of 16 of the 40 validation samples: Keras' evaluate on them agrees.
    x_val, y_val = run.data.x_val[:32], run.data.y_val[:32].astype("float32")
    loss = run.model.evaluate(x_val, y_val, verbose=0, return_dict=True)["loss"]
    assert run.history[0]["val_loss"] == pytest.approx(loss, rel=1e-5)
    whole = run.model.evaluate(run.data.x_val, run.data.y_val.astype("float32"), verbose=0, return_dict=True)["loss"]
    assert whole != pytest.approx(loss, rel=1e-3)  # (the cut matters: the whole split gives another loss)
    assert "fast_dev_run: true" in (run.dir / "recipe.yaml").read_text()


def test_limit_train_batches_takes_the_first_batches_of_each_epochs_order(tiny_recipe, tmp_path):
    limited = trainlab.train(_recipe(tiny_recipe, epochs=2, limit_train_batches=3), out=tmp_path / "limited")
    whole = trainlab.train(_recipe(tiny_recipe, epochs=1), out=tmp_path / "whole")
    steps, full = _steps(limited), _steps(whole)
    assert [r["epoch"] for r in steps] == [1, 1, 1, 2, 2, 2] and len(full) == 5
    # The same seed draws the same order: the limited epoch is the whole epoch's first 3 steps.
    assert [r["loss"] for r in steps[:3]] == pytest.approx([r["loss"] for r in full[:3]], rel=1e-6)
    assert limited.summary["sanity"]["train_batches"] == 3


@pytest.mark.parametrize("fraction, batches", [(0.25, 1), (0.5, 2), (1.0, 5)])
def test_a_fraction_of_the_training_batches_rounds_down_to_at_least_one(tiny_recipe, tmp_path, fraction, batches):
    run = trainlab.train(_recipe(tiny_recipe, epochs=1, limit_train_batches=fraction), out=tmp_path / "run")
    assert len(_steps(run)) == batches


def test_schedules_in_epochs_count_the_limited_steps(tiny_recipe, tmp_path):
    recipe = _recipe(tiny_recipe, epochs=3, limit_train_batches=2)
    recipe["optimizer"] = {"name": "sgd", "learning_rate": {"name": "exponential", "initial_learning_rate": 0.1,
                                                            "decay_steps": 1, "decay_rate": 0.5, "unit": "epoch"}}
    run = trainlab.train(recipe, out=tmp_path / "run")
    # Epoch e (from 0) runs at 0.1 * 0.5**e: two steps each, had the schedule counted 5 steps an epoch, epoch 2
    # (steps 3-4) would still run at 0.1.
    assert [r["lr"] for r in _steps(run)] == pytest.approx([0.1, 0.1, 0.05, 0.05, 0.025, 0.025])


def test_limit_val_batches_validates_on_the_first_batches_in_order(tiny_recipe, tmp_path):
    run = trainlab.train(_recipe(tiny_recipe, epochs=2, eval_batch_size=8, limit_val_batches=0.4), out=tmp_path / "run")
    # 40 validation samples in 5 batches of 8: 0.4 of them is 2 batches, the first 16 samples.
    x_val, y_val = run.data.x_val[:16], run.data.y_val[:16].astype("float32")
    metrics = run.model.evaluate(x_val, y_val, verbose=0, return_dict=True)
    assert run.history[-1]["val_loss"] == pytest.approx(metrics["loss"], rel=1e-5)
    assert run.history[-1]["val_accuracy"] == pytest.approx(metrics["accuracy"], rel=1e-6)
    assert len(_steps(run)) == 10  # training untouched


def _sgd_model(seed=3):
    keras.utils.set_random_seed(seed)
    return keras.Sequential([keras.Input((8,)), keras.layers.Dense(6, activation="tanh"),
                             keras.layers.Dense(1, activation="sigmoid")])


def test_overfit_batches_trains_the_same_batches_in_order_as_keras_does(tiny_recipe, tmp_path):
    recipe = _recipe(tiny_recipe, epochs=3, overfit_batches=2, train_eval_samples=0)
    recipe.update(optimizer={"name": "sgd", "learning_rate": 0.3}, loss="binary_crossentropy", metrics=["accuracy"])
    model = _sgd_model()
    reference = _sgd_model()
    reference.set_weights(model.get_weights())
    run = trainlab.train(recipe, model=model, out=tmp_path / "run")
    # Keras: the first 2 x 32 training samples, batch by batch in their order, every epoch.
    x, y = run.data.x_train[:64], run.data.y_train[:64].astype("float32").reshape(-1, 1)
    reference.compile(optimizer=keras.optimizers.SGD(0.3), loss="binary_crossentropy")
    for _ in range(3):
        for lo in (0, 32):
            reference.train_on_batch(x[lo:lo + 32], y[lo:lo + 32])
    for mine, theirs in zip(run.model.get_weights(), reference.get_weights()):
        np.testing.assert_allclose(mine, theirs, rtol=1e-5, atol=1e-6)
    # ... and validates on those same samples, in inference mode.
    assert run.history[-1]["val_loss"] == pytest.approx(reference.evaluate(x, y, verbose=0), rel=1e-5)
    assert len(_steps(run)) == 6
    assert run.summary["sanity"]["overfit_batches"] == 2 and run.summary["sanity"]["train_batches"] == 2


def _stream(n=96, length_known=True):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(n, 4)).astype("float32")
    y = (x[:, 0] > 0).astype("int64")
    ds = tf.data.Dataset.from_tensor_slices((x, y))
    if not length_known:
        ds = ds.filter(lambda a, b: True)  # the same elements, of unknown cardinality
    return ds, x, y


def test_a_stream_takes_a_count_of_batches_whatever_its_length(tmp_path):
    train, _, _ = _stream(length_known=False)
    val, xv, yv = _stream(48)
    data = trainlab.data.from_datasets(train, val, task="binary")
    recipe = {"seed": 1, "training": {"epochs": 2, "batch_size": 16, "eval_batch_size": 16, "verbose": 0,
                                      "tensorboard": False, "limit_train_batches": 2, "limit_val_batches": 1}}
    run = trainlab.train(recipe, data=data, out=tmp_path / "run")
    assert [r["epoch"] for r in _steps(run)] == [1, 1, 2, 2]
    loss = run.model.evaluate(xv[:16], yv[:16].astype("float32"), verbose=0, return_dict=True)["loss"]
    assert run.history[-1]["val_loss"] == pytest.approx(loss, rel=1e-5)


def test_a_fraction_of_a_stream_of_unknown_length_is_refused(tmp_path):
    train, _, _ = _stream(length_known=False)
    data = trainlab.data.from_datasets(train, task="binary")
    recipe = {"training": {"epochs": 1, "verbose": 0, "limit_train_batches": 0.5}}
    with pytest.raises(TrainlabError, match=r"training.limit_train_batches: a fraction needs data of known length"):
        trainlab.train(recipe, data=data, out=tmp_path / "run")


def test_runs_with_other_limits_do_not_train_together(tiny_recipe):
    recipes = [load_recipe(_recipe(tiny_recipe, limit_train_batches=n))[0] for n in (2, 3)]
    data = trainlab.data.load(recipes[0].data, seed=recipes[0].seed)
    trainers = [Trainer(r, loaded_data=data) for r in recipes]
    assert fusable(trainers) == "training.limit_train_batches differs (2 vs 3)"


def test_count_takes_a_count_or_a_fraction_of_the_batches():
    assert [sanity.count(limit, 10) for limit in (None, 3, 30, 0.25, 0.01, 1.0)] == [10, 3, 10, 2, 1, 10]
