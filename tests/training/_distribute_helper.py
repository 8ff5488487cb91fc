"""Processes for tests/training/test_distribute.py: each starts TensorFlow afresh, as tf.distribute needs.

``python _distribute_helper.py mirrored RECIPE OUT``
    Two logical CPU devices; ``RECIPE`` trained on one device and under ``mirrored``:
    ``OUT/none`` and ``OUT/mirrored`` run directories, final weights in ``OUT/<kind>.npz``.
``python _distribute_helper.py cluster SPEC``
    Run in a network namespace of its own (``unshare -rn``), where only loopback exists:
    TensorFlow's gRPC server listens on every interface (``0.0.0.0``), and this keeps it off
    the host's network. Brings loopback up, picks free ports, starts the worker processes
    ``SPEC`` (JSON) lists, with ``TF_CONFIG`` each, waits for them (killing all on timeout) and
    prints one JSON line: each process's exit status, elapsed seconds, stdout and stderr.
``python _distribute_helper.py worker RECIPE OUT WEIGHTS``
    One worker of a multi-worker run (``TF_CONFIG`` set): trains and saves its final weights.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time


def mirrored(recipe: str, out: str) -> None:
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import numpy as np

    import trainlab

    for kind in ("none", "mirrored"):
        run = trainlab.train(recipe, out=f"{out}/{kind}", training__distribute=kind)
        np.savez(f"{out}/{kind}.npz", *run.model.get_weights())
    # Runs fused in one engine (a study) are refused under a strategy with several replicas.
    import keras

    from trainlab.training.engine import Engine, Member

    with tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"]).scope():
        members = [Member(keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)]), keras.optimizers.SGD(0.1),
                          keras.losses.MeanSquaredError()) for _ in range(2)]
        try:
            Engine(members, batch_size=4)
        except trainlab.TrainlabError as exc:
            print(f"refused: {exc}")


def worker(recipe: str, out: str, weights: str) -> None:
    started = time.perf_counter()
    import numpy as np

    import trainlab

    imported = time.perf_counter()
    run = trainlab.train(recipe, out=out, training__distribute="multi_worker")
    np.savez(weights, *run.model.get_weights())
    print(json.dumps({"chief": run.chief, "dir": str(run.dir), "import_s": imported - started,
                      "train_s": time.perf_counter() - imported, "start_s": run.summary["distribute"]["start_s"]}))


def cluster(spec: str) -> None:
    """``SPEC``: ``{"workers": N, "start": [[index, argv], ...], "hold": [index, ...], "timeout": s}``.

    Worker ``index`` runs ``argv``, with ``TF_CONFIG`` naming the cluster and its place in it;
    ``hold`` lists workers whose port a plain socket holds instead (it answers, speaks no gRPC).
    """
    import socket

    config = json.loads(spec)
    _loopback_up()
    ports = []
    for _ in range(config["workers"]):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))  # loopback only
            ports.append(probe.getsockname()[1])
    addresses = [f"127.0.0.1:{port}" for port in ports]
    held = []
    for index in config.get("hold", []):
        sock = socket.socket()
        sock.bind(("127.0.0.1", ports[index]))
        sock.listen(8)
        held.append(sock)
    procs = []
    for index, argv in config["start"]:
        env = dict(os.environ, TF_CONFIG=json.dumps(
            {"cluster": {"worker": addresses}, "task": {"type": "worker", "index": index}}))
        procs.append((index, time.perf_counter(), subprocess.Popen(
            argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)))
    deadline = time.perf_counter() + config["timeout"]
    results = []
    for index, started, proc in procs:
        try:
            out, err = proc.communicate(timeout=max(0.1, deadline - time.perf_counter()))
        except subprocess.TimeoutExpired:
            for _, _, other in procs:
                other.kill()
            out, err = proc.communicate()
            results.append({"index": index, "rc": None, "timed_out": True, "stdout": out, "stderr": err})
            continue
        results.append({"index": index, "rc": proc.returncode, "elapsed_s": time.perf_counter() - started,
                        "stdout": out, "stderr": err, "address": addresses[index]})
    print(json.dumps({"addresses": addresses, "results": results}))


def _loopback_up() -> None:
    """``ip link set lo up``, without needing ``ip``: a new network namespace starts with loopback down."""
    import fcntl
    import socket
    import struct

    siocgifflags, siocsifflags, iff_up = 0x8913, 0x8914, 0x1
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("16sh", b"lo", 0)
        flags = struct.unpack("16sh", fcntl.ioctl(sock, siocgifflags, request))[1]
        fcntl.ioctl(sock, siocsifflags, struct.pack("16sh", b"lo", flags | iff_up))


if __name__ == "__main__":
    mode, *rest = sys.argv[1:]
    {"mirrored": mirrored, "worker": worker, "cluster": cluster}[mode](*rest)
