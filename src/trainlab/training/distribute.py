"""Data-parallel training with ``tf.distribute``: one model on several devices or hosts.

``training.distribute`` picks the strategy the engine's compiled epoch runs under:

- ``mirrored``: ``tf.distribute.MirroredStrategy`` over this machine's GPUs, or, without GPUs,
  over its logical CPU devices (one replica when there is one device).
- ``multi_worker``: ``tf.distribute.MultiWorkerMirroredStrategy`` over the hosts ``TF_CONFIG``
  names, each running the same ``trainlab run``.

Each step of the epoch runs in ``strategy.run`` (see :class:`Share`): every replica takes its share
of the global batch (every worker holds the whole data set), its loss is the sum over its samples
divided by the *global* batch size plus its ``1/R`` part of the regularization penalty, so that
the replicas' losses and gradients add up to those of one device, uneven last batch included.
The gradients are summed across replicas (one all-reduce) before anything reads them: the
recorded norms are the global gradient's, and the optimizer's clipping acts on it. Training
metrics accumulate on each replica in Keras' on-read-synchronized variables and are summed when
read; evaluation runs whole, in cross-replica context, where TensorFlow splits each update of an
on-read variable across the replicas' copies, so that the sum read is right.

Only the chief (the ``chief`` task, else worker 0) writes the run directory. The other workers
run the same program, collectives included, into a scratch folder that they delete at the end.

Joining a cluster: TensorFlow's ``MultiWorkerMirroredStrategy()`` waits for every peer inside a
C++ call that holds Python's GIL, so a worker whose peer never starts blocks there for ever, deaf to
SIGTERM, and no Python thread or signal handler can bound the wait (measured with TensorFlow
2.21). So the workers first meet on the addresses ``TF_CONFIG`` names: each listens on its own
address until every peer's address accepts a TCP connection, for at most
``training.distribute_timeout_s``, and a worker that never answers is named in a one-line error.
Only then is the strategy built, under a watchdog process that ends this one with a line of its
own should that still hang (a peer that answered and died, or another program on its port).
"""

from __future__ import annotations

import ipaddress
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from typing import Any

import keras
import tensorflow as tf

from trainlab.errors import TrainlabError
from trainlab.optimizers import fused_apply, unwrap


# --------------------------------------------------------------------------------- placement
@dataclass
class Placement:
    """Where a run trains: a strategy (None: TensorFlow's default device) and this process's part.

    Attributes:
        kind: ``training.distribute``.
        strategy: the strategy, or None for ``none``.
        worker: this process's index in the cluster (0: the chief, who writes the run directory).
        workers: the number of worker processes.
        start_s: seconds spent joining the cluster and building the strategy.
    """

    kind: str
    strategy: tf.distribute.Strategy | None = None
    worker: int = 0
    workers: int = 1
    start_s: float = 0.0

    @property
    def chief(self) -> bool:
        return self.worker == 0

    @property
    def replicas(self) -> int:
        return self.strategy.num_replicas_in_sync if self.strategy is not None else 1

    def scope(self) -> Any:
        """The strategy's scope (models, optimizers, metrics and the engine's variables are made in it)."""
        return self.strategy.scope() if self.strategy is not None else nullcontext()

    def holds(self, model: keras.Model) -> bool:
        """Whether ``model``'s variables were made in this placement's scope (always, without a strategy)."""
        if self.strategy is None or not model.variables:
            return True
        variable = model.variables[0]
        return self.strategy.extended.variable_created_in_scope(getattr(variable, "value", variable))

    def describe(self) -> dict[str, Any]:
        """What ``summary.json`` records of it."""
        return {"kind": self.kind, "replicas": self.replicas, "worker": self.worker, "workers": self.workers,
                "start_s": round(self.start_s, 3)}

    def scratch(self, name: str) -> str:
        """A new scratch folder for a worker that is not the chief (the trainer deletes it when the run ends)."""
        return tempfile.mkdtemp(prefix=f"trainlab-{name}-worker{self.worker}-")


_PLACED: dict[str, Placement] = {}  # one strategy per kind and process: collectives are set up once


def place(training: Any) -> Placement:
    """The placement ``training.distribute`` asks for, made on first use and then reused.

    Args:
        training: the recipe's ``training`` section (``distribute``, ``distribute_timeout_s``).

    Returns:
        A :class:`Placement`.

    Raises:
        TrainlabError: ``TF_CONFIG`` is missing or wrong, a worker did not answer within the
            timeout, or (``multi_worker``) TensorFlow already ran in this process.

    Example:
        >>> place(recipe.training).replicas   # 2 on a machine with two GPUs, mirrored
    """
    kind = training.distribute
    if kind not in _PLACED:
        started = time.perf_counter()
        if kind == "none":
            placement = Placement(kind)
        elif kind == "mirrored":
            placement = Placement(kind, tf.distribute.MirroredStrategy(_local_devices()))
        else:
            cluster = Cluster.from_env(os.environ.get("TF_CONFIG"))
            strategy = _join(cluster, float(training.distribute_timeout_s))
            placement = Placement(kind, strategy, cluster.me, len(cluster.workers))
        placement.start_s = time.perf_counter() - started
        _PLACED[kind] = placement
    return _PLACED[kind]


def _local_devices() -> list[str]:
    """Every GPU, else every logical CPU device (``tf.config.set_logical_device_configuration`` makes several)."""
    devices = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
    return [device.name for device in devices]


# ----------------------------------------------------------------------------------- cluster
@dataclass(frozen=True)
class Cluster:
    """The cluster ``TF_CONFIG`` describes: its workers in TensorFlow's order (the chief first) and this one.

    Attributes:
        workers: ``(name, "host:port")`` per worker, e.g. ``("worker 1", "10.0.0.6:12345")``.
        me: this process's index in ``workers``.
    """

    workers: tuple[tuple[str, str], ...]
    me: int

    @classmethod
    def from_env(cls, text: str | None) -> Cluster:
        """Parse ``TF_CONFIG``'s JSON (``{"cluster": {"worker": [...]}, "task": {"type": ..., "index": ...}}``).

        Raises:
            TrainlabError: missing, not JSON, or a task that is not in the cluster.
        """
        shape = '{"cluster": {"worker": ["host:port", ...]}, "task": {"type": "worker", "index": i}}'
        if not text:
            raise TrainlabError("TF_CONFIG", f"must be set for training.distribute: multi_worker, as {shape}")
        try:
            config = json.loads(text)
            jobs, task = config["cluster"], config["task"]
            kind, index = task["type"], task["index"]
            workers = [(f"chief {i}" if job == "chief" else f"worker {i}", str(address))
                       for job in ("chief", "worker") for i, address in enumerate(jobs.get(job, []))]
            me = workers.index((f"{kind} {index}", str(jobs[kind][index])))
        except (ValueError, KeyError, TypeError, IndexError, AttributeError):
            raise TrainlabError("TF_CONFIG", f"must be JSON shaped {shape} with the task in the cluster",
                                text) from None
        for _, address in workers:
            _host_port(address)
        return cls(tuple(workers), me)

    def peers(self) -> list[tuple[str, str]]:
        return [worker for i, worker in enumerate(self.workers) if i != self.me]


def _host_port(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise TrainlabError("TF_CONFIG", "every worker's address must be host:port", address)
    return host.strip("[]"), int(port)


def _join(cluster: Cluster, timeout: float) -> tf.distribute.Strategy:
    """Meet every peer (bounded), then build the strategy (bounded by a watchdog)."""
    _rendezvous(cluster, timeout)
    names = ", ".join(f"{name} at {address}" for name, address in cluster.peers())
    line = (f"trainlab: error: TF_CONFIG: the workers answered but TensorFlow did not join them within {timeout:g} s"
            f" (training.distribute_timeout_s); check that trainlab runs with the same TF_CONFIG on every worker"
            f" ({names})")
    with _watchdog(timeout, line):
        try:
            return tf.distribute.MultiWorkerMirroredStrategy()
        except RuntimeError as exc:
            if "program startup" not in str(exc):
                raise
            raise TrainlabError(
                "training.distribute", "multi_worker must start before TensorFlow runs anything in the process"
                " (trainlab run does; in Python, call trainlab.train before any other TensorFlow work)",
                "multi_worker",
            ) from None


def _rendezvous(cluster: Cluster, timeout: float) -> None:
    """Listen on this worker's address until every peer's address accepts a connection.

    A peer's address answers once its trainlab listens there (or, later, its TensorFlow server):
    no worker starts TensorFlow's blocking join before all of them are up.

    Raises:
        TrainlabError: naming the peers that did not answer within ``timeout`` seconds, or this
            worker's address already in use.
    """
    my_name, my_address = cluster.workers[cluster.me]
    host, port = _host_port(my_address)
    listener = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        try:
            # A loopback cluster stays on loopback. Otherwise every interface, as TensorFlow's server will
            # listen right after: the address's name may resolve to another of this host's addresses (or
            # to none of them, behind NAT), and the others must reach this listener.
            listener.bind((host if _loopback(host) else "", port))
        except OSError as exc:
            raise TrainlabError("TF_CONFIG", f"{my_name}'s own address cannot be listened on ({exc.strerror});"
                                " is another program using its port?", my_address) from None
        listener.listen(64)  # connections wait in the backlog: answering needs no accept()
        deadline = time.monotonic() + timeout
        waiting = cluster.peers()
        while waiting:
            waiting = [(name, address) for name, address in waiting if not _answers(address, deadline)]
            if waiting and time.monotonic() >= deadline:
                missing = ", ".join(f"{name} at {address}" for name, address in waiting)
                raise TrainlabError(
                    "TF_CONFIG", f"no answer from {missing} within {timeout:g} s (training.distribute_timeout_s);"
                    " start trainlab run with the same TF_CONFIG on every worker",
                )
            if waiting:
                time.sleep(0.1)
    finally:
        listener.close()


def _loopback(host: str) -> bool:
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _answers(address: str, deadline: float) -> bool:
    host, port = _host_port(address)
    try:
        socket.create_connection((host, port), timeout=max(0.1, min(2.0, deadline - time.monotonic()))).close()
    except OSError:
        return False
    return True


_WATCHDOG = """
import os, signal, sys, time
parent, seconds, line = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
time.sleep(seconds)
if os.getppid() == parent:  # still waiting (were it gone, the pid could be another process's)
    sys.stderr.write(line + "\\n")
    sys.stderr.flush()
    os.kill(parent, signal.SIGKILL)
"""


@contextmanager
def _watchdog(seconds: float, line: str) -> Iterator[None]:
    """Kill this process, printing ``line`` on stderr, if the block has not ended after ``seconds``.

    A separate process, since the block may hold the GIL (no Python thread or handler here can run)
    and ignore SIGTERM.
    """
    guard = subprocess.Popen(
        [sys.executable, "-c", _WATCHDOG, str(os.getpid()), str(seconds), line],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
    )
    try:
        yield
    finally:
        guard.kill()
        guard.wait()


# ------------------------------------------------------------------------------ the step
_MEAN_REDUCTIONS = ("sum_over_batch_size", "mean", "mean_with_sample_weight")


class Share:
    """This replica's share of a global batch, and the sums that make the replicas' parts one step.

    Made inside the replica function that ``strategy.run`` calls. With one replica (no strategy,
    or a one-device one) every method returns what the one-device step computes, bit for bit.

    Args:
        n: the global batch size (a scalar tensor).

    Example:
        >>> share = Share(tf.shape(xb)[0])
        >>> xs, ys = share.take(xb), share.take(yb)
        >>> loss = share.loss(member.loss, ys, model(xs), model.losses)   # this replica's part
        >>> grads = share.sum(tape.gradient(loss, variables))            # the global gradient
    """

    def __init__(self, n: tf.Tensor) -> None:
        context = tf.distribute.get_replica_context()
        self.replicas = int(context.num_replicas_in_sync) if context is not None else 1
        self.size = tf.cast(n, tf.float32)
        self._context = context
        if self.replicas > 1:
            # Replica r of R takes samples [r n / R, (r + 1) n / R): shares differ by one sample at most.
            r, n = tf.cast(context.replica_id_in_sync_group, tf.int32), tf.cast(n, tf.int32)
            self._lo, self._hi = r * n // self.replicas, (r + 1) * n // self.replicas
            self._fraction = tf.cast(self._hi - self._lo, tf.float32) / tf.maximum(self.size, 1.0)

    def take(self, tensor: tf.Tensor) -> tf.Tensor:
        """This replica's rows of a batch tensor."""
        return tensor if self.replicas == 1 else tensor[self._lo : self._hi]

    def loss(
        self, loss_fn: Any, y: tf.Tensor, pred: tf.Tensor, penalties: Sequence[tf.Tensor] = (),
        sample_weight: tf.Tensor | None = None,
    ) -> tf.Tensor:
        """This replica's part of the global batch's loss plus penalties: the parts add up to the one-device loss.

        ``sample_weight`` (this replica's rows) weighs each sample's loss, as Keras' losses do.

        The loss over this replica's samples is weighted by their share of the global batch (the
        sum over its samples divided by the global batch size, for a mean-reduced loss); Keras
        divides a mean-reduced loss by the number of replicas when it runs under a strategy, which
        is undone here. Each replica adds ``1/R`` of the penalties (the model's regularization).
        """
        value = loss_fn(y, pred) if sample_weight is None else loss_fn(y, pred, sample_weight=sample_weight)
        if self.replicas > 1:
            reduction = getattr(loss_fn, "reduction", "sum_over_batch_size")
            if reduction in _MEAN_REDUCTIONS:
                keras_scale = self.replicas if isinstance(loss_fn, keras.losses.Loss) else 1
                value = value * tf.cast(self._fraction * keras_scale, value.dtype)
        if penalties:
            # In the loss's dtype, as Keras' compute_loss adds them: a mixed-precision layer's penalty may be float16.
            penalty = tf.add_n([tf.cast(p, value.dtype) for p in penalties])
            value = value + (penalty if self.replicas == 1 else penalty / tf.cast(self.replicas, penalty.dtype))
        return value

    def sum(self, values: Any) -> Any:
        """``values`` (a tensor or a structure of them) summed over the replicas; every replica gets the sum."""
        if self.replicas == 1:
            return values
        return self._context.all_reduce(tf.distribute.ReduceOp.SUM, values)

    def apply(self, optimizer: keras.optimizers.Optimizer, grads: Sequence[tf.Tensor], variables: Sequence) -> None:
        """Apply gradients already summed over the replicas (:meth:`sum`), with Keras' clipping acting on them.

        Keras 3's optimizer all-reduces (sums) the gradients it gets across replicas, after its
        clipping; these are the sum already, so its all-reduce is skipped here (while tracing), also
        in the inner optimizer of a ``LossScaleOptimizer``, which is the one that applies them.
        """
        if self.replicas == 1:
            fused_apply(optimizer, grads, variables)
            return
        inner = unwrap(optimizer)
        with _summed_already(optimizer), _summed_already(inner) if inner is not optimizer else nullcontext():
            optimizer.apply(grads, variables)


_PATCH_LOCK = threading.Lock()


@contextmanager
def _summed_already(optimizer: keras.optimizers.Optimizer) -> Iterator[None]:
    """Keras' ``_all_reduce_sum_gradients`` (TensorFlow backend) as the identity, while the block traces.

    MirroredStrategy traces each replica in a thread of its own; the replicas' blocks overlap (they
    wait for each other in the all-reduces), so the first to enter shadows the method and the last
    to leave puts it back.
    """
    if not callable(getattr(optimizer, "_all_reduce_sum_gradients", None)):
        raise RuntimeError(
            f"{type(optimizer).__name__} has no _all_reduce_sum_gradients: this Keras version's optimizer does not"
            " reduce gradients as trainlab expects; data-parallel training needs trainlab updated for it"
        )
    own = vars(optimizer)  # set and removed in the instance's dict: no attribute tracking, the class method untouched
    with _PATCH_LOCK:
        own["_trainlab_summed"] = own.get("_trainlab_summed", 0) + 1
        own["_all_reduce_sum_gradients"] = list
    try:
        yield
    finally:
        with _PATCH_LOCK:
            own["_trainlab_summed"] -= 1
            if not own["_trainlab_summed"]:
                del own["_trainlab_summed"], own["_all_reduce_sum_gradients"]
