"""Sample and class weights, end to end, against Keras' ``fit(sample_weight=..., class_weight=...)`` and ``evaluate``.

Each test trains a user model with trainlab and its twin (the same initial weights) with Keras'
own ``fit`` on the same arrays in the same order (shuffling off, plain SGD, no dropout): the
losses of every epoch, the validation and test results and the final weights agree within
float32 rounding. trainlab's metrics weigh the samples as its loss does: Keras' ``weighted_metrics``.
"""

import keras
import numpy as np
import pytest
from sklearn.utils.class_weight import compute_class_weight

import trainlab
from trainlab.training import prepare

EPOCHS, BATCH = 3, 16


def _recipe(loss, **training):
    return {
        "seed": 3, "loss": loss, "metrics": ["accuracy"],
        "optimizer": {"name": "sgd", "learning_rate": 0.1},
        "training": {"epochs": EPOCHS, "batch_size": BATCH, "shuffle": False, "verbose": 0, "tensorboard": False,
                     "checkpoint": False, **training},
    }


def _model(n_in, n_out, activation):
    keras.utils.set_random_seed(11)
    return keras.Sequential([keras.Input((n_in,)), keras.layers.Dense(6, activation="tanh"),
                             keras.layers.Dense(n_out, activation=activation)])


def _twin(model, loss, metric):
    """``model``'s twin, with its initial weights, compiled for Keras' fit; its metric is weighted (Keras'
    ``weighted_metrics``: trainlab's metrics weigh samples as the loss does)."""
    twin = keras.models.clone_model(model)
    twin.set_weights(model.get_weights())
    twin.compile(optimizer=keras.optimizers.SGD(0.1), loss=loss, weighted_metrics=[metric])
    return twin


def _same_run(run, fitted, history, test=None):
    """trainlab's run equals Keras' fit (its History) epoch by epoch, and its test result Keras' evaluate."""
    for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
        if key in history.history:
            np.testing.assert_allclose([r[key] for r in run.history], history.history[key], rtol=2e-5, err_msg=key)
    for ours, theirs in zip(run.model.get_weights(), fitted.get_weights()):
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)
    if test is not None:
        assert run.summary["test"]["loss"] == pytest.approx(test[0], rel=2e-5)
        assert run.summary["test"]["accuracy"] == pytest.approx(test[1], rel=2e-5)


def _binary(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(160, 4)).astype("float32")
    y = (x[:, 0] + 0.5 * rng.normal(size=160) > 0).astype("int64")
    w = rng.uniform(0.1, 3.0, 160).astype("float32")
    xt, yt, wt = x[:40], y[:40], w[:40]
    return trainlab.data.from_arrays(x[40:], y[40:], {"validation_split": 0.25}, seed=0, sample_weight=w[40:],
                                     x_test=xt, y_test=yt, sample_weight_test=wt)


def test_sample_weights_train_validate_and_test_as_keras_fit_and_evaluate(tmp_path):
    data = _binary(tmp_path)
    assert data.w_train is not None and data.w_val is not None and data.w_test is not None
    model = _model(4, 1, "sigmoid")
    twin = _twin(model, keras.losses.BinaryCrossentropy(), keras.metrics.BinaryAccuracy(name="accuracy"))
    run = trainlab.train(_recipe("binary_crossentropy"), out=tmp_path / "run", model=model, data=data)
    column = lambda y: y.astype("float32").reshape(-1, 1)  # noqa: E731  (the targets as the loss reads them)
    history = twin.fit(data.x_train, column(data.y_train), sample_weight=data.w_train, batch_size=BATCH,
                       epochs=EPOCHS, shuffle=False, verbose=0,
                       validation_data=(data.x_val, column(data.y_val), data.w_val))
    test = twin.evaluate(data.x_test, column(data.y_test), sample_weight=data.w_test, verbose=0)
    _same_run(run, twin, history, test)
    unweighted = twin.evaluate(data.x_test, column(data.y_test), verbose=0)
    assert abs(unweighted[0] - test[0]) > 1e-3  # the weights matter: the comparison can fail
    assert run.summary["data"]["weighted"] is True


def _three_classes():
    rng = np.random.default_rng(1)
    n = 150
    labels = rng.choice(np.array(["cat", "dog", "eel"]), size=n, p=[0.6, 0.3, 0.1])
    x = rng.normal(size=(n, 5)).astype("float32") + (labels == "dog")[:, None] - (labels == "eel")[:, None]
    return x, labels


@pytest.mark.parametrize("spec", ["balanced", {"dog": 2.0, 2: 5.0}])
def test_class_weights_train_as_keras_fit_with_class_weight(tmp_path, spec):
    x, labels = _three_classes()
    data = trainlab.data.from_arrays(x, labels, {"validation_split": 0.2}, seed=0)
    assert data.class_names == ["cat", "dog", "eel"]
    model = _model(5, 3, "softmax")
    twin = _twin(model, keras.losses.SparseCategoricalCrossentropy(),
                 keras.metrics.SparseCategoricalAccuracy(name="accuracy"))
    run = trainlab.train(_recipe("sparse_categorical_crossentropy", class_weight=spec), out=tmp_path / "run",
                         model=model, data=data)
    if spec == "balanced":
        expected = compute_class_weight("balanced", classes=np.arange(3), y=data.y_train)
    else:
        expected = np.array([1.0, 2.0, 5.0])  # "dog" by name, eel by its code 2, cat left at 1
    assert run.summary["data"]["class_weight"] == pytest.approx(dict(zip(data.class_names, expected)))
    history = twin.fit(data.x_train, data.y_train.astype("int32"), class_weight=dict(enumerate(expected)),
                       batch_size=BATCH, epochs=EPOCHS, shuffle=False, verbose=0,
                       validation_data=(data.x_val, data.y_val.astype("int32")))  # validation unweighted
    _same_run(run, twin, history)


def test_class_weights_multiply_the_sample_weights(tmp_path):
    x, labels = _three_classes()
    w = np.random.default_rng(2).uniform(0.5, 2.0, len(x)).astype("float32")
    data = trainlab.data.from_arrays(x, labels, {"validation_split": 0.2}, seed=0, sample_weight=w)
    model = _model(5, 3, "softmax")
    twin = _twin(model, keras.losses.SparseCategoricalCrossentropy(),
                 keras.metrics.SparseCategoricalAccuracy(name="accuracy"))
    run = trainlab.train(_recipe("sparse_categorical_crossentropy", class_weight={"eel": 4.0}),
                         out=tmp_path / "run", model=model, data=data)
    both = data.w_train * np.array([1.0, 1.0, 4.0], "float32")[data.y_train]
    history = twin.fit(data.x_train, data.y_train.astype("int32"), sample_weight=both, batch_size=BATCH,
                       epochs=EPOCHS, shuffle=False, verbose=0,
                       validation_data=(data.x_val, data.y_val.astype("int32"), data.w_val))
    _same_run(run, twin, history)


def test_balanced_class_weights_are_scikit_learns():
    x, labels = _three_classes()
    data = trainlab.data.from_arrays(x, labels, seed=0)
    expected = compute_class_weight("balanced", classes=np.unique(data.y_train), y=data.y_train)
    np.testing.assert_allclose(prepare.class_weights("balanced", data), expected, rtol=1e-12)


def test_class_weights_that_do_not_fit_the_data_are_refused(tmp_path):
    x, labels = _three_classes()
    data = trainlab.data.from_arrays(x, labels, seed=0)
    with pytest.raises(trainlab.TrainlabError, match=r"^training.class_weight: names no class of the data "
                       r"\(its classes: cat, dog, eel\), got 'cow'$"):
        prepare.class_weights({"cow": 2.0}, data)
    with pytest.raises(trainlab.TrainlabError, match=r"got 3$"):
        prepare.class_weights({3: 2.0}, data)
    regression = trainlab.data.from_arrays(x, x[:, 0], {"task": "regression"}, seed=0)
    with pytest.raises(trainlab.TrainlabError, match=r"^training.class_weight: weighs classes; this data has a "
                       r"regression target, got 'balanced'$"):
        trainlab.train(dict(_recipe("mse", class_weight="balanced"), metrics=["mae"]), out=tmp_path / "run",
                       data=regression)
    assert not (tmp_path / "run").exists()


def test_class_weights_apply_to_training_only_and_change_it(tmp_path):
    x, labels = _three_classes()
    data = trainlab.data.from_arrays(x, labels, {"validation_split": 0.2}, seed=0)
    found = prepare.inputs(data, "sparse", 0, 64, class_weight={"eel": 3.0})
    w = found.splits["train"][2].numpy()
    np.testing.assert_array_equal(w, np.where(data.y_train == 2, 3.0, 1.0).astype("float32"))
    assert len(found.splits["val"]) == 2 and len(found.train_eval) == 2  # evaluated as Keras evaluates: unweighted
    plain = prepare.inputs(data, "sparse", 0, 64)
    assert len(plain.splits["train"]) == 2 and plain.class_weight is None
