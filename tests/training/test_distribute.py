"""Data-parallel training (``training.distribute``): the records of one device, on several.

tf.distribute must be set up before TensorFlow starts in a process (logical CPU devices,
collective operations), so each case trains in fresh processes (``_distribute_helper.py``).
The multi-worker cases run in a network namespace of their own (``unshare -rn``): TensorFlow's
gRPC server listens on every interface, and the namespace keeps those ports off the host's
network; where one cannot be made, they are skipped.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

import trainlab
from trainlab.cli import _finish_run, main
from trainlab.training.distribute import Cluster
from trainlab.training.trainer import Run

HELPER = Path(__file__).with_name("_distribute_helper.py")
# A recipe whose records show any slip: L2 penalty, SGD (a gradient summed twice doubles the step),
# clipping that acts on a third of the steps (the global gradient's norm is 0.22-0.49; each replica's
# part alone would never be clipped), an uneven split of every batch (27 = 13 + 14; the last, 25 = 12 + 13).
RECIPE = {
    "name": "tiny",
    "seed": 7,
    "data": {"source": "synthetic_classification", "n_samples": 200, "n_features": 8},
    "model": {"hidden": [16, 8], "dropout": 0.0, "kernel_regularizer": {"l2": 0.01}},
    "optimizer": {"name": "sgd", "learning_rate": 0.1, "momentum": 0.9, "global_clip_norm": 0.4},
    "training": {"epochs": 3, "batch_size": 27, "verbose": 0, "tensorboard": False},
}

NAMESPACE = ["unshare", "--user", "--map-root-user", "--net"]


def _numbers(path: Path) -> dict[str, np.ndarray]:
    """Every numeric column of a records file but the timings (``layers.csv``'s layer names left out)."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    return {key: np.array([float(row[key] or "nan") for row in rows]) for key in rows[0]
            if not key.endswith("time_s") and key != "layer"}


def _same_records(one: Path, other: Path) -> None:
    # The sums run in another order (measured here: a relative 2e-7 at most).
    for name in ("history.csv", "steps.csv", "layers.csv"):
        expected, found = _numbers(one / name), _numbers(other / name)
        assert found.keys() == expected.keys(), name
        for key in expected:
            np.testing.assert_allclose(found[key], expected[key], rtol=1e-5, atol=1e-7, equal_nan=True,
                                       err_msg=f"{name}: {key}")


def _weights(path: Path) -> list[np.ndarray]:
    with np.load(path) as arrays:
        return [arrays[f"arr_{i}"] for i in range(len(arrays.files))]


# ---------------------------------------------------------------------------- mirrored
def test_mirrored_over_two_cpu_devices_matches_one_device(tmp_path):
    """Uneven shares, L2 penalty and clipping on the global gradient: records and weights as on one device."""
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(yaml.safe_dump(RECIPE))
    done = subprocess.run([sys.executable, str(HELPER), "mirrored", str(recipe), str(tmp_path)], capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads((tmp_path / "mirrored" / "summary.json").read_text())
    assert summary["distribute"]["replicas"] == 2 and summary["status"] == "completed"
    _same_records(tmp_path / "none", tmp_path / "mirrored")
    for one, two in zip(_weights(tmp_path / "none.npz"), _weights(tmp_path / "mirrored.npz"), strict=True):
        np.testing.assert_allclose(two, one, rtol=1e-5, atol=1e-6)
    assert ("refused: training.distribute: trains one model at a time; runs fused in one engine (a study) need one"
            " device, got '2 models on 2 replicas'") in done.stdout


# ------------------------------------------------------------------------ multi-worker
@pytest.fixture(scope="module")
def namespace() -> list[str]:
    """The command prefix that runs a process in a private network namespace (loopback only)."""
    if shutil.which("unshare") is None or subprocess.run([*NAMESPACE, "true"], capture_output=True).returncode:
        pytest.skip("needs a private network namespace (unshare -rn): TensorFlow's gRPC server listens on every"
                    " interface, and these tests keep its ports off the network")
    return NAMESPACE


def _start(namespace: list[str], spec: dict, env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen([*namespace, sys.executable, str(HELPER), "cluster", json.dumps(spec)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                            env=env)


def _finish(driver: subprocess.Popen, timeout: float) -> dict:
    """The cluster's report; on timeout, the driver and every worker (its process group) are killed."""
    try:
        out, err = driver.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(driver.pid, signal.SIGKILL)
        driver.communicate()
        pytest.fail(f"the cluster did not finish within {timeout} s")
    assert driver.returncode == 0, err[-3000:]
    report = json.loads(out.splitlines()[-1])
    assert not any(r.get("timed_out") for r in report["results"]), report
    return report


def _cli(recipe: Path, out: Path, timeout_s: float) -> list[str]:
    return [sys.executable, "-m", "trainlab.cli", "run", str(recipe), "--distribute", "multi_worker",
            "--set", f"training.distribute_timeout_s={timeout_s}", "-q", "--no-figures", "--out", str(out)]


def test_two_workers_train_as_one_device_and_only_the_chief_writes(tmp_path, namespace):
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(yaml.safe_dump({**RECIPE, "training": {**RECIPE["training"], "epochs": 2}}))
    out, scratch = tmp_path / "run", tmp_path / "scratch"
    scratch.mkdir()
    worker = [sys.executable, str(HELPER), "worker", str(recipe), str(out)]
    started = time.perf_counter()
    driver = _start(namespace, {"workers": 2, "start": [[i, [*worker, str(tmp_path / f"w{i}.npz")]] for i in (0, 1)],
                                "timeout": 240}, env=dict(os.environ, TMPDIR=str(scratch)))
    one = trainlab.train(recipe, out=tmp_path / "one")  # meanwhile, the same recipe on one device, here
    report = _finish(driver, 300)
    wall = time.perf_counter() - started
    for result in report["results"]:
        assert result["rc"] == 0, result["stderr"][-3000:]
    chief, other = (json.loads(r["stdout"].splitlines()[-1]) for r in report["results"])
    assert chief["chief"] and not other["chief"] and chief["dir"] == str(out)
    for a, b in zip(_weights(tmp_path / "w0.npz"), _weights(tmp_path / "w1.npz"), strict=True):
        np.testing.assert_array_equal(a, b)  # the same all-reduced step on both workers
    _same_records(one.dir, out)
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in one.dir.iterdir())
    assert not any(scratch.iterdir())  # the other worker's scratch run directory is gone
    summary = json.loads((out / "summary.json").read_text())
    assert summary["distribute"] | {"start_s": 0} == {"kind": "multi_worker", "replicas": 2, "worker": 0,
                                                      "workers": 2, "start_s": 0}
    print(f"\n2 workers: {wall:.1f} s in all; per worker: import {chief['import_s']:.1f} / {other['import_s']:.1f} s,"
          f" joining and strategy {chief['start_s']:.2f} / {other['start_s']:.2f} s,"
          f" training {chief['train_s']:.1f} / {other['train_s']:.1f} s")


def test_a_missing_worker_is_named_and_a_silent_one_bounded(tmp_path, namespace):
    """Worker 2 never starts: one line naming it, exit 2, after the timeout. Worker 1's port answers but
    speaks no TensorFlow: TensorFlow's join hangs, and the watchdog ends it with its line."""
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(yaml.safe_dump(RECIPE))
    missing = _start(namespace, {"workers": 3, "start": [[0, _cli(recipe, tmp_path / "a", 3)]], "hold": [1],
                                 "timeout": 120})
    silent = _start(namespace, {"workers": 2, "start": [[0, _cli(recipe, tmp_path / "b", 3)]], "hold": [1],
                                "timeout": 120})
    (named,) = _finish(missing, 180)["results"]
    report = _finish(silent, 180)
    (hung,), addresses = report["results"], report["addresses"]
    lines = [line for line in named["stderr"].splitlines() if line.strip()]
    assert named["rc"] == 2 and len(lines) == 1, named["stderr"]
    assert lines[0].startswith("trainlab: error: TF_CONFIG: no answer from worker 2 at 127.0.0.1:")
    assert lines[0].endswith("within 3 s (training.distribute_timeout_s); start trainlab run with the same"
                             " TF_CONFIG on every worker")
    assert 3 <= named["elapsed_s"] < 3 + 60  # waited the timeout, plus TensorFlow's import
    assert hung["rc"] == -signal.SIGKILL and hung["elapsed_s"] < 6 + 60
    assert (f"trainlab: error: TF_CONFIG: the workers answered but TensorFlow did not join them within 3 s"
            f" (training.distribute_timeout_s); check that trainlab runs with the same TF_CONFIG on every worker"
            f" (worker 1 at {addresses[1]})\n") in hung["stderr"]
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
    print(f"\nmissing worker: exit 2 after {named['elapsed_s']:.1f} s; silent one: killed after"
          f" {hung['elapsed_s']:.1f} s (TensorFlow's import included)")


# ------------------------------------------------------------------------------ mistakes
@pytest.mark.parametrize(
    ("tf_config", "message"),
    [
        (None, "TF_CONFIG: must be set for training.distribute: multi_worker, as {\"cluster\": {\"worker\":"),
        ("{not json", "TF_CONFIG: must be JSON shaped {\"cluster\": {\"worker\": [\"host:port\", ...]}, \"task\":"),
        ('{"cluster": {"worker": ["127.0.0.1:1"]}, "task": {"type": "worker", "index": 1}}',
         "TF_CONFIG: must be JSON shaped"),
        ('{"cluster": {"worker": ["127.0.0.1"]}, "task": {"type": "worker", "index": 0}}',
         "TF_CONFIG: every worker's address must be host:port, got '127.0.0.1'"),
    ],
)
def test_a_bad_tf_config_is_one_line(tmp_path, tiny_recipe, monkeypatch, capsys, tf_config, message):
    (tmp_path / "recipe.yaml").write_text(yaml.safe_dump(tiny_recipe))
    monkeypatch.chdir(tmp_path)
    if tf_config is None:
        monkeypatch.delenv("TF_CONFIG", raising=False)
    else:
        monkeypatch.setenv("TF_CONFIG", tf_config)
    assert main(["run", "recipe.yaml", "--distribute", "multi_worker", "--out", "run"]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and err.startswith(f"trainlab: error: {message}"), err
    assert not (tmp_path / "run").exists()


def test_a_model_built_outside_the_strategy_is_refused(tmp_path, tiny_recipe):
    model = trainlab.models.build({"name": "mlp", "hidden": [4]}, n_inputs=8, n_outputs=1)
    with pytest.raises(trainlab.TrainlabError, match=r"^training.distribute: a model given from Python must be built"
                       r" in the strategy's scope .*, got 'mirrored'$"):
        trainlab.train(tiny_recipe, out=tmp_path / "run", model=model, training__distribute="mirrored")
    assert not (tmp_path / "run").exists()


def test_a_bad_distribute_option_is_one_line(capsys):
    assert main(["run", "recipe.yaml", "--distribute", "gpus"]) == 2
    assert capsys.readouterr().err.strip() == (
        "trainlab: error: --distribute: unknown value; valid values: none, mirrored, multi_worker, got 'gpus'")


def test_the_cluster_lists_the_chief_first():
    config = {"cluster": {"worker": ["w0:2", "w1:2"], "chief": ["c:2"]}, "task": {"type": "worker", "index": 1}}
    cluster = Cluster.from_env(json.dumps(config))
    assert cluster.workers == (("chief 0", "c:2"), ("worker 0", "w0:2"), ("worker 1", "w1:2"))
    assert cluster.me == 2 and cluster.peers() == [("chief 0", "c:2"), ("worker 0", "w0:2")]


def test_another_worker_prints_one_line_and_reports_nothing(tmp_path, capsys):
    summary = {"status": "completed", "distribute": {"kind": "multi_worker", "worker": 1, "workers": 2}}
    run = Run(tmp_path / "gone", None, [], summary, None, chief=False)
    assert _finish_run(run, figures=True) == 0
    assert capsys.readouterr().out == "worker 1 of 2: completed; the chief wrote the run directory\n"
    assert not (tmp_path / "gone").exists()
