"""Checkpoint files: the format's checks, atomic writes (also on a full disk), keeping the newest, callback state."""

import errno
import json

import keras
import numpy as np
import pytest

from trainlab.training import checkpoint
from trainlab.training.checkpoint import DamagedCheckpoint

META = {"epoch": 3, "batch": 0, "records": {"history": 3}, "best": float("inf"), "name": "tiny"}
ARRAYS = {"var/float32": np.arange(10, dtype=np.float32), "var/int64": np.array([7, 8], np.int64),
          "cb/0/best_weights/0": np.ones((2, 3), np.float32)}


def test_encode_decode_round_trip_bit_for_bit():
    found = checkpoint.decode(checkpoint.encode(META, ARRAYS))
    assert found.meta == META and found.epoch == 3 and found.batch == 0
    assert list(found.arrays) == list(ARRAYS)
    for name, array in ARRAYS.items():
        assert found.arrays[name].dtype == array.dtype and np.array_equal(found.arrays[name], array)


@pytest.mark.parametrize("damage, reason", [
    (lambda b: b[: len(b) // 2], "cut short"),
    (lambda b: b[:-1], "cut short"),
    (lambda b: b + b"\0", "cut short or padded"),
    (lambda b: b[:40] + bytes([b[40] ^ 1]) + b[41:], "checksum mismatch"),
    (lambda b: b"PK\3\4" + b[4:], "not a trainlab checkpoint"),
    (lambda b: b"", "not a trainlab checkpoint"),
])
def test_a_damaged_file_is_detected(damage, reason):
    with pytest.raises(DamagedCheckpoint, match=reason):
        checkpoint.decode(damage(checkpoint.encode(META, ARRAYS)))


def _write(run_dir, epoch, batch=0):
    folder = run_dir / checkpoint.FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    checkpoint.write_atomic(folder / checkpoint.file_name(epoch, batch), checkpoint.encode({**META, "epoch": epoch,
                                                                                            "batch": batch}, ARRAYS))


def test_the_newest_valid_checkpoint_passes_over_damaged_ones(tmp_path):
    for epoch in (1, 2, 3):
        _write(tmp_path, epoch)
    newest = tmp_path / "state" / checkpoint.file_name(3, 0)
    newest.write_bytes(newest.read_bytes()[:100])  # a torn write (a disk that lied about fsync)
    found, passed_over = checkpoint.newest_valid(tmp_path)
    assert found.epoch == 2 and found.path.name == "checkpoint-00002-000000.ckpt"
    assert len(passed_over) == 1 and passed_over[0].startswith("checkpoint-00003-000000.ckpt: cut short or padded")


def test_a_check_can_refuse_a_whole_checkpoint(tmp_path):
    for epoch in (1, 2):
        _write(tmp_path, epoch)

    def records_short_of_epoch_2(found):
        if found.epoch == 2:
            raise DamagedCheckpoint("history.csv has 1 rows, fewer than the 2 it counts")

    found, passed_over = checkpoint.newest_valid(tmp_path, check=records_short_of_epoch_2)
    assert found.epoch == 1 and passed_over == ["checkpoint-00002-000000.ckpt: history.csv has 1 rows, fewer than"
                                                " the 2 it counts"]
    assert checkpoint.newest_valid(tmp_path / "nothing") == (None, [])


def test_discard_after_removes_newer_files_and_leftovers(tmp_path):
    for epoch, batch in ((1, 0), (1, 4), (2, 0)):
        _write(tmp_path, epoch, batch)
    (tmp_path / "state" / "checkpoint-00002-000004.ckpt.tmp").write_bytes(b"half")
    (tmp_path / "state" / "best.keras").write_bytes(b"not ours")
    found = checkpoint.read(tmp_path / "state" / checkpoint.file_name(1, 4))
    checkpoint.discard_after(tmp_path, found)
    assert sorted(p.name for p in (tmp_path / "state").iterdir()) == [
        "best.keras", "checkpoint-00001-000000.ckpt", "checkpoint-00001-000004.ckpt"]
    checkpoint.discard_after(tmp_path, None)
    assert [p.name for p in (tmp_path / "state").iterdir()] == ["best.keras"]


def test_the_writer_keeps_the_newest_and_leaves_no_temporary_file(tmp_path):
    writer = checkpoint.Writer(tmp_path, keep=2)
    for epoch in range(1, 6):
        writer.submit(checkpoint.file_name(epoch, 0), checkpoint.encode({**META, "epoch": epoch}, ARRAYS))
        writer.flush()
    writer.close()
    assert sorted(p.name for p in (tmp_path / "state").iterdir()) == [
        "checkpoint-00004-000000.ckpt", "checkpoint-00005-000000.ckpt"]
    assert checkpoint.newest_valid(tmp_path)[0].epoch == 5


def test_a_full_disk_leaves_the_previous_checkpoint_valid(tmp_path, monkeypatch):
    writer = checkpoint.Writer(tmp_path, keep=3)
    writer.submit(checkpoint.file_name(1, 0), checkpoint.encode(META, ARRAYS))
    writer.flush()
    before = (tmp_path / "state" / checkpoint.file_name(1, 0)).read_bytes()

    def no_space(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(checkpoint, "_fsync", no_space)  # the data never reaches the disk
    writer.submit(checkpoint.file_name(2, 0), checkpoint.encode({**META, "epoch": 2}, ARRAYS))
    with pytest.warns(UserWarning, match=r"checkpoint-00002-000000.ckpt: checkpoint not written \(No space left on"
                                         r" device\); the earlier ones are kept"):
        writer.flush()
    writer.close()
    assert [p.name for p in (tmp_path / "state").iterdir()] == ["checkpoint-00001-000000.ckpt"]  # no .tmp left
    assert (tmp_path / "state" / checkpoint.file_name(1, 0)).read_bytes() == before
    assert checkpoint.newest_valid(tmp_path)[0].path.name == "checkpoint-00001-000000.ckpt"


def test_callback_state_of_the_stock_callbacks_round_trips():
    early = keras.callbacks.EarlyStopping(patience=3)
    early.wait, early.best, early.best_epoch, early.stopped_epoch = 2, 0.25, 4, 0
    early.best_weights = [np.ones((2, 2), np.float32), np.zeros(2, np.float32)]
    plateau = keras.callbacks.ReduceLROnPlateau()
    plateau.wait, plateau.best, plateau.cooldown_counter = 1, np.float64(0.5), 2

    class Counter(keras.callbacks.Callback):  # a user's callback opts in with get_state/set_state
        def __init__(self):
            super().__init__()
            self.seen = 0

        def get_state(self):
            return {"seen": self.seen, "history": np.arange(3)}

        def set_state(self, state):
            self.seen, self.history = state["seen"], state["history"]

    counter = Counter()
    counter.seen = 9
    arrays: dict = {}
    saved = [checkpoint.split_arrays(checkpoint.callback_state(cb), f"cb/{i}", arrays)
             for i, cb in enumerate([early, plateau, counter])]
    saved = json.loads(json.dumps(saved))  # it goes through the checkpoint's JSON header
    assert checkpoint.callback_state(keras.callbacks.TerminateOnNaN()) is None
    fresh = [keras.callbacks.EarlyStopping(patience=3), keras.callbacks.ReduceLROnPlateau(), Counter()]
    for cb, state in zip(fresh, saved):
        checkpoint.set_callback_state(cb, checkpoint.join_arrays(state, arrays))
    assert (fresh[0].wait, fresh[0].best, fresh[0].best_epoch) == (2, 0.25, 4)
    assert all(np.array_equal(a, b) for a, b in zip(fresh[0].best_weights, early.best_weights))
    assert (fresh[1].wait, fresh[1].best, fresh[1].cooldown_counter) == (1, 0.5, 2)
    assert fresh[2].seen == 9 and np.array_equal(fresh[2].history, np.arange(3))


def test_random_states_round_trip_through_json():
    import random

    arrays: dict = {}
    state = {"python": random.getstate(), "numpy": np.random.get_state()}
    saved = json.loads(json.dumps(checkpoint.split_arrays(state, "rng", arrays)))
    back = checkpoint.join_arrays(saved, arrays)
    expected = (random.random(), np.random.random())
    random.setstate(back["python"])
    np.random.set_state(back["numpy"])
    assert (random.random(), np.random.random()) == expected
