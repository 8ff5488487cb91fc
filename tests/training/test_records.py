"""Records: TensorBoard event files hold the same numbers as the CSV records."""

import numpy as np
import pytest
import tensorflow as tf
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

import trainlab
from trainlab.training import rundir


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
