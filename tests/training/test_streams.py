"""Streamed data (``trainlab.data.from_datasets``): tf.data of any shape, batched or not, weighted, named inputs.

A stream trains as the same arrays in memory do (and, batched, as Keras' ``fit`` on the same
dataset does); it is iterated, never read whole; what needs fixed samples takes the first ones.
"""

import json
import shutil

import keras
import numpy as np
import pytest
import tensorflow as tf

import trainlab
from trainlab import rundir
from trainlab.training import checkpoint


def _recipe(**training):
    return {
        "seed": 5, "metrics": ["accuracy"], "optimizer": {"name": "sgd", "learning_rate": 0.1},
        "training": {"epochs": 3, "batch_size": 16, "shuffle": False, "verbose": 0, "tensorboard": False,
                     "checkpoint": False, **training},
    }


def _arrays():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(120, 4)).astype("float32")
    y = (x[:, 0] - x[:, 1] + 0.3 * rng.normal(size=120) > 0).astype("int64")
    w = rng.uniform(0.2, 2.0, 120).astype("float32")
    return trainlab.data.from_arrays(x, y, {"validation_split": 0.25}, seed=0, sample_weight=w)


def _close(a, b, keys=("loss", "accuracy", "val_loss", "val_accuracy", "grad_norm")):
    assert len(a.history) == len(b.history)
    for ra, rb in zip(a.history, b.history):
        for key in keys:
            assert rb[key] == pytest.approx(ra[key], rel=1e-5), key


@pytest.mark.parametrize("batched", [False, True])
def test_a_weighted_stream_trains_as_the_weighted_arrays(tmp_path, batched):
    data = _arrays()

    def stream(x, y, w):
        ds = tf.data.Dataset.from_tensor_slices((x, y, w))
        return ds.batch(16) if batched else ds

    arrays = trainlab.train(_recipe(), out=tmp_path / "arrays", data=data)
    streams = trainlab.data.from_datasets(stream(data.x_train, data.y_train, data.w_train),
                                          validation=stream(data.x_val, data.y_val, data.w_val), task="binary")
    assert streams.batched is batched and streams.weighted
    # A batched stream's own batches are used: training.batch_size does not apply.
    recipe = _recipe(batch_size=5) if batched else _recipe()
    streamed = trainlab.train(recipe, out=tmp_path / "streamed", data=streams)
    _close(arrays, streamed)
    described = streamed.summary["data"]
    assert described["streamed"] and described["weighted"] and described["samples_from"] == "first batches"
    assert ("batch_size" in described) is batched and described["batched"] is batched
    assert "train_eval_loss" in streamed.history[-1]  # the train-eval sample: the stream's first samples


def test_named_inputs_in_batches_train_as_keras_fit_on_the_same_dataset(tmp_path):
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(96, 3)).astype("float32"), rng.normal(size=(96, 2)).astype("float32")
    y = (a[:, :1] + b[:, 1:] > 0).astype("float32")
    w = rng.uniform(0.5, 1.5, 96).astype("float32")

    def dataset(lo, hi):
        return tf.data.Dataset.from_tensor_slices(({"a": a[lo:hi], "b": b[lo:hi]}, y[lo:hi], w[lo:hi])).batch(12)

    keras.utils.set_random_seed(2)
    ia, ib = keras.Input((3,), name="a"), keras.Input((2,), name="b")
    joined = keras.layers.Concatenate()([keras.layers.Dense(4, activation="relu")(ia), ib])
    model = keras.Model({"a": ia, "b": ib}, keras.layers.Dense(1, activation="sigmoid")(joined))
    twin = keras.models.clone_model(model)
    twin.set_weights(model.get_weights())
    twin.compile(optimizer=keras.optimizers.SGD(0.1), loss="binary_crossentropy",
                 weighted_metrics=[keras.metrics.BinaryAccuracy(name="accuracy")])
    streams = trainlab.data.from_datasets(dataset(0, 72), dataset(72, 96), task="binary")
    assert streams.input_shape == {"a": (3,), "b": (2,)}
    run = trainlab.train(dict(_recipe(), loss="binary_crossentropy"), out=tmp_path / "run", data=streams, model=model)
    history = twin.fit(dataset(0, 72), validation_data=dataset(72, 96), epochs=3, verbose=0, shuffle=False)
    for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
        np.testing.assert_allclose([r[key] for r in run.history], history.history[key], rtol=2e-5, err_msg=key)
    for ours, theirs in zip(run.model.get_weights(), twin.get_weights()):
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)
    assert run.summary["data"]["input_shape"] == {"a": [3], "b": [2]}


def _images(n=64, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 6, 6, 1)).astype("float32")
    y = (x[:, :3].mean(axis=(1, 2, 3)) > x[:, 3:].mean(axis=(1, 2, 3))).astype("int64")
    return x, y


def _cnn():
    keras.utils.set_random_seed(4)
    return keras.Sequential([keras.Input((6, 6, 1)), keras.layers.Conv2D(3, 3, activation="relu"),
                             keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(1, activation="sigmoid")])


def test_an_image_stream_of_unknown_length_is_iterated_never_read_whole(tmp_path):
    x, y = _images()
    drawn = []

    def samples():
        for i in range(len(x)):
            drawn.append(i)
            yield x[i], y[i]

    spec = (tf.TensorSpec((6, 6, 1), tf.float32), tf.TensorSpec((), tf.int64))
    train = tf.data.Dataset.from_generator(samples, output_signature=spec)
    assert int(train.cardinality()) == tf.data.UNKNOWN_CARDINALITY
    streams = trainlab.data.from_datasets(train, task="binary")
    assert not streams.batched and streams.input_shape == (6, 6, 1) and streams.n_features == 36
    run = trainlab.train(_recipe(train_eval_samples=20, epochs=2), out=tmp_path / "run", data=streams, model=_cnn())
    assert run.summary["status"] == "completed" and len(run.history) == 2
    # Each epoch reads the stream once; the fixed samples (max(20, 256) asked) read it once more, no further.
    assert len(drawn) == 3 * len(x)
    assert np.isfinite(run.history[-1]["train_eval_loss"])


def test_class_weights_on_a_stream_weigh_as_on_arrays(tmp_path):
    data = _arrays()
    cw = {"1": 3.0}
    arrays = trainlab.train(_recipe(class_weight=cw), out=tmp_path / "arrays", data=data)
    streams = trainlab.data.from_datasets(
        tf.data.Dataset.from_tensor_slices((data.x_train, data.y_train, data.w_train)).batch(16),
        tf.data.Dataset.from_tensor_slices((data.x_val, data.y_val, data.w_val)).batch(16), task="binary")
    streamed = trainlab.train(_recipe(class_weight={1: 3.0}), out=tmp_path / "streamed", data=streams)
    _close(arrays, streamed)
    assert streamed.summary["data"]["class_weight"] == {"0": 1.0, "1": 3.0}
    with pytest.raises(trainlab.TrainlabError, match="^training.class_weight: balanced counts the training split's"):
        trainlab.train(_recipe(class_weight="balanced"), out=tmp_path / "balanced", data=streams)


def test_a_resumed_stream_restarts_its_epoch_and_ends_as_the_run_that_never_stopped(tmp_path):
    x, y = _images(96, seed=3)

    def streams():
        return trainlab.data.from_datasets(tf.data.Dataset.from_tensor_slices((x, y)), task="binary",
                                           shuffle_buffer=50)

    recipe = dict(_recipe(shuffle=True, epochs=4, checkpoint={"keep": 10}), deterministic=True)
    try:
        finished = trainlab.train(recipe, out=tmp_path / "run", data=streams(), model=_cnn())
        copy = tmp_path / "stopped"
        shutil.copytree(finished.dir, copy)
        for path in checkpoint.files(copy):
            if path.name > checkpoint.file_name(2, 0):
                path.unlink()
        summary = json.loads((copy / "summary.json").read_text())
        rundir.write_json(copy / "summary.json", {"status": "running", "name": summary["name"],
                                                  "monitor": summary["monitor"]})
        resumed = trainlab.resume(copy, data=streams(), model=_cnn())
    finally:
        from tensorflow.python.framework import config  # TensorFlow exports no switch back

        config.disable_op_determinism()
    assert resumed.summary["resume"] == "epoch 3 restarted (streamed data)"
    assert [r["loss"] for r in resumed.history] == [r["loss"] for r in finished.history]
    for a, b in zip(finished.model.get_weights(), resumed.model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_every_steps_checkpoints_of_a_stream_are_at_epoch_ends_and_the_summary_says_so(tmp_path):
    x, y = _images(32)
    streams = trainlab.data.from_datasets(tf.data.Dataset.from_tensor_slices((x, y)).batch(8), task="binary")
    run = trainlab.train(_recipe(epochs=1, checkpoint={"every_steps": 2}), out=tmp_path / "run", data=streams,
                         model=_cnn())
    assert run.summary["data"]["checkpoints"].startswith("at epoch ends")
    assert [p.name for p in checkpoint.files(run.dir)] == [checkpoint.file_name(1, 0)]


def test_batching_is_inferred_from_the_target_or_given():
    x, y = np.zeros((8, 3), "float32"), np.zeros(8, "int64")
    single = tf.data.Dataset.from_tensor_slices((x, y))
    infer = trainlab.data.from_datasets
    assert not infer(single, task="binary").batched
    assert infer(single.batch(4), task="binary").batched
    assert infer(single.batch(4, drop_remainder=True), task="binary").batched
    # Several regression targets: a sample's target is a vector, a batch's a matrix.
    targets = tf.data.Dataset.from_tensor_slices((x, np.zeros((8, 2), "float32")))
    assert not infer(targets, task="regression", n_targets=2).batched
    assert infer(targets.batch(4), task="regression", n_targets=2).batched
    # A variable-length sequence of token ids, one sample at a time: its open axis is not a batch.
    tokens = tf.data.Dataset.from_generator(lambda: iter([(np.arange(3), 1), (np.arange(5), 0)]), output_signature=(
        tf.TensorSpec((None,), tf.int64), tf.TensorSpec((), tf.int64)))
    stream = infer(tokens, task="binary")
    assert not stream.batched and stream.input_dtype == "int32" and stream.input_shape == (None,)
    assert not infer(single.batch(4), task="binary", batched=False).batched  # given: as given
    assert infer(single, validation=single, task="binary").val is single
    assert infer(single, val=single, task="binary").val is single  # the former name


def test_streams_that_cannot_train_are_refused_in_one_line():
    x, y = np.zeros((8, 3), "float32"), np.zeros(8, "int64")
    single = tf.data.Dataset.from_tensor_slices((x, y))
    cases = [
        (lambda: trainlab.data.from_datasets(tf.data.Dataset.from_tensor_slices(x), task="binary"),
         r"^data.train: must be a tf.data.Dataset of \(x, y\) or \(x, y, sample_weight\) elements"),
        (lambda: trainlab.data.from_datasets(single), r"^data.task: streamed data needs its task .*, got None$"),
        (lambda: trainlab.data.from_datasets(single, task="multiclass"), "^data.n_classes: multiclass streams need"),
        (lambda: trainlab.data.from_datasets(single, task="binary", batched=True),
         r"^data.train: batched=True needs targets with a batch axis; their shape, got \[\]$"),
        (lambda: trainlab.data.from_datasets(single, single.batch(2), task="binary"),
         r"^data: the datasets must all be batched or all single samples; batched, got"),
        (lambda: trainlab.data.from_datasets(single, single, val=single, task="binary"),
         "^data.validation: is given twice"),
    ]
    for make, message in cases:
        with pytest.raises(trainlab.TrainlabError, match=message):
            make()


def test_the_engine_takes_named_inputs_in_memory_as_from_a_dataset():
    from trainlab.training.engine import Engine, Member
    from trainlab.training.engine.program import signature

    rng = np.random.default_rng(3)
    x = {"a": tf.constant(rng.normal(size=(40, 3)).astype("float32")),
         "b": tf.constant(rng.normal(size=(40, 2)).astype("float32"))}
    y = tf.constant((rng.normal(size=(40, 1)) > 0).astype("float32"))
    w = tf.constant(rng.uniform(0.5, 1.5, 40).astype("float32"))

    def member():
        keras.utils.set_random_seed(6)
        ia, ib = keras.Input((3,), name="a"), keras.Input((2,), name="b")
        out = keras.layers.Dense(1, activation="sigmoid")(keras.layers.Concatenate()([ia, ib]))
        return Member(keras.Model({"a": ia, "b": ib}, out), keras.optimizers.SGD(0.1),
                      keras.losses.BinaryCrossentropy())

    in_memory, streamed = member(), member()
    steps = Engine([in_memory], batch_size=8).train_epoch(x, y, sample_weight=w)
    engine = Engine([streamed], batch_size=8)
    reference = engine.train_epoch_dataset(tf.data.Dataset.from_tensor_slices((x, y, w)).batch(8))
    np.testing.assert_allclose(steps.loss, reference.loss, rtol=1e-6)
    for a, b in zip(in_memory.model.get_weights(), streamed.model.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    batches = tf.data.Dataset.from_tensor_slices((x, y, w)).batch(7)
    assert engine.evaluate(x, y, w)[0]["loss"] == pytest.approx(engine.evaluate_dataset(batches)[0]["loss"], rel=1e-6)
    assert engine.evaluate(x, y, w)[0]["loss"] != pytest.approx(engine.evaluate(x, y)[0]["loss"], rel=1e-4)
    assert signature(x) is not None  # named inputs are called through their traced program
