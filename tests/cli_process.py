"""The command line in a subprocess, for tests that kill it (SIGKILL) and resume what it left.

``start(args, slow=True)`` slows every epoch's records down, so that a kill lands while a run (or a
population) trains. tests/ is on the path (pytest put it there for tests/conftest.py).
"""

from __future__ import annotations

import os
import subprocess
import sys

# Ctrl-C handled as in a terminal. A process started with SIGINT ignored keeps it ignored (Unix's rule, which
# Python follows), and the test process may ignore it: a pytest-xdist worker once did, after some earlier test,
# and a tune's Ctrl-C test then waited for ever.
CTRL_C = "import signal; signal.signal(signal.SIGINT, signal.default_int_handler); "
MAIN = "import sys; from trainlab.cli import main; sys.exit(main(sys.argv[1:]))"
# The command line with every epoch's records slowed down: a kill then lands mid-training.
SLOW_EPOCHS = (
    "import time; import trainlab.training.record_writer as r; write = r.RecordWriter.write_epoch; "
    "r.RecordWriter.write_epoch = lambda self, *a: (time.sleep(0.2), write(self, *a))[1]; "
)


def start(args: list[str], slow: bool = False) -> subprocess.Popen:
    """``trainlab ARGS`` in a new process (its output piped; Ctrl-C as in a terminal), epochs slowed down with
    ``slow``."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONFAULTHANDLER": "1"}  # a stack dump if it hangs
    code = CTRL_C + (SLOW_EPOCHS if slow else "") + MAIN
    return subprocess.Popen([sys.executable, "-c", code, *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
