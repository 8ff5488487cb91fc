"""``trainlab.resume``: a run continued from any checkpoint equals the run that never stopped.

In-process: a run stopped at a checkpoint is made by copying a finished run directory and
removing the checkpoints after it (what a crash there leaves); the SIGKILL test in
``test_kill.py`` does it for real, in subprocesses.
"""

import csv
import errno
import json
import shutil
import signal
import threading

import keras
import numpy as np
import pytest

import trainlab
from trainlab.errors import TrainlabError
from trainlab import rundir
from trainlab.training import checkpoint

RECORDS = ("history.csv", "steps.csv", "layers.csv")


@pytest.fixture(scope="module", autouse=True)
def _op_determinism_off_afterwards():
    """``deterministic: true`` turns on TensorFlow's op determinism for the whole process; other tests expect it off."""
    yield
    from tensorflow.python.framework import config  # TensorFlow exports no switch back

    config.disable_op_determinism()


def _recipe():
    """The tiny recipe, deterministic, checkpointed inside epochs, with early stopping and a plateau rule that act."""
    return {
        "name": "tiny", "seed": 7, "deterministic": True,
        "data": {"source": "synthetic_classification", "n_samples": 200, "n_features": 8},
        "model": {"hidden": [16, 8], "dropout": [0.1, 0.0], "batch_norm": True},
        "optimizer": {"name": "adam", "learning_rate": 0.05},
        "training": {"epochs": 8, "batch_size": 32, "verbose": 0, "tensorboard": False,
                     "checkpoint": {"every_steps": 3, "keep": 100},
                     "early_stopping": {"patience": 3}, "reduce_lr_on_plateau": {"patience": 1, "factor": 0.5}},
    }


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """The uninterrupted run of :func:`_recipe` (module-scoped: several tests stop copies of it)."""
    run = trainlab.train(_recipe(), out=tmp_path_factory.mktemp("finished") / "run")
    lrs = [row["lr"] for row in run.history]
    assert run.summary["stopped_early"] and lrs[-1] < lrs[0]  # both callbacks acted
    return run


def _stopped_at(run, tmp_path, name):
    """A copy of ``run``'s directory as a crash right after checkpoint ``name`` leaves it."""
    copy = tmp_path / f"stopped-{name}"
    shutil.copytree(run.dir, copy)
    for path in checkpoint.files(copy):
        if path.name > name:
            path.unlink()
    (copy / "model.keras").unlink()
    summary = json.loads((copy / "summary.json").read_text())
    rundir.write_json(copy / "summary.json", {"status": "running", "name": summary["name"],
                                              "monitor": summary["monitor"]})
    return copy


def _history(path):
    with open(path / "history.csv", newline="") as f:
        return [{k: v for k, v in row.items() if k != "epoch_time_s"} for row in csv.DictReader(f)]


def assert_same_run(a, b):
    """Same final weights bit for bit, same records (timings aside), same summary."""
    weights_a, weights_b = a.model.get_weights(), b.model.get_weights()
    assert len(weights_a) == len(weights_b)
    assert all(np.array_equal(x, y) for x, y in zip(weights_a, weights_b))
    saved = keras.models.load_model(b.dir / "model.keras").get_weights()
    assert all(np.array_equal(x, y) for x, y in zip(weights_a, saved))
    assert _history(a.dir) == _history(b.dir)
    for name in RECORDS[1:]:
        assert (a.dir / name).read_text() == (b.dir / name).read_text(), name
    with np.load(a.dir / "weights.npz") as wa, np.load(b.dir / "weights.npz") as wb:
        assert wa.files == wb.files and all(np.array_equal(wa[k], wb[k]) for k in wa.files)
    for key in ("status", "epochs_run", "best_epoch", "best_value", "stopped_early", "restored_best_weights",
                "diagnosis"):
        assert a.summary[key] == b.summary[key], key
    untimed = lambda row: {k: v for k, v in row.items() if k != "epoch_time_s"}  # noqa: E731
    assert untimed(a.summary["best"]) == untimed(b.summary["best"])


def test_resuming_from_any_checkpoint_equals_the_uninterrupted_run(finished, tmp_path):
    names = [p.name for p in checkpoint.files(finished.dir)]
    # in and between epochs
    assert any(not n.endswith("-000000.ckpt") for n in names) and any(n.endswith("-000000.ckpt") for n in names)
    plateau = next(i for i, row in enumerate(finished.history) if row["lr"] < finished.history[0]["lr"])
    at_plateau = f"checkpoint-{plateau:05d}-000000.ckpt"
    picks = [names[0], *([at_plateau] if at_plateau in names else []), names[len(names) // 2 + 1], names[-1]]
    for name in picks:
        resumed = trainlab.resume(_stopped_at(finished, tmp_path, name))
        assert_same_run(finished, resumed)


def test_a_damaged_newest_checkpoint_is_passed_over_for_the_one_before(finished, tmp_path):
    # A checkpoint in the middle, not a fixed index: on a busy machine the writer replaces a checkpoint still
    # waiting for the disk with a newer one, so how many there are varies.
    names = [p.name for p in checkpoint.files(finished.dir)]
    assert len(names) >= 3
    cut, next_one = names[len(names) // 2], names[len(names) // 2 + 1]
    copy = _stopped_at(finished, tmp_path, cut)
    newest = copy / "state" / cut
    newest.write_bytes(newest.read_bytes()[:-300])
    (copy / "state" / (next_one + ".tmp")).write_bytes(b"a write the crash cut short")
    with pytest.warns(UserWarning, match=rf"{cut}: cut short or padded .*; trying an earlier checkpoint"):
        resumed = trainlab.resume(copy)
    assert_same_run(finished, resumed)
    assert not list((copy / "state").glob("*.tmp"))


def test_a_checkpoint_whose_records_are_missing_rows_is_passed_over(finished, tmp_path):
    # The newest checkpoint after 4 whole epochs (or fewer): the writer replaces a checkpoint still waiting for the
    # disk with a newer one, so on a busy machine the one at an epoch's end may be missing.
    names = [p.name for p in checkpoint.files(finished.dir)]
    name = max(n for n in names if 2 <= int(n.split("-")[1]) <= 4)
    epochs = int(name.split("-")[1])  # whole epochs before it: history rows it counts
    copy = _stopped_at(finished, tmp_path, name)
    lines = (copy / "history.csv").read_text().splitlines(keepends=True)
    (copy / "history.csv").write_text("".join(lines[:epochs]))  # a disk that lost the last row
    with pytest.warns(UserWarning, match=f"history.csv has {epochs - 1} rows, fewer than the {epochs} it counts"):
        resumed = trainlab.resume(copy)
    assert_same_run(finished, resumed)


def test_a_run_without_checkpoints_starts_again_in_its_directory(finished, tmp_path):
    copy = _stopped_at(finished, tmp_path, "none")
    shutil.rmtree(copy / "state")
    assert_same_run(finished, trainlab.resume(copy))


def test_ctrl_c_stops_after_the_step_in_flight_and_resumes_exactly(tmp_path, tiny_recipe):
    # Long epochs (1200 steps), no checkpoints inside them: the one written is where the signal stopped it.
    spec = {**tiny_recipe, "deterministic": True, "data": {**tiny_recipe["data"], "n_samples": 12000},
            "training": {**tiny_recipe["training"], "epochs": 3, "batch_size": 8}}

    class CtrlCDuringEpoch2(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):  # called just before the compiled epoch starts
            if self.epoch == 1:
                threading.Timer(0.05, signal.raise_signal, [signal.SIGINT]).start()

        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch

    if threading.current_thread() is not threading.main_thread():
        pytest.skip("signals reach the main thread only")
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)  # as in a terminal (a runner may ignore it)
    try:
        with pytest.raises(KeyboardInterrupt) as stopped:
            trainlab.train(spec, out=tmp_path / "stopped", callbacks=[CtrlCDuringEpoch2()])
    finally:
        signal.signal(signal.SIGINT, previous)
    assert stopped.value.run_dirs == [(tmp_path / "stopped").resolve()]
    summary = json.loads((tmp_path / "stopped" / "summary.json").read_text())
    assert summary["status"] == "interrupted" and summary["epochs_run"] == 1
    (found,) = checkpoint.files(tmp_path / "stopped")[-1:]
    ck = checkpoint.read(found)
    assert ck.epoch == 1 and 0 < ck.batch < 1200  # in the middle of epoch 2
    assert len(rundir.read_csv(tmp_path / "stopped" / "steps.csv")) == 1200
    whole = trainlab.train(spec, out=tmp_path / "whole")
    assert_same_run(whole, trainlab.resume(tmp_path / "stopped"))


def test_a_full_disk_during_training_warns_and_keeps_the_other_checkpoints(tmp_path, tiny_recipe, monkeypatch):
    real = checkpoint._fsync
    calls = iter(range(100))

    def third_write_fails(fd):
        if next(calls) == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        real(fd)

    monkeypatch.setattr(checkpoint, "_fsync", third_write_fails)
    # Every checkpoint written before the next is submitted (the writer thread keeps only the newest pending
    # one, so under load it may skip one and the third write would be another epoch's).
    submit = checkpoint.Writer.submit

    def submit_and_wait(self, name, data):
        submit(self, name, data)
        self.flush()

    monkeypatch.setattr(checkpoint.Writer, "submit", submit_and_wait)
    spec = {**tiny_recipe, "training": {**tiny_recipe["training"], "checkpoint": {"keep": 10}}}
    with pytest.warns(UserWarning, match=r"checkpoint-00003-000000.ckpt: checkpoint not written \(No space left"):
        run = trainlab.train(spec, out=tmp_path / "run")
    assert run.summary["status"] == "completed"
    names = [p.name for p in (run.dir / "state").iterdir()]
    assert sorted(names) == [checkpoint.file_name(e, 0) for e in (1, 2, 4, 5)]  # the failed one left nothing
    assert all(checkpoint.read(run.dir / "state" / n) for n in names)


def test_checkpoints_can_be_turned_off(tmp_path, tiny_recipe):
    run = trainlab.train({**tiny_recipe, "training": {**tiny_recipe["training"], "checkpoint": False}},
                         out=tmp_path / "run")
    assert not (run.dir / "state").exists()


def test_keep_bounds_the_checkpoints_on_disk(tmp_path, tiny_recipe, monkeypatch):
    # Every checkpoint written before the next is submitted: under load the writer keeps only the newest
    # pending one, and a skipped epoch-4 checkpoint would leave epochs 3 and 5 on disk.
    submit = checkpoint.Writer.submit
    monkeypatch.setattr(checkpoint.Writer, "submit", lambda self, name, data: (submit(self, name, data), self.flush()))
    run = trainlab.train({**tiny_recipe, "training": {**tiny_recipe["training"], "checkpoint": {"keep": 2}}},
                         out=tmp_path / "run")
    assert [p.name for p in checkpoint.files(run.dir)] == [checkpoint.file_name(4, 0), checkpoint.file_name(5, 0)]


def test_a_completed_run_or_another_folder_is_refused(finished, tmp_path):
    with pytest.raises(TrainlabError, match="the run has completed; there is nothing to resume, got 'completed'"):
        trainlab.resume(finished.dir)
    with pytest.raises(TrainlabError, match="is not a run directory \\(no such folder\\)"):
        trainlab.resume(tmp_path / "nothing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(TrainlabError, match="is not a run directory \\(no recipe.yaml and no summary.json\\)"):
        trainlab.resume(tmp_path / "empty")


def test_a_model_from_python_must_be_given_again(tmp_path, tiny_recipe):
    from trainlab.models import build_mlp

    def model():
        keras.utils.set_random_seed(3)
        return build_mlp(8, 1, hidden=[4], output="sigmoid")

    run = trainlab.train(tiny_recipe, out=tmp_path / "run", model=model())
    copy = _stopped_at(run, tmp_path, checkpoint.file_name(2, 0))
    with pytest.raises(TrainlabError, match=r"this run's model came from Python; pass it again: "
                                            r"trainlab.resume\(run_dir, model=...\)"):
        trainlab.resume(copy)
    resumed = trainlab.resume(copy, model=model())
    assert all(np.array_equal(x, y) for x, y in zip(run.model.get_weights(), resumed.model.get_weights()))
