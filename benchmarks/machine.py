"""What the benchmarks print about the machine, and the environment they give the processes they time."""

from __future__ import annotations

import datetime
import os
import platform
from pathlib import Path

# Variables that set thread pools: removed from the timed processes' environment so that each runs
# with its own defaults (TensorFlow's, for the baselines).
THREAD_VARIABLES = ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
                    "OPENBLAS_NUM_THREADS")


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo`` on Linux)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def load() -> float:
    """The 1-minute load average (NaN where the system has none)."""
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")


def clean_env() -> tuple[dict[str, str], list[str]]:
    """This process's environment without thread settings, and the names removed."""
    env = dict(os.environ)
    removed = [name for name in THREAD_VARIABLES if env.pop(name, None) is not None]
    env["PYTHONUNBUFFERED"] = "1"
    return env, removed


def machine_lines(env: dict[str, str], removed: list[str]) -> list[str]:
    """The date, the machine and the environment the timed processes get, one line each."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    onednn = env.get("TF_ENABLE_ONEDNN_OPTS")
    onednn = (f"TF_ENABLE_ONEDNN_OPTS={onednn}" if onednn is not None
              else "TF_ENABLE_ONEDNN_OPTS unset (TensorFlow's default: on for x86 CPUs)")
    return [f"date: {datetime.datetime.now().astimezone().isoformat(timespec='minutes')}",
            f"machine: {cpu_model()}, {cores} cores usable ({os.cpu_count()} online), {platform.system()} "
            f"{platform.release()}, Python {platform.python_version()}",
            f"environment: {onednn}; thread settings removed: {', '.join(removed) or 'none were set'}",
            f"load average at the start: {load():.2f}"]


def flop_rate() -> float:
    """float32 FLOP/s of a large matmul on this machine (the best of a few): what the FLOP limits divide by."""
    import time

    import tensorflow as tf

    a = tf.random.normal([2048, 2048])
    matmul = tf.function(lambda m: tf.matmul(m, m))
    matmul(a).numpy()
    best = 0.0
    for _ in range(5):
        start = time.perf_counter()
        matmul(a).numpy()
        best = max(best, 2 * 2048**3 / (time.perf_counter() - start))
    return best
