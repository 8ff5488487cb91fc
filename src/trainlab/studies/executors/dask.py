"""The ``dask`` executor: a study's runs as tasks on a Dask cluster.

With no ``dask_address`` the study starts a ``LocalCluster`` (worker processes on this machine,
bound to 127.0.0.1, closed at the end); with one it connects to the scheduler there (``dask
scheduler`` on one host, ``dask worker tcp://HOST:8786`` on each).

- **Tasks.** Each group of runs that can train together (the ``fused`` executor's groups) is
  one task; when there are fewer groups than workers the largest are split, so that every
  worker has work. A task trains its runs with the same code as the ``fused`` and
  ``sequential`` executors, so the results equal theirs for the same seeds.
- **Seeds and memory.** A task trains in a fresh Python process that its worker starts, and
  every run's seed travels inside its recipe and is set there, right before its model is built.
  A Dask worker's own threads draw from Python's global ``random``, from which Keras seeds its
  initializers and dropout, so training in the worker itself would not be reproducible
  (measured: a draw seeded in a task changed within 2 s). The process also gives all of its
  memory back when the task ends, so workers never grow; they never load TensorFlow at all.
- **Files.** A task trains into a temporary folder on its worker and sends back every file of
  its run directories with the results; the client writes them into the study directory. A
  remote cluster therefore needs no shared file system: only trainlab on the workers and, for
  ``csv``/``npz`` data, the data files at the same paths.
- **Failures.** A task that raises is retried once (on any worker); if it fails again, each of
  its runs gets a ``results.csv`` row with ``status: failed`` and the ``error``, and no run
  directory. A worker that dies (out of memory, killed) is replaced and its task rescheduled by
  Dask itself (up to ``distributed.scheduler.allowed-failures``, 3 by default), then reported
  the same way (``KilledWorker``).
- **Threads.** A LocalCluster has one worker process per core by default, one task each at a
  time; a task's TensorFlow thread pools get the host's cores divided by the task slots (worker
  threads) on that host, unless the recipe sets ``training.threads``.
"""

from __future__ import annotations

import logging
import os
import pickle
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from trainlab.runtime import apply_threads
from trainlab.errors import TrainlabError
from trainlab.studies.executors.base import Executor
from trainlab.studies.groups import Group, Result, failed_row, run_dir, train_group
from trainlab.studies.spec import Plan, StudySpec

CONNECT_TIMEOUT_S = 10.0  # how long to wait for a scheduler at dask_address, and then for its first worker


class TaskError(RuntimeError):
    """A run's exception as it left the worker: ``<type>: <message>`` (trainlab's own errors do not pickle)."""


class DaskExecutor(Executor):
    """``dask``: a Dask client, and the LocalCluster behind it when the study started one; close it when done.

    Args:
        spec: the study (``dask_address``, ``workers``).
        study_dir: the study directory; the tasks' run directories are written into its ``runs/``.

    Raises:
        TrainlabError: the extra is not installed, or no scheduler (or no worker) answered at
            ``dask_address`` within :data:`CONNECT_TIMEOUT_S` seconds.
    """

    def __init__(self, spec: StudySpec, study_dir: Path) -> None:
        super().__init__(spec, study_dir)
        try:
            from distributed import Client, LocalCluster  # Dask: an optional extra, slow to import
        except ImportError:
            raise TrainlabError("executor", "dask needs the dask extra: pip install 'trainlab[dask]'", "dask") from None
        config = spec.config
        self.address = config.dask_address
        self.cluster = None
        if self.address is None:
            workers = config.workers or os.cpu_count() or 1
            # Quiet workers: a failed task is reported in results.csv (and warned about), not in log lines.
            self.cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                                        dashboard_address=None, silence_logs=logging.CRITICAL)
            try:
                self.client = Client(self.cluster)
            except BaseException:
                self.cluster.close()
                raise
            return
        try:
            self.client = Client(self.address, timeout=CONNECT_TIMEOUT_S)
        except (OSError, TimeoutError) as exc:
            raise TrainlabError("dask_address", f"no Dask scheduler answered within {CONNECT_TIMEOUT_S:g} s "
                                f"({type(exc).__name__})", self.address) from None
        try:
            self.client.wait_for_workers(1, timeout=CONNECT_TIMEOUT_S)
        except (OSError, TimeoutError):
            self.client.close()
            raise TrainlabError("dask_address", f"the scheduler has no workers after {CONNECT_TIMEOUT_S:g} s; start "
                                f"some with: dask worker {self.address}", self.address) from None

    def close(self) -> None:
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()

    def run(self, groups: Sequence[Group]) -> Iterator[Result]:
        """Train the groups as tasks on the cluster; write the run directories; yield each run's result."""
        from distributed import as_completed  # Dask, as above
        from distributed.comm import get_address_host

        hosts: Counter[str] = Counter()  # task slots (worker threads) per host
        for address, threads in self.client.nthreads().items():
            hosts[get_address_host(address)] += threads
        futures = {}
        for plans, reason in _tasks(list(groups), sum(hosts.values())):
            future = self.client.submit(train_task, plans, reason, self.spec, dict(hosts), retries=1, pure=False)
            futures[future] = plans
        for future in as_completed(futures):
            plans = futures[future]
            try:
                results = future.result()
            except Exception as exc:  # noqa: BLE001 (a task that failed twice is reported, never dropped)
                error = str(exc) if isinstance(exc, TaskError) else f"{type(exc).__name__}: {exc}"
                warnings.warn(f"{', '.join(p.key for p in plans)}: failed, also when retried; reported in "
                              f"results.csv: {error}", stacklevel=2)
                for plan in plans:
                    yield Result(failed_row(plan, error, "dask"), "dask: failed", raised=True)
                continue
            for plan, (row, files, how) in zip(plans, results):
                _write_files(run_dir(self.study_dir, plan), files)
                yield Result({**row, "executor": "dask"}, f"dask: {how}")


def _tasks(groups: list[Group], workers: int) -> list[Group]:
    """The groups as tasks: while there are fewer tasks than workers, the largest is split in two (still fused)."""
    tasks = list(groups)
    while len(tasks) < workers:
        largest = max(range(len(tasks)), key=lambda i: len(tasks[i].plans))
        plans, reason = tasks[largest]
        if len(plans) < 2:
            break
        half = (len(plans) + 1) // 2
        tasks[largest:largest + 1] = [Group(plans[:half], reason), Group(plans[half:], reason)]
    return tasks


def train_task(
    plans: list[Plan], reason: str | None, spec: StudySpec, hosts: dict[str, int]
) -> list[tuple[dict[str, Any], dict[str, bytes], str]]:
    """A worker's task: train ``plans`` (fused where they can be) in a fresh Python process.

    The child process is what makes the seeds exact (the worker's own threads draw from
    Python's global ``random``, which Keras seeds its initializers and dropout from) and gives
    all of its memory back when it ends; the worker itself never loads TensorFlow.

    Returns:
        Per plan: its results.csv row, its run directory's files (relative path -> bytes), and
        how it ran (``fused (2 runs together)``, ``sequential``).

    Raises:
        TaskError: training raised (the original type and message, as text), or the process died.
    """
    from distributed import get_worker  # Dask, as above (this runs on a worker, where it is loaded)
    from distributed.comm import get_address_host

    slots_here = hosts.get(get_address_host(get_worker().address), 1)
    threads = plans[0].recipe.training.threads or max(1, (os.cpu_count() or 1) // slots_here)
    with tempfile.TemporaryDirectory(prefix="trainlab-dask-") as tmp:
        folder = Path(tmp)
        (folder / TASK).write_bytes(pickle.dumps((plans, reason, spec, threads)))
        with open(folder / LOG, "wb") as log:
            code = subprocess.run([sys.executable, "-c", CHILD, str(folder), str(os.getpid())],
                                  stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT).returncode
        if (folder / ERROR).is_file():
            raise TaskError((folder / ERROR).read_text(encoding="utf-8"))
        if code != 0 or not (folder / RESULT).is_file():
            lines = (folder / LOG).read_text(encoding="utf-8", errors="replace").strip().splitlines()
            raise TaskError(f"the training process exited with status {code}" + (f": {lines[-1]}" if lines else ""))
        results: list[Result] = pickle.loads((folder / RESULT).read_bytes())
        return [(result.row, _read_files(run_dir(folder, plan)), result.how) for plan, result in zip(plans, results)]


# The child process: python -c CHILD FOLDER PARENT_PID (a -c script, so this module is not run as __main__).
TASK, RESULT, ERROR, LOG = "task.pkl", "result.pkl", "error.txt", "log.txt"
CHILD = ("import sys; from trainlab.studies.executors.dask import train_here; "
         "sys.exit(train_here(sys.argv[1], int(sys.argv[2])))")


def train_here(folder: str | Path, parent: int) -> int:
    """The child process's work: the task in ``folder`` trained into ``folder/runs``; the exit status."""
    folder = Path(folder)
    threading.Thread(target=_exit_with, args=(parent,), daemon=True).start()
    plans, reason, spec, threads = pickle.loads((folder / TASK).read_bytes())
    apply_threads(threads)  # a fresh process: before TensorFlow's first op
    plans = [_with_threads(plan, threads) for plan in plans]
    try:
        results = train_group(Group(plans, reason), spec, folder)
    except Exception as exc:  # noqa: BLE001 (reported as text: trainlab's errors do not pickle)
        (folder / ERROR).write_text(f"{type(exc).__name__}: {exc}", encoding="utf-8")
        return 1
    (folder / RESULT).write_bytes(pickle.dumps(results))
    return 0


def _exit_with(parent: int) -> None:
    """End this process when its worker is gone (a closed cluster leaves no training behind)."""
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(1)


def _with_threads(plan: Plan, threads: int) -> Plan:
    """The plan with ``training.threads`` set, so that its recipe.yaml says how it ran."""
    if plan.recipe.training.threads == threads:
        return plan
    training = plan.recipe.training.model_copy(update={"threads": threads})
    return replace(plan, recipe=plan.recipe.model_copy(update={"training": training}))


def _read_files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _write_files(folder: Path, files: dict[str, bytes]) -> None:
    for name, data in files.items():
        path = folder / name
        if Path(name).is_absolute() or ".." in Path(name).parts:
            raise ValueError(f"a task sent a file outside its run directory: {name}")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
