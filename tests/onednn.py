"""Both oneDNN worlds, for the suite: which tests depend on the CPU's kernels, and which world a process is in.

oneDNN's custom operations change rounding, and their fused MatMul+BiasAdd+ReLU kernel turns NaN into 0.
TensorFlow turns them on by default on most current x86 CPUs, and off on others: tests/conftest.py forces
them on (the common world) before TensorFlow loads, and tests/test_any_machine.py runs the tests in
``NUMERICS`` again in a process with them off (``TRAINLAB_TEST_ONEDNN=0``), so both worlds run everywhere.
"""

# Tests whose results depend on the CPU's kernels: non-finite handling, bit-exact resume, fused against
# sequential training, the diagnosis of real runs.
NUMERICS = (
    "tests/training/test_nonfinite.py",
    "tests/training/test_resume.py",
    "tests/studies/test_study_run.py::test_fused_agrees_with_sequential",
    "tests/studies/test_study_run.py::test_fused_member_stopped_early_freezes_and_matches_its_sequential_run",
    "tests/diagnose/test_diagnose_real_runs.py",
)


def fused_relu_hides_nan() -> bool:
    """True where TensorFlow's grappler-fused MatMul+BiasAdd+ReLU maps a NaN weight's outputs to 0 (oneDNN's
    kernel): a NaN kernel then leaves the loss and every gradient finite, and only trainlab's check of the
    weights themselves can see it."""
    import numpy as np
    import tensorflow as tf

    kernel = tf.Variable(np.full((3, 2), np.nan, np.float32))
    bias = tf.Variable(np.zeros(2, np.float32))

    @tf.function
    def layer(x):
        return tf.nn.relu(tf.nn.bias_add(tf.matmul(x, kernel), bias))

    return bool((layer(tf.ones((1, 3))).numpy() == 0).all())
