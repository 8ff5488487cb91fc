"""The trainer you can kill at any moment: ``kill -9`` at random steps, resume until done, same run.

A tiny deterministic recipe (with early stopping and a plateau rule, both acting during the
run, and checkpoints every 3 batches) trains in a subprocess of the command line. It is killed
with SIGKILL three times: at a random step, while a checkpoint is being written (a writer
slowed down so the kill lands between the temporary file and its rename), and at another random
step; ``trainlab resume`` continues it each time, and once more to the end. The result must equal
an uninterrupted run of the same recipe: the final weights bit for bit, and ``history.csv``
(timings aside), ``steps.csv`` and ``layers.csv`` exactly. Each subprocess pays TensorFlow's
start-up (~6 s here), so the kills are few.
"""

import csv
import json
import os
import random
import subprocess
import sys
import time

import keras
import numpy as np
import yaml

from trainlab.training import checkpoint

STEPS_PER_EPOCH = 10  # 160 training samples, batch 16
RECIPE = {
    "name": "killed", "seed": 3, "deterministic": True,
    "data": {"source": "synthetic_classification", "n_samples": 200, "n_features": 8},
    "model": {"hidden": [16, 8], "dropout": [0.1, 0.0]},
    "optimizer": {"name": "adam", "learning_rate": 0.03},
    "training": {"epochs": 14, "batch_size": 16, "verbose": 0, "tensorboard": False,
                 "checkpoint": {"every_steps": 3},
                 "early_stopping": {"patience": 4}, "reduce_lr_on_plateau": {"patience": 1, "factor": 0.5}},
}
# The command line, with each checkpoint's fsync slowed down: a kill then lands while the file is written.
SLOW_WRITES = (
    "import sys, time; import trainlab.training.checkpoint as c; fsync = c._fsync; "
    "c._fsync = lambda fd: (time.sleep(1.0), fsync(fd)); from trainlab.cli import main; sys.exit(main(sys.argv[1:]))"
)


def _start(args, slow=False):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    command = [sys.executable, "-c", SLOW_WRITES] if slow else [sys.executable, "-m", "trainlab.cli"]
    return subprocess.Popen([*command, *args, "-q", "--no-figures"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)


def _progress(run_dir):
    """Batches trained so far, by the newest checkpoint on disk (0 before the first)."""
    names = [p.name for p in checkpoint.files(run_dir)]
    if not names:
        return 0
    epoch, batch = (int(part) for part in names[-1].removesuffix(".ckpt").split("-")[1:])
    return epoch * STEPS_PER_EPOCH + batch


def _kill_when(proc, run_dir, reached, while_writing=False, delay=0.0, timeout=240):
    """SIGKILL ``proc`` ``delay`` seconds after ``reached(run_dir)`` (or, if asked, at once while a
    checkpoint's temporary file exists); False when it finished first."""
    deadline = time.time() + timeout
    while time.time() < deadline and proc.poll() is None:
        writing = any((run_dir / checkpoint.FOLDER).glob("*.tmp")) if (run_dir / checkpoint.FOLDER).is_dir() else False
        if reached(run_dir) and (writing or not while_writing):
            time.sleep(delay)
            proc.kill()
            proc.wait()
            return True
        time.sleep(0.005)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err  # it finished before the kill: fine, if it finished well
    return False


def _status(run_dir):
    return json.loads((run_dir / "summary.json").read_text())["status"]


def _history(run_dir):
    with open(run_dir / "history.csv", newline="") as f:
        return [{k: v for k, v in row.items() if k != "epoch_time_s"} for row in csv.DictReader(f)]


def test_sigkill_at_random_steps_then_resume_equals_the_uninterrupted_run(tmp_path):
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(yaml.safe_dump(RECIPE, sort_keys=False))
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    rng = random.Random(20250101)
    first = rng.randrange(5, 30)
    reference = _start(["run", str(recipe), "--out", str(whole)])  # alongside the first victim
    first_kill = _kill_when(_start(["run", str(recipe), "--out", str(killed)]), killed,
                            lambda d: _progress(d) >= first, delay=rng.random() * 0.05)
    _, err = reference.communicate(timeout=300)
    assert reference.returncode == 0, err
    history = _history(whole)
    total = len(history) * STEPS_PER_EPOCH
    lrs = [float(row["lr"]) for row in history]
    # The plateau rule lowered the rate during the run (early stopping, watching the same column, ended it here
    # after 12 of 14 epochs; another machine's numbers may end it elsewhere).
    assert lrs[-1] < lrs[0] and total >= 50

    third = rng.randrange(2 * total // 3, total - 2)
    kills = [
        first_kill,
        # Killed during a checkpoint write: a .tmp file exists and was never renamed.
        _kill_when(_start(["resume", str(killed)], slow=True), killed,
                   lambda d: _progress(d) > first, while_writing=True),
        _kill_when(_start(["resume", str(killed)]), killed, lambda d: _progress(d) >= third, delay=rng.random() * 0.05),
    ]
    assert kills[0] and kills[1], "the run ended before it could be killed"
    for _ in range(3):  # resume until done (a kill may have come after the last checkpoint)
        if (killed / "summary.json").exists() and _status(killed) == "completed":
            break
        done = _start(["resume", str(killed)])
        _, err = done.communicate(timeout=300)
        assert done.returncode == 0, err
    assert _status(killed) == "completed"

    assert _history(killed) == history
    for name in ("steps.csv", "layers.csv"):
        assert (killed / name).read_text() == (whole / name).read_text(), name
    a = keras.models.load_model(whole / "model.keras").get_weights()
    b = keras.models.load_model(killed / "model.keras").get_weights()
    assert len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not list((killed / checkpoint.FOLDER).glob("*.tmp"))
