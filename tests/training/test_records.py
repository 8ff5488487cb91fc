"""Records: TensorBoard event files hold the same numbers as the CSV records."""

import numpy as np
import pytest
import tensorflow as tf
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

import trainlab
from trainlab import rundir


def _scalars(path):
    """Every tag read back with TensorBoard's own reader: ``{tag: [(step, value or array)]}``."""
    acc = EventAccumulator(str(path), size_guidance={"tensors": 0, "scalars": 0})
    acc.Reload()
    out = {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}
    for tag in acc.Tags()["tensors"]:
        values = [(e.step, tf.make_ndarray(e.tensor_proto)) for e in acc.Tensors(tag)]
        out[tag] = [(s, float(v) if np.ndim(v) == 0 else v) for s, v in values]
    return out


def test_tensorboard_scalars_match_the_csv_records(tmp_path, tiny_recipe):
    recipe = dict(tiny_recipe, training={**tiny_recipe["training"], "tensorboard": {"histogram_freq": 2}})
    run = trainlab.train(recipe, out=tmp_path / "run")
    train = _scalars(run.dir / "tensorboard" / "train")
    val = _scalars(run.dir / "tensorboard" / "validation")
    history = rundir.read_csv(run.dir / "history.csv")
    steps = rundir.read_csv(run.dir / "steps.csv")
    assert [s for s, _ in train["epoch_loss"]] == [1, 2, 3, 4, 5]
    assert [v for _, v in train["epoch_loss"]] == pytest.approx([r["loss"] for r in history], rel=1e-6)
    assert [v for _, v in val["epoch_loss"]] == pytest.approx([r["val_loss"] for r in history], rel=1e-6)
    assert [v for _, v in val["epoch_accuracy"]] == pytest.approx([r["val_accuracy"] for r in history], rel=1e-6)
    assert [v for _, v in train["epoch_grad_norm"]] == pytest.approx([r["grad_norm"] for r in history], rel=1e-6)
    assert [s for s, _ in train["batch_grad_norm"]] == [s["step"] for s in steps]
    assert [v for _, v in train["batch_lr"]] == pytest.approx([s["lr"] for s in steps], rel=1e-6)
    assert "layer_grad_norm/dense_1" in train
    histograms = [t for t in train if "kernel" in t]
    assert histograms and [s for s, _ in train[histograms[0]]] == [2, 4]


def test_tensorboard_can_be_turned_off(tmp_path, tiny_recipe):
    run = trainlab.train(tiny_recipe, out=tmp_path / "run")  # tiny_recipe sets tensorboard: false
    assert not (run.dir / "tensorboard").exists()


@pytest.mark.parametrize("values", [
    np.random.default_rng(0).normal(size=(64, 32)).astype("float32"),
    np.full((5, 3), 0.25, "float32"),  # a single value: the last bucket holds it all
    np.array([], "float32"),
    np.array([-1.0, 0.0, 1e-8, 3.0], "float32"),
])
def test_histogram_buckets_are_tensorboards(values):
    from tensorboard.plugins.histogram.summary_v2 import _buckets

    from trainlab.training.record_writer import histogram_buckets

    expected = _buckets(tf.constant(values), 30).numpy()
    np.testing.assert_allclose(histogram_buckets(values, 30), expected, rtol=1e-12, atol=0)


def test_histograms_are_written_as_tensorboard_writes_them(tmp_path):
    from tensorboard.compat.proto import event_pb2, summary_pb2
    from tensorboard.summary.writer.event_file_writer import EventFileWriter

    from trainlab.training.record_writer import histogram_value

    values = np.random.default_rng(1).normal(size=(40, 8)).astype("float32")
    ours = EventFileWriter(str(tmp_path / "ours"))
    ours.add_event(event_pb2.Event(step=3, summary=summary_pb2.Summary(value=[histogram_value("dense/kernel", values)])))
    ours.close()
    with tf.summary.create_file_writer(str(tmp_path / "theirs")).as_default():
        tf.summary.histogram("dense/kernel", values, step=3)
    read = {}
    for folder in ("ours", "theirs"):
        events = EventAccumulator(str(tmp_path / folder), size_guidance={"tensors": 0}).Reload()
        assert events.SummaryMetadata("dense/kernel").plugin_data.plugin_name == "histograms"
        (event,) = events.Tensors("dense/kernel")
        read[folder] = (event.step, tf.make_ndarray(event.tensor_proto))
    assert read["ours"][0] == read["theirs"][0] == 3
    np.testing.assert_allclose(read["ours"][1], read["theirs"][1], rtol=1e-12)


def test_a_layer_without_weights_reaches_tensorboard_with_its_dead_fraction(tmp_path):
    # A cnn with batch norm: each block's relu is a layer of its own (no weights, so no gradient norm).
    recipe = {
        "data": {"source": "digits", "images": True, "validation_split": 0.2},
        "model": {"name": "cnn", "filters": [4], "dense": [], "batch_norm": True},
        "training": {"epochs": 2, "batch_size": 64, "verbose": 0},
    }
    run = trainlab.train(recipe, out=tmp_path / "run")
    layers = rundir.read_csv(run.dir / "layers.csv")
    activation = [r for r in layers if r["layer"] == "activation_1"]
    assert len(activation) == 2 and activation[0]["grad_norm"] is None and activation[0]["dead_fraction"] is not None
    train = _scalars(run.dir / "tensorboard" / "train")
    assert [v for _, v in train["layer_dead_fraction/activation_1"]] == pytest.approx(
        [r["dead_fraction"] for r in activation])
    assert len(train["layer_grad_norm/conv_1"]) == 2
