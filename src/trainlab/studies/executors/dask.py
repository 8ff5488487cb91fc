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

The cluster (:class:`Cluster`), a task's fresh process and the files it sends back
(:func:`fresh_process`, :func:`write_files`) are not a study's own: a tune's ``dask`` executor
(:mod:`trainlab.tune.remote`) trains its trials' groups with them.
"""

from __future__ import annotations

import logging
import os
import pickle
import subprocess
import sys
import tempfile
import warnings
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from trainlab.runtime import apply_threads
from trainlab.errors import TrainlabError
from trainlab.studies.executors.base import Executor
from trainlab.studies.executors.local import watch_parent
from trainlab.studies.groups import Group, Result, failed_row, run_dir, train_group
from trainlab.studies.spec import Plan, StudySpec

CONNECT_TIMEOUT_S = 10.0  # how long to wait for a scheduler at dask_address, and then for its first worker


class TaskError(RuntimeError):
    """A run's exception as it left the worker: ``<type>: <message>`` (trainlab's own errors do not pickle)."""


class Cluster:
    """A Dask client, and the LocalCluster behind it when none is given; ``close`` ends both.

    Args:
        address: a scheduler's address (``dask_address``); None starts a LocalCluster on this machine.
        workers: the LocalCluster's worker processes (default: the CPU cores); one task slot each.

    Raises:
        TrainlabError: the extra is not installed, or no scheduler (or no worker) answered at
            ``address`` within :data:`CONNECT_TIMEOUT_S` seconds.

    Example:
        >>> cluster = Cluster(None, workers=2)  # doctest: +SKIP
        >>> cluster.client.submit(fresh_process, job, args, 1, ["runs/a"]).result()  # doctest: +SKIP
    """

    def __init__(self, address: str | None, workers: int | None) -> None:
        try:
            from distributed import Client, LocalCluster  # Dask: an optional extra, slow to import
        except ImportError:
            raise TrainlabError("executor", "dask needs the dask extra: pip install 'trainlab[dask]'", "dask") from None
        self.address = address
        self.local = None
        if address is None:
            # Quiet workers: a failed task is reported in the results (and warned about), not in log lines.
            self.local = LocalCluster(n_workers=workers or os.cpu_count() or 1, threads_per_worker=1, processes=True,
                                      host="127.0.0.1", dashboard_address=None, silence_logs=logging.CRITICAL)
            try:
                self.client = Client(self.local)
            except BaseException:
                self.local.close()
                raise
            return
        try:
            self.client = Client(address, timeout=CONNECT_TIMEOUT_S)
        except (OSError, TimeoutError) as exc:
            raise TrainlabError("dask_address", f"no Dask scheduler answered within {CONNECT_TIMEOUT_S:g} s "
                                f"({type(exc).__name__})", address) from None
        try:
            self.client.wait_for_workers(1, timeout=CONNECT_TIMEOUT_S)
        except (OSError, TimeoutError):
            self.client.close()
            raise TrainlabError("dask_address", f"the scheduler has no workers after {CONNECT_TIMEOUT_S:g} s; start "
                                f"some with: dask worker {address}", address) from None

    def hosts(self) -> dict[str, int]:
        """Task slots (worker threads) per host, which :func:`worker_threads` divides the host's cores by."""
        from distributed.comm import get_address_host  # Dask, as above

        hosts: Counter[str] = Counter()
        for address, threads in self.client.nthreads().items():
            hosts[get_address_host(address)] += threads
        return dict(hosts)

    def close(self) -> None:
        self.client.close()
        if self.local is not None:
            self.local.close()


class DaskExecutor(Executor):
    """``dask``: a study's groups as tasks on a :class:`Cluster` (a LocalCluster, or the one at ``dask_address``).

    Args:
        spec: the study (``dask_address``, ``workers``).
        study_dir: the study directory; the tasks' run directories are written into its ``runs/``.

    Raises:
        TrainlabError: as :class:`Cluster`.
    """

    def __init__(self, spec: StudySpec, study_dir: Path) -> None:
        super().__init__(spec, study_dir)
        self.cluster = Cluster(spec.config.dask_address, spec.config.workers)
        self.client = self.cluster.client

    def close(self) -> None:
        self.cluster.close()

    def run(self, groups: Sequence[Group]) -> Iterator[Result]:
        """Train the groups as tasks on the cluster; write the run directories; yield each run's result."""
        from distributed import as_completed  # Dask, as above

        hosts = self.cluster.hosts()
        futures = {}
        for plans, reason in _tasks(list(groups), sum(hosts.values())):
            future = self.client.submit(train_task, plans, reason, self.spec, hosts, retries=1, pure=False)
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
                write_files(run_dir(self.study_dir, plan), files)
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
    """A worker's task: train ``plans`` (fused where they can be) in a fresh Python process (:func:`fresh_process`).

    Returns:
        Per plan: its results.csv row, its run directory's files (relative path -> bytes), and
        how it ran (``fused (2 runs together)``, ``sequential``).

    Raises:
        TaskError: training raised (the original type and message, as text), or the process died.
    """
    threads = worker_threads(plans[0].recipe.training.threads, hosts)
    outputs = [run_dir(Path(), plan).as_posix() for plan in plans]
    results, files = fresh_process(_train_plans, (plans, reason, spec), threads, outputs)
    return [(result.row, found, result.how) for result, found in zip(results, files)]


def _train_plans(folder: Path, threads: int, plans: list[Plan], reason: str | None, spec: StudySpec) -> list[Result]:
    """In the fresh process: the study's group trained into ``folder/runs``."""
    return train_group(Group([with_threads(plan, threads) for plan in plans], reason), spec, folder)


def worker_threads(recipe_threads: int | None, hosts: dict[str, int]) -> int:
    """On a worker: TensorFlow's threads for a task, ``training.threads`` or the host's cores over its task slots.

    Args:
        recipe_threads: the recipe's ``training.threads`` (None: not set).
        hosts: task slots per host (:meth:`Cluster.hosts`).
    """
    from distributed import get_worker  # Dask, as above (this runs on a worker, where it is loaded)
    from distributed.comm import get_address_host

    slots_here = hosts.get(get_address_host(get_worker().address), 1)
    return recipe_threads or max(1, (os.cpu_count() or 1) // slots_here)


def fresh_process(
    job: Callable[..., Any], args: tuple[Any, ...], threads: int, outputs: Sequence[str]
) -> tuple[Any, list[dict[str, bytes]]]:
    """Run ``job(folder, threads, *args)`` in a fresh Python process and send back its result and files.

    The child process is what makes the seeds exact (a Dask worker's own threads draw from
    Python's global ``random``, which Keras seeds its initializers and dropout from) and gives
    all of its memory back when it ends. ``folder`` is a temporary folder the job writes into;
    TensorFlow's thread pools are set to ``threads`` before the job starts.

    Args:
        job: a module-level function (it is pickled by name); it returns something picklable.
        args: its arguments after ``folder`` and ``threads`` (pickled).
        threads: TensorFlow's intra- and inter-op threads in the child (:func:`worker_threads`).
        outputs: folders relative to ``folder`` whose files come back (a run directory each).

    Returns:
        ``(result, files)``: what the job returned, and per output its files (relative path -> bytes).

    Raises:
        TaskError: the job raised (the original type and message, as text), or the process died.
    """
    with tempfile.TemporaryDirectory(prefix="trainlab-dask-") as tmp:
        folder = Path(tmp)
        (folder / TASK).write_bytes(pickle.dumps((job, args, threads)))
        with open(folder / LOG, "wb") as log:
            code = subprocess.run([sys.executable, "-c", CHILD, str(folder), str(os.getpid())],
                                  stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT).returncode
        if (folder / ERROR).is_file():
            raise TaskError((folder / ERROR).read_text(encoding="utf-8"))
        if code != 0 or not (folder / RESULT).is_file():
            lines = (folder / LOG).read_text(encoding="utf-8", errors="replace").strip().splitlines()
            raise TaskError(f"the training process exited with status {code}" + (f": {lines[-1]}" if lines else ""))
        return pickle.loads((folder / RESULT).read_bytes()), [_read_files(folder / out) for out in outputs]


# The child process: python -c CHILD FOLDER PARENT_PID (a -c script, so this module is not run as __main__).
TASK, RESULT, ERROR, LOG = "task.pkl", "result.pkl", "error.txt", "log.txt"
CHILD = ("import sys; from trainlab.studies.executors.dask import run_here; "
         "sys.exit(run_here(sys.argv[1], int(sys.argv[2])))")


def run_here(folder: str | Path, parent: int) -> int:
    """The child process's work: the job in ``folder`` (see :func:`fresh_process`); the exit status."""
    folder = Path(folder)
    watch_parent(parent)  # a closed cluster leaves no training behind
    job, args, threads = pickle.loads((folder / TASK).read_bytes())
    apply_threads(threads)  # a fresh process: before TensorFlow's first op
    try:
        result = job(folder, threads, *args)
    except Exception as exc:  # noqa: BLE001 (reported as text: trainlab's errors do not pickle)
        (folder / ERROR).write_text(f"{type(exc).__name__}: {exc}", encoding="utf-8")
        return 1
    (folder / RESULT).write_bytes(pickle.dumps(result))
    return 0


def with_threads(plan: Plan, threads: int) -> Plan:
    """The plan with ``training.threads`` set, so that its recipe.yaml says how it ran."""
    if plan.recipe.training.threads == threads:
        return plan
    training = plan.recipe.training.model_copy(update={"threads": threads})
    return replace(plan, recipe=plan.recipe.model_copy(update={"training": training}))


def _read_files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def write_files(folder: Path, files: dict[str, bytes]) -> None:
    """Write the files a task sent back (relative path -> bytes) into ``folder``.

    Raises:
        ValueError: a path leads outside ``folder``.
    """
    for name, data in files.items():
        path = folder / name
        if Path(name).is_absolute() or ".." in Path(name).parts:
            raise ValueError(f"a task sent a file outside its run directory: {name}")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
