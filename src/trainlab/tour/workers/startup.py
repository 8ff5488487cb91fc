"""How a worker process starts: one import of TensorFlow, Keras and the sections' code, then a runtime per lane."""

from __future__ import annotations

import gc
import importlib
import os
import sys
import time
from pathlib import Path

import trainlab
from trainlab import runtime
from trainlab.runtime import apply_threads
from trainlab.tour import sections

LOG = "tour.log"  # in the tour's folder: what the workers wrote to their standard error
# What every lane needs, imported once before the lanes fork: trainlab's training, study and report code and what it
# imports (scikit-learn, pydantic, YAML). Not what only one section uses (TensorBoard, section 8).
SHARED_MODULES = (
    "trainlab.studies", "trainlab.config", "trainlab.data", "trainlab.diagnose", "trainlab.monitor",
    "trainlab.callbacks", "trainlab.report",
)


def prepare() -> None:
    """Import TensorFlow, Keras and what the sections run, without starting TensorFlow's runtime (no op runs).

    Until an op runs TensorFlow has no thread and no state a fork would break, so a process that has
    prepared can fork its lanes: each starts where the import left off (one import instead of one per lane)
    and starts its own runtime, with its own threads, after the fork.
    """
    runtime.import_tensorflow()  # without its start-up notices on the terminal the tour prints to
    import keras  # noqa: F401

    from trainlab.training import Engine, train  # noqa: F401  (the lazy face: this loads the trainer and engine)

    for module in (*sections.MODULES, *SHARED_MODULES):
        importlib.import_module(module)


def settle_imports() -> None:
    """Keep the garbage collector off everything imported so far, and turn it on (a worker turns it off to import).

    A full collection scans every object; frozen, the ~400k objects of TensorFlow, Keras and the rest are not
    scanned again nor, in a forked lane, written to: the pages stay shared with the process it was forked from.
    """
    gc.freeze()
    gc.enable()


def start_tensorflow(threads: int | None = None) -> float:
    """Import TensorFlow and Keras and start the runtime; the seconds it took (several on a small machine).

    ``threads``: TensorFlow's intra- and inter-op threads (None: its default, one per core each). Lanes share
    the cores out: two lanes on two cores, each with pools as large as the machine, fight over both.
    """
    tick = time.perf_counter()
    tf = runtime.import_tensorflow()
    import keras  # noqa: F401

    if threads is not None:
        apply_threads(threads)  # as training.threads does
    tf.constant(0.0).numpy()
    return time.perf_counter() - tick


def versions() -> dict[str, str]:
    """trainlab's, TensorFlow's and Keras' versions."""
    import keras
    import tensorflow as tf

    return {"trainlab": trainlab.__version__, "tensorflow": tf.__version__, "keras": keras.__version__}


def worker_command(*args: str) -> list[str]:
    """``python -m trainlab.tour.workers ARGS``: a fresh interpreter (not a fork of the caller, whose TensorFlow may
    have started; not a multiprocessing spawn, which re-imports the caller's main script)."""
    return [sys.executable, "-m", "trainlab.tour.workers", *args]


def worker_env() -> dict[str, str]:
    """The environment for a worker: this very trainlab importable (an editable install, a source tree)."""
    env = dict(os.environ)
    source = str(Path(trainlab.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join([source, *filter(None, [env.get("PYTHONPATH")])])
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    return env
