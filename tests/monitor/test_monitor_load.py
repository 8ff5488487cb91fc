"""load(): a run directory's records back as plain values, and the errors a user can meet."""

import math
import subprocess
import sys

import numpy as np
import pytest

from trainlab.errors import TrainlabError
from trainlab.rundir import Records, load


def test_load_reads_every_records_file(run_dir):
    records = load(run_dir(epochs=3, steps_per_epoch=2))
    assert isinstance(records, Records)
    assert [r["epoch"] for r in records.history] == [1, 2, 3]
    assert records.history[1]["loss"] == pytest.approx(0.5)
    assert records.history[1]["val_loss"] == pytest.approx(0.52)
    assert [r["step"] for r in records.steps] == [1, 2, 3, 4, 5, 6]
    assert [r["epoch"] for r in records.steps] == [1, 1, 2, 2, 3, 3]
    assert {r["layer"] for r in records.layers} == {"dense_1", "dense_2", "output"}
    assert records.summary["best_epoch"] == 5
    assert records.name == "synthetic"


def test_without_steps_everything_else_is_read_as_before(run_dir):
    path = run_dir(epochs=3, steps_per_epoch=2)
    whole, light = load(path), load(path, steps=False)
    assert light.steps == [] and whole.steps
    assert (light.history, light.layers, light.summary, light.events) == (whole.history, whole.layers, whole.summary,
                                                                         whole.events)


def test_blank_validation_cells_are_left_out_of_the_series(run_dir):
    records = load(run_dir(epochs=7, validation_every=3))
    assert records.history[0]["val_loss"] is None
    epochs, values = records.epoch_series("val_loss")
    assert epochs.tolist() == [3, 6, 7]
    assert values == pytest.approx([1 / e + 0.01 * e for e in (3, 6, 7)])


def test_nan_cells_are_kept_as_nan(run_dir):
    records = load(run_dir(epochs=4, nan_from_epoch=3))
    epochs, values = records.epoch_series("loss")
    assert epochs.tolist() == [1, 2, 3, 4]
    assert values[:2] == pytest.approx([1.0, 0.5]) and all(math.isnan(v) for v in values[2:])


@pytest.mark.parametrize(("metrics", "main"), [
    (("accuracy",), "accuracy"), (("auc", "accuracy"), "accuracy"), (("mae", "mse"), "mae"), ((), None),
])
def test_main_metric_is_accuracy_else_the_first_metric(run_dir, metrics, main):
    records = load(run_dir(metrics=metrics))
    assert records.metrics == list(metrics)
    assert records.main_metric == main


def test_best_epoch_and_early_stop_come_from_the_summary(run_dir):
    records = load(run_dir(epochs=6, best_epoch=2, stopped_early=True))
    assert (records.best_epoch, records.stopped_at) == (2, 6)
    records = load(run_dir(epochs=6, best_epoch=None))
    assert (records.best_epoch, records.stopped_at) == (None, None)


def test_steps_layers_and_summary_are_optional(run_dir):
    path = run_dir(summary=False)
    (path / "steps.csv").unlink()
    (path / "layers.csv").unlink()
    records = load(path)
    assert (records.steps, records.layers, records.summary) == ([], [], {})
    assert records.name == path.name and records.best_epoch is None


def test_missing_run_directory_names_it(tmp_path):
    with pytest.raises(TrainlabError, match=r"nowhere: is not a run directory"):
        load(tmp_path / "nowhere")


def test_missing_history_names_the_file(tmp_path):
    with pytest.raises(TrainlabError, match=r"history\.csv: is missing"):
        load(tmp_path)


@pytest.mark.parametrize("content", ["", "epoch,loss,val_loss\n"])
def test_empty_history_names_the_file(tmp_path, content):
    (tmp_path / "history.csv").write_text(content)
    with pytest.raises(TrainlabError, match=r"history\.csv: holds no epochs"):
        load(tmp_path)


def test_broken_summary_names_the_file(run_dir):
    path = run_dir()
    (path / "summary.json").write_text("{not json")
    with pytest.raises(TrainlabError, match=r"summary\.json: is not valid JSON"):
        load(path)


def test_importing_trainlab_or_loading_records_does_not_import_matplotlib(run_dir):
    code = ("import sys, trainlab, trainlab.monitor; trainlab.monitor.load(sys.argv[1]); "
            "print('matplotlib' in sys.modules, 'tensorflow' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code, str(run_dir())], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_train_eval_columns_are_twins_not_metrics(run_dir):
    records = load(run_dir(metrics=("accuracy", "auc"), train_eval=True))
    assert "train_eval_loss" in records.history[0] and "train_eval_auc" in records.history[0]
    assert records.metrics == ["accuracy", "auc"]
    assert records.epoch_series("train_eval_loss")[1] == pytest.approx([0.9 / e for e in range(1, 9)])


def test_weights_and_recipe_are_read_when_present(run_dir):
    records = load(run_dir(epochs=6, weights=True))
    assert list(records.weights) == ["dense_1", "dense_2", "output"]
    assert list(records.weights["dense_2"]) == [1, 6]
    assert records.weights["dense_2"][6].shape == (2000,)
    assert np.std(records.weights["dense_2"][6]) == pytest.approx(0.4, rel=0.1)
    assert records.recipe.startswith("name: synthetic")
    bare = load(run_dir(recipe=False))
    assert (bare.weights, bare.recipe) == ({}, None)


def test_weights_keys_of_another_shape_are_skipped(run_dir):
    path = run_dir()
    np.savez(path / "weights.npz", **{"dense/epoch_3": np.ones(4, np.float32), "dense/epoch_1": np.zeros(2),
                                      "notes": np.ones(1), "dense/bias_1": np.ones(1)})
    assert {layer: list(by_epoch) for layer, by_epoch in load(path).weights.items()} == {"dense": [1, 3]}


def test_broken_weights_file_names_it(run_dir):
    path = run_dir()
    (path / "weights.npz").write_bytes(b"not a zip")
    with pytest.raises(TrainlabError, match=r"weights\.npz: cannot be read as a NumPy \.npz file"):
        load(path)


def test_a_file_is_not_a_run_directory(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(TrainlabError, match=r"notes\.txt: is a file, not a run directory"):
        load(tmp_path / "notes.txt")
