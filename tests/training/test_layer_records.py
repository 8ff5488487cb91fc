"""The per-layer and per-epoch records beyond loss and metrics: checked against NumPy and Keras."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import trainlab
from trainlab import rundir
from trainlab.training.engine import Engine, Member


def _model(activation="relu", hidden=8):
    inputs = keras.Input((5,))
    h = keras.layers.Dense(hidden, activation=activation, name="dense_1")(inputs)
    outputs = keras.layers.Dense(1, activation="sigmoid", name="output")(h)
    return keras.Model(inputs, outputs)


def _data(n=96):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 5)).astype("float32")
    return tf.constant(x), tf.constant((x[:, :1] > 0).astype("float32"))


def test_weight_norms_and_update_ratio_match_numpy():
    keras.utils.set_random_seed(0)
    model = _model()
    engine = Engine([Member(model, keras.optimizers.SGD(0.1), keras.losses.BinaryCrossentropy())], 32)
    before = [v.numpy().copy() for v in model.trainable_variables]
    stats = engine.layer_stats(engine.train_epoch(*_data()))[0]
    after = [v.numpy() for v in model.trainable_variables]
    for layer, (lo, hi) in {"dense_1": (0, 2), "output": (2, 4)}.items():
        moved = np.sqrt(sum(((a - b) ** 2).sum() for a, b in zip(after[lo:hi], before[lo:hi])))
        start = np.sqrt(sum((b**2).sum() for b in before[lo:hi]))
        assert stats[layer]["update_ratio"] == pytest.approx(moved / start, rel=1e-5)
        assert stats[layer]["weight_l1"] == pytest.approx(sum(np.abs(a).sum() for a in after[lo:hi]), rel=1e-5)
        assert stats[layer]["weight_norm"] == pytest.approx(np.sqrt(sum((a**2).sum() for a in after[lo:hi])), rel=1e-5)
        assert stats[layer]["update_ratio"] > 0


def test_dead_relu_and_saturated_units_are_counted():
    keras.utils.set_random_seed(0)
    model = _model("relu", hidden=4)
    dense = model.get_layer("dense_1")
    dense.kernel.assign(np.zeros((5, 4), "float32"))
    dense.bias.assign(np.array([-1.0, -1.0, -1.0, 1.0], "float32"))  # three units never fire
    engine = Engine([Member(model, keras.optimizers.SGD(0.1), keras.losses.BinaryCrossentropy())], 32)
    x, _ = _data()
    stats = engine.activation_stats(x)[0]
    assert stats["dense_1"] == {"dead_fraction": 0.75}
    model.get_layer("output").kernel.assign(np.zeros((4, 1), "float32"))
    model.get_layer("output").bias.assign(np.array([10.0], "float32"))  # sigmoid(10) > 0.99 everywhere
    assert engine.activation_stats(x)[0]["output"] == {"saturated_fraction": 1.0}

    keras.utils.set_random_seed(0)
    tanh = _model("tanh", hidden=4)
    tanh.get_layer("dense_1").kernel.assign(np.full((5, 4), 50.0, "float32"))
    reference = np.mean(np.abs(np.tanh(x.numpy() @ np.full((5, 4), 50.0))) > 0.99)
    engine = Engine([Member(tanh, keras.optimizers.SGD(0.1), keras.losses.BinaryCrossentropy())], 32)
    assert engine.activation_stats(x)[0]["dense_1"]["saturated_fraction"] == pytest.approx(reference)


def test_subclassed_model_has_no_activation_probe():
    class Net(keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = keras.layers.Dense(1, activation="sigmoid")

        def call(self, x):
            return self.dense(x)

    model = Net()
    x, y = _data()
    model(x)
    engine = Engine([Member(model, keras.optimizers.SGD(0.1), keras.losses.BinaryCrossentropy())], 32)
    assert engine.activation_stats(x) == [{}]


def test_run_records_true_gap_layers_and_weights(tmp_path, tiny_recipe):
    tiny_recipe["training"]["tensorboard"] = {"enabled": True, "histogram_freq": 2, "steps": False}
    run = trainlab.train(tiny_recipe, out=tmp_path / "run")
    # train_eval_loss: the training split re-evaluated in inference mode with the epoch's final weights.
    x, y = run.data.x_train, run.data.y_train.astype("float32").reshape(-1, 1)
    pred = run.model.predict(x, verbose=0)
    expected = float(keras.losses.BinaryCrossentropy()(y, pred))
    assert run.history[-1]["train_eval_loss"] == pytest.approx(expected, rel=1e-4)
    assert run.history[-1]["train_eval_accuracy"] == pytest.approx(np.mean((pred > 0.5) == y), abs=1e-6)

    layers = rundir.read_csv(run.dir / "layers.csv")
    last = {r["layer"]: r for r in layers if r["epoch"] == 5}
    assert set(last) == {"dense_1", "dense_2", "output"}
    assert 0 <= last["dense_1"]["dead_fraction"] <= 1 and last["dense_1"]["saturated_fraction"] is None
    assert last["output"]["dead_fraction"] is None and 0 <= last["output"]["saturated_fraction"] <= 1
    assert all(r["update_ratio"] > 0 and r["weight_l1"] > 0 for r in layers)

    weights = np.load(run.dir / "weights.npz")
    assert set(weights.files) == {f"{layer}/epoch_{e}" for layer in last for e in (1, 5)}
    np.testing.assert_array_equal(weights["output/epoch_5"], run.model.get_layer("output").kernel.numpy().ravel())

    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    board = EventAccumulator(str(run.dir / "tensorboard" / "train"), size_guidance={"histograms": 0, "tensors": 0})
    board.Reload()
    tags = set(board.Tags()["tensors"]) | set(board.Tags()["histograms"])
    assert "gradients/dense_1/kernel" in tags and "dense_1/kernel" in tags
    scalars = set(board.Tags()["scalars"])
    assert {"layer_update_ratio/dense_1", "layer_dead_fraction/dense_1", "epoch_train_eval_loss"} <= scalars


def test_train_eval_can_be_turned_off(tmp_path, tiny_recipe):
    tiny_recipe["training"]["train_eval_samples"] = 0
    run = trainlab.train(tiny_recipe, out=tmp_path / "run")
    assert "train_eval_loss" not in run.history[-1]


def test_a_conv_channel_is_dead_when_it_is_zero_at_every_position():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((6, 6, 1)), keras.layers.Conv2D(4, 3, activation="relu", name="conv"),
                              keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(1, activation="sigmoid")])
    conv = model.get_layer("conv")
    kernel = np.full((3, 3, 1, 4), 0.1, "float32")
    kernel[..., 1] = -0.1  # channel 1: negative everywhere on non-negative inputs, and a negative bias
    conv.kernel.assign(kernel)
    conv.bias.assign(np.array([0.0, -0.1, 0.0, 0.0], "float32"))
    x = np.random.default_rng(0).uniform(0.0, 1.0, (16, 6, 6, 1)).astype("float32")
    x[:, :, 3:] = 0.0  # the right half is blank: the live channels are zero there, yet alive
    engine = Engine([Member(model, keras.optimizers.SGD(0.1), keras.losses.BinaryCrossentropy())], 8)
    assert engine.activation_stats(tf.constant(x))[0]["conv"] == {"dead_fraction": 0.25}
    outputs = keras.Model(model.inputs[0], conv.output)(x).numpy()
    assert (outputs.reshape(-1, 4) <= 0).all(axis=0).tolist() == [False, True, False, False]
    assert (outputs.reshape(16, -1) <= 0).all(axis=0).mean() > 0.25  # counted per position, it would be more


def _rich_model():
    inputs = keras.Input((6, 4))
    h = keras.layers.MultiHeadAttention(2, 4, name="attention")(inputs, inputs)
    h = keras.layers.LayerNormalization(name="norm")(h)
    h = keras.layers.Bidirectional(keras.layers.LSTM(3, return_sequences=True), name="bilstm")(h)
    h = keras.layers.GRU(3, return_sequences=True, name="gru")(h)
    h = keras.layers.LSTM(3, return_sequences=True, name="lstm")(h)
    h = keras.layers.Reshape((6, 3, 1))(h)
    h = keras.layers.Conv2D(2, 3, padding="same", activation="relu", name="conv")(h)
    h = keras.layers.BatchNormalization(name="bn")(h)
    h = keras.layers.GlobalAveragePooling2D()(h)
    head = keras.Sequential([keras.layers.Dense(3, name="hidden"), keras.layers.Dense(1, activation="sigmoid",
                                                                                      name="out")], name="head")
    return keras.Model(inputs, head(h))


def test_layer_rows_are_the_models_layers_nested_ones_included(tmp_path):
    keras.utils.set_random_seed(0)
    model = _rich_model()
    groups = Member(model, keras.optimizers.SGD(0.1), keras.losses.BinaryCrossentropy()).layer_groups()
    names = ["attention", "norm", "bilstm", "gru", "lstm", "conv", "bn", "hidden", "out"]
    assert [name for name, _ in groups] == names
    assert sorted(i for _, idx in groups for i in idx) == list(range(len(model.trainable_variables)))
    assert len(dict(groups)["attention"]) == 8 and len(dict(groups)["bilstm"]) == 6  # q, k, v, out; both ways
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 6, 4)).astype("float32")
    data = trainlab.data.from_arrays(x, (x[:, 0, 0] > 0).astype("int64"), {"validation_split": 0.25}, seed=0)
    run = trainlab.train({"training": {"epochs": 1, "batch_size": 10, "verbose": 0, "tensorboard": False,
                                       "checkpoint": False}}, out=tmp_path / "run", model=model, data=data)
    rows = rundir.load(run.dir).layers
    assert [r["layer"] for r in rows] == names
    conv = next(r for r in rows if r["layer"] == "conv")
    assert np.isfinite(conv["grad_norm"]) and 0.0 <= conv["dead_fraction"] <= 1.0


def test_layers_of_the_same_name_in_two_nested_models_are_named_by_path():
    inputs = keras.Input((3,))
    one = keras.Sequential([keras.layers.Dense(2, name="d")], name="one")
    two = keras.Sequential([keras.layers.Dense(1, name="d")], name="two")
    model = keras.Model(inputs, two(one(inputs)))
    groups = Member(model, keras.optimizers.SGD(0.1), keras.losses.MeanSquaredError()).layer_groups()
    assert groups == [("one/d", [0, 1]), ("two/d", [2, 3])]
