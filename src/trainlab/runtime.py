"""TensorFlow's start-up: loading it quietly, its thread pools, and the log noise of trainlab's compiled programs.

- :func:`import_tensorflow`: TensorFlow prints notices while it loads (absl's "All log messages before
  absl::InitializeLog() ...", "oneDNN custom operations are on ...", the CPU-feature guard) straight to
  file descriptor 2, before ``TF_CPP_MIN_LOG_LEVEL`` applies: a user's terminal would open with them
  above trainlab's own lines. It loads TensorFlow with descriptor 2 caught and writes back everything
  but those notices. ``TRAINLAB_TF_LOGS=1`` (or ``TF_CPP_MIN_LOG_LEVEL=0``) keeps TensorFlow's logs as they are.
- :func:`apply_threads`, :func:`prefer_fused_threads`: the thread pools are fixed when TensorFlow runs
  its first op in the process, so they work only when called first: ``trainlab run``
  (``training.threads``) and ``trainlab study`` (one thread per op for models trained together) call
  them before anything else starts TensorFlow.
- :func:`quiet_retracing`: each engine traces its own programs once; TensorFlow would call that retracing.

TensorFlow itself is imported inside each function, so that importing this module costs nothing.
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
import warnings
from types import ModuleType

# Lines TensorFlow writes while it loads that say nothing about the user's work.
START_UP_NOTICES = (
    "All log messages before absl::InitializeLog() is called are written to STDERR",
    "oneDNN custom operations are on",
    "cpu_feature_guard.cc",
    "To enable the following instructions:",
)


def tensorflow_logs_wanted() -> bool:
    """True when the user asked for TensorFlow's own logs (``TRAINLAB_TF_LOGS=1`` or ``TF_CPP_MIN_LOG_LEVEL=0``)."""
    return os.environ.get("TRAINLAB_TF_LOGS", "0") not in ("", "0") or os.environ.get("TF_CPP_MIN_LOG_LEVEL") == "0"


def import_tensorflow() -> ModuleType:
    """Import TensorFlow (once), keeping its start-up notices off stderr unless the user wants TensorFlow's logs.

    Anything else TensorFlow writes while it loads (an error, a warning about the installation) is
    written back to stderr unchanged.

    Returns:
        The ``tensorflow`` module.
    """
    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"]
    if tensorflow_logs_wanted():
        import tensorflow

        return tensorflow
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's INFO and WARNING lines after start-up
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as caught:
        os.dup2(caught.fileno(), 2)
        try:
            import tensorflow
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            caught.seek(0)
            lines = caught.read().decode("utf-8", errors="replace").splitlines(keepends=True)
            sys.stderr.write("".join(line for line in lines if not _notice(line)))
            sys.stderr.flush()
    return tensorflow


def _notice(line: str) -> bool:
    return any(notice in line for notice in START_UP_NOTICES)


def prefer_fused_threads() -> bool:
    """For models trained together (a fused study): one thread per op, one op in flight per core.

    The members' steps are independent, so the cores are kept busy running them side by side;
    TensorFlow's default (every op split over every core as well) made the small ops of the
    tutorial's models fight over the cores (docs/performance.md has the figures). Only when
    TensorFlow has not started yet in this process (``trainlab study``, a script that starts with
    the study); otherwise nothing changes, silently: it is a preference, not a setting
    (``training.threads`` is the setting).

    Returns:
        True when TensorFlow now runs this way.
    """
    import tensorflow as tf  # here, not at the top: importing trainlab.runtime must not start TensorFlow

    threading, cores = tf.config.threading, os.cpu_count() or 1
    try:
        threading.set_intra_op_parallelism_threads(1)
        threading.set_inter_op_parallelism_threads(cores)
    except RuntimeError:
        return threading.get_intra_op_parallelism_threads() == 1
    return True


def apply_threads(threads: int) -> bool:
    """Set TensorFlow's intra- and inter-op thread pools to ``threads``, if it is not too late.

    The pools are fixed when TensorFlow runs its first op in the process, so this works when
    called first (as ``trainlab run`` does); later it warns and changes nothing.

    Args:
        threads: the number of threads of each pool (``training.threads``).

    Returns:
        True when TensorFlow now uses ``threads`` threads.
    """
    import tensorflow as tf  # here, not at the top: importing trainlab.runtime must not start TensorFlow

    threading = tf.config.threading
    if threading.get_intra_op_parallelism_threads() == threading.get_inter_op_parallelism_threads() == threads:
        return True
    try:
        threading.set_intra_op_parallelism_threads(threads)
        threading.set_inter_op_parallelism_threads(threads)
    except RuntimeError:
        warnings.warn(
            f"training.threads: {threads} ignored: TensorFlow already started in this process; set it "
            "before any TensorFlow op runs (trainlab run does), or with TF_NUM_INTRAOP_THREADS and "
            "TF_NUM_INTEROP_THREADS", stacklevel=3,
        )
        return False
    return True


class _DropRetracing(logging.Filter):
    """Drop TensorFlow's "triggered tf.function retracing" warning about the programs of one class's objects.

    Every engine traces its own programs once (new models, new variables): a study or a test
    session that builds many engines would otherwise be told, wrongly, that it retraces.
    """

    def __init__(self, owner: str) -> None:
        super().__init__()
        self.owner = owner

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not ("retracing" in message and self.owner in message)


_quieted: set[str] = set()


def quiet_retracing(owner: str) -> None:
    """Drop TensorFlow's retracing warnings about programs of objects of class ``owner`` (its qualified name).

    Installed once per name, on TensorFlow's logger.
    """
    if owner in _quieted:
        return
    import tensorflow as tf  # here, not at the top: importing trainlab.runtime must not start TensorFlow

    tf.get_logger().addFilter(_DropRetracing(owner))
    _quieted.add(owner)
