"""The suite sees both oneDNN worlds on any machine: on (this run, forced by conftest) and off (here)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from onednn import NUMERICS, fused_relu_hides_nan

ROOT = Path(__file__).resolve().parents[1]


def test_this_run_forces_onednn_as_conftest_says():
    assert os.environ["TF_ENABLE_ONEDNN_OPTS"] == os.environ.get("TRAINLAB_TEST_ONEDNN", "1")


def test_onednn_off_lets_a_nan_weight_through_the_fused_relu():
    """With oneDNN's operations off, TensorFlow's own fused kernel passes NaN on (the world where the loss
    shows a NaN weight); with them on, it may map it to 0 (tests/training/test_nonfinite.py expects each)."""
    if os.environ["TF_ENABLE_ONEDNN_OPTS"] == "0":
        assert not fused_relu_hides_nan()


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
