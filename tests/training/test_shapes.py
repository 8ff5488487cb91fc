"""Inputs of every shape train through trainlab as through Keras ``fit``: images, token ids, sequences."""

import keras
import numpy as np
import pytest

import trainlab

RECIPE = {
    "seed": 3, "loss": "sparse_categorical_crossentropy", "metrics": ["accuracy"],
    "optimizer": {"name": "sgd", "learning_rate": 0.05},
    "training": {"epochs": 2, "batch_size": 16, "shuffle": False, "verbose": 0, "tensorboard": False},
}


def _images(n=64, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, size=n)
    x = rng.normal(size=(n, 6, 6, 2)).astype("float32") + y[:, None, None, None] * 0.5
    return x, y


def _tokens(n=64, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, size=n)
    x = rng.integers(1, 20, size=(n, 9))
    x[:, 0] = y + 1
    return x, y


def _cnn():
    keras.utils.set_random_seed(5)
    inputs = keras.Input((6, 6, 2))
    h = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv")(inputs)
    h = keras.layers.GlobalAveragePooling2D()(h)
    return keras.Model(inputs, keras.layers.Dense(3, activation="softmax", name="out")(h))


def _rnn():
    keras.utils.set_random_seed(5)
    inputs = keras.Input((9,), dtype="int32")
    h = keras.layers.Embedding(20, 4, name="embed")(inputs)
    h = keras.layers.GRU(5, name="gru")(h)
    return keras.Model(inputs, keras.layers.Dense(3, activation="softmax", name="out")(h))


@pytest.mark.parametrize(("make_data", "make_model"), [(_images, _cnn), (_tokens, _rnn)], ids=["cnn", "rnn"])
def test_a_user_model_on_shaped_inputs_trains_as_keras_fit(tmp_path, make_data, make_model):
    x, y = make_data()
    data = trainlab.data.from_arrays(x, y, {"validation_split": 0.0, "standardize": False})
    assert data.x_train.shape == x.shape
    run = trainlab.train(RECIPE, out=tmp_path / "run", model=make_model(), data=data)
    theirs = make_model()
    theirs.compile(optimizer=keras.optimizers.SGD(0.05), loss="sparse_categorical_crossentropy",
                   metrics=["accuracy"])
    history = theirs.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
    for a, b in zip(run.model.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose([row["loss"] for row in run.history], history.history["loss"], rtol=1e-4)
    layers = {row["layer"] for row in trainlab.rundir.read_csv(run.dir / "layers.csv")}
    assert "out" in layers and ({"conv"} <= layers or {"embed", "gru"} <= layers)


def test_sample_weights_reach_the_splits_and_preprocessing_json(tmp_path):
    x, y = _images(40)
    w = np.linspace(0.5, 2.0, 40)
    data = trainlab.data.from_arrays(x, y, {"validation_split": 0.25}, sample_weight=w)
    assert data.w_train.shape == (30,) and data.w_val.shape == (10,) and data.input_shape == (6, 6, 2)
    assert sorted(np.concatenate([data.w_train, data.w_val]).tolist()) == pytest.approx(sorted(w.tolist()))
    run = trainlab.train(RECIPE, out=tmp_path / "run", model=_cnn(), data=data)
    prep = trainlab.data.Preprocessing.from_dict(
        __import__("json").loads((run.dir / "preprocessing.json").read_text()))
    assert prep.input_shape == (6, 6, 2) and prep.mean.shape == (2,)
    np.testing.assert_allclose(prep.transform(x[:5]), (x[:5] - data.mean) / data.std, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(("weights", "message"), [
    (np.ones(7), "from_arrays: sample_weight needs one weight per sample (40), got 7"),
    (-np.ones(40), "from_arrays: sample_weight must be finite and >= 0; row 0, got -1.0"),
    (np.zeros(40), "from_arrays: sample_weight must not be all zeros (nothing would be learned)"),
])
def test_bad_sample_weights(weights, message):
    x, y = _images(40)
    with pytest.raises(trainlab.TrainlabError) as info:
        trainlab.data.from_arrays(x, y, sample_weight=weights)
    assert str(info.value) == message


def test_the_recipe_cnn_on_npz_images_trains_as_keras_fit_of_the_same_model(tmp_path):
    x, y = _images(64, seed=4)
    np.savez(tmp_path / "images.npz", x=x, y=y)
    recipe = {
        **RECIPE, "data": {"source": "npz", "path": str(tmp_path / "images.npz"), "validation_split": 0.0,
                           "standardize": False},
        "model": {"name": "cnn", "filters": [4], "dense": [8], "dropout": 0.0},
    }
    run = trainlab.train(recipe, out=tmp_path / "run")
    keras.utils.set_random_seed(RECIPE["seed"])  # as the run builds its model
    theirs = trainlab.models.build({"name": "cnn", "filters": [4], "dense": [8], "dropout": 0.0, "output": "softmax"},
                                   input_shape=(6, 6, 2), n_outputs=3)
    theirs.compile(optimizer=keras.optimizers.SGD(0.05), loss="sparse_categorical_crossentropy")
    history = theirs.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
    assert [layer.name for layer in run.model.layers] == [layer.name for layer in theirs.layers]
    for a, b in zip(run.model.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose([row["loss"] for row in run.history], history.history["loss"], rtol=1e-4)
