"""TensorFlow's start-up, as trainlab wants it: imported once, without its start-up notices on the terminal.

TensorFlow prints notices while it loads (absl's "All log messages before absl::InitializeLog() ...",
"oneDNN custom operations are on ...", the CPU-feature guard) straight to file descriptor 2, before
``TF_CPP_MIN_LOG_LEVEL`` applies: a user's terminal would open with them above trainlab's own lines.
:func:`import_tensorflow` loads TensorFlow with descriptor 2 caught and writes back everything but
those notices. ``TRAINLAB_TF_LOGS=1`` (or ``TF_CPP_MIN_LOG_LEVEL=0``) asks for TensorFlow's logs as they are.
"""

from __future__ import annotations

import os
import sys
import tempfile
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
