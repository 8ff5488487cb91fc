"""The suite sees both oneDNN worlds on any machine: on (this run, forced by conftest) and off (here)."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from conftest import NUMERICS

ROOT = Path(__file__).resolve().parents[1]


def test_this_run_forces_onednn_as_conftest_says():
    assert os.environ["TF_ENABLE_ONEDNN_OPTS"] == os.environ.get("TRAINLAB_TEST_ONEDNN", "1")


def test_the_fused_relu_kernel_world_is_known():
    """The kernel that hid a NaN from the non-finite checks: with oneDNN on, a grappler-fused
    MatMul+BiasAdd+ReLU maps NaN to 0; with it off the NaN comes through. Either way trainlab must notice
    (tests/training/test_nonfinite.py runs in both worlds)."""
    kernel = tf.Variable(np.full((3, 2), np.nan, np.float32))
    bias = tf.Variable(np.zeros(2, np.float32))

    @tf.function
    def layer(x):
        return tf.nn.relu(tf.nn.bias_add(tf.matmul(x, kernel), bias))

    out = layer(tf.ones((1, 3))).numpy()
    assert np.isnan(out).all() or (out == 0).all()


@pytest.mark.skipif(os.environ.get("TRAINLAB_TEST_ONEDNN") == "0", reason="this run is the oneDNN-off world already")
def test_numerics_sensitive_tests_pass_with_onednn_off():
    env = {**os.environ, "TRAINLAB_TEST_ONEDNN": "0"}
    env.pop("TF_ENABLE_ONEDNN_OPTS", None)
    files = sorted({entry.split("::")[0] for entry in NUMERICS})
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "0",
         "-m", "numerics", *files],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=540,
    )
    summary = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr[-2000:]
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    assert " passed" in summary and "failed" not in summary
    print(f"\noneDNN off: {summary}")
