"""Checkpoints: the whole training state of a run, written atomically into ``state/`` of its run directory.

A checkpoint holds everything a run needs to continue as if it had never stopped: every
variable of the model (weights, batch-norm statistics, dropout seed states), of the optimizer
(iteration count, slots), of the learning-rate schedule (the scale a plateau rule or a rollback
lowered) and of the training metrics; the weights at the start of the epoch (for the update
ratios); the state of every callback (early stopping's wait, best and best weights, the plateau
rule's counters, ...); Python's and NumPy's random states; the epoch and the batch reached, with
the records of an unfinished epoch's steps; how many rows each record file had; and the kernel
samples kept for ``weights.npz``. The data order needs no storing: it is a pure function of
``(data seed, epoch)``.

A file ``checkpoint-EEEEE-BBBBBB.ckpt`` is the state after ``EEEEE`` whole epochs and ``BBBBBB``
batches of the next one. Its layout: the magic ``TRAINLAB-CKPT-1\\n``, the length of the header
(8 bytes, little-endian), the header (JSON: ``meta`` and the name, dtype, shape and offset of each
array), the arrays' bytes, then a CRC-32 of everything after the magic and its length (4 + 8
bytes). A file that is cut short or altered fails the check and is passed over for the one before.

Writing is atomic (temporary file, flush, fsync, rename, fsync of the folder) and happens, with
the encoding, on a background thread: a checkpoint costs the training loop one compiled read of
its variables and the gathering of the rest; the newest ``keep`` checkpoints are kept.
"""

from __future__ import annotations

import json
import os
import re
import struct
import threading
import warnings
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import keras
import numpy as np

FOLDER = "state"
MAGIC = b"TRAINLAB-CKPT-1\n"
_NAME = re.compile(r"checkpoint-(\d{5,})-(\d{6,})\.ckpt")
_TRAILER = struct.Struct("<IQ")  # CRC-32 and length of what follows the magic, up to the trailer


class DamagedCheckpoint(ValueError):
    """A checkpoint file that cannot be trusted: cut short, altered, or not a checkpoint."""


@dataclass
class Checkpoint:
    """One checkpoint: ``meta`` (plain JSON values) and named arrays.

    Attributes:
        meta: epoch, batch, counts of records, callback states, ... (see the module docstring).
        arrays: the variables' values and every other array, by name.
        path: the file it was read from, if it was.
    """

    meta: dict[str, Any]
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    path: Path | None = None

    @property
    def epoch(self) -> int:
        """Whole epochs done."""
        return int(self.meta["epoch"])

    @property
    def batch(self) -> int:
        """Batches done of the next epoch (0 at an epoch's end)."""
        return int(self.meta["batch"])


@dataclass
class Resume:
    """Continue a run in its own directory: from ``checkpoint``, or from its first epoch when None."""

    dir: Path
    checkpoint: Checkpoint | None = None


def file_name(epoch: int, batch: int) -> str:
    """``checkpoint-00003-000000.ckpt``: after 3 whole epochs (names sort in training order)."""
    return f"checkpoint-{epoch:05d}-{batch:06d}.ckpt"


# ------------------------------------------------------------------------------------ the format
def encode(meta: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> bytes:
    """A checkpoint's bytes: magic, header, arrays, checksum."""
    entries, chunks, offset = [], [], 0
    for name, array in arrays.items():
        array = np.ascontiguousarray(array)
        if array.dtype.hasobject:
            raise TypeError(f"checkpoint array {name!r} holds Python objects")
        entries.append({"name": name, "dtype": array.dtype.str, "shape": list(array.shape), "offset": offset})
        chunks.append(array.tobytes())
        offset += array.nbytes
    header = json.dumps({"meta": meta, "arrays": entries}, allow_nan=True).encode("utf-8")
    body = b"".join([struct.pack("<Q", len(header)), header, *chunks])
    return MAGIC + body + _TRAILER.pack(zlib.crc32(body), len(body))


def decode(data: bytes) -> Checkpoint:
    """Read a checkpoint's bytes back.

    Raises:
        DamagedCheckpoint: not a checkpoint, cut short, or its checksum does not match.
    """
    if not data.startswith(MAGIC):
        raise DamagedCheckpoint("not a trainlab checkpoint (wrong magic bytes)")
    if len(data) < len(MAGIC) + 8 + _TRAILER.size:
        raise DamagedCheckpoint(f"cut short ({len(data)} bytes)")
    body = memoryview(data)[len(MAGIC) : len(data) - _TRAILER.size]
    crc, length = _TRAILER.unpack(data[len(data) - _TRAILER.size :])
    if length != len(body):
        raise DamagedCheckpoint(f"cut short or padded ({len(body)} bytes of content, the trailer says {length})")
    if zlib.crc32(body) != crc:
        raise DamagedCheckpoint("checksum mismatch (the file was altered or only partly written)")
    (header_length,) = struct.unpack("<Q", body[:8])
    try:
        header = json.loads(bytes(body[8 : 8 + header_length]).decode("utf-8"))
        payload = body[8 + header_length :]
        arrays = {}
        for entry in header["arrays"]:
            dtype = np.dtype(entry["dtype"])
            count = int(np.prod(entry["shape"], dtype=np.int64))
            arrays[entry["name"]] = np.frombuffer(
                payload, dtype, count, int(entry["offset"])
            ).reshape(entry["shape"]).copy()
        return Checkpoint(header["meta"], arrays)
    except (ValueError, KeyError, TypeError) as exc:
        raise DamagedCheckpoint(f"unreadable header or arrays ({exc})") from None


def read(path: str | Path) -> Checkpoint:
    """Read and check one checkpoint file.

    Raises:
        DamagedCheckpoint: see :func:`decode`; also an unreadable file.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DamagedCheckpoint(f"cannot be read ({exc.strerror})") from None
    checkpoint = decode(data)
    checkpoint.path = path
    return checkpoint


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that a crash at any moment leaves the old file or the new one.

    Temporary file, flush, fsync, rename, then fsync of the folder (the rename itself made
    durable). On failure (a full disk) the temporary file is removed and the error raised.
    """
    tmp = path.with_name(path.name + ".tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            _fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            tmp.unlink()
        except OSError:
            pass
        raise
    _fsync_folder(path.parent)


def _fsync(fd: int) -> None:
    os.fsync(fd)


def _fsync_folder(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return  # some systems cannot open a folder; the rename is then as durable as they make it
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# ------------------------------------------------------------------------------ finding them again
def files(run_dir: str | Path) -> list[Path]:
    """The run's checkpoint files, oldest first."""
    folder = Path(run_dir) / FOLDER
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if _NAME.fullmatch(p.name))


def newest_valid(run_dir: str | Path, check: Any = None) -> tuple[Checkpoint | None, list[str]]:
    """The newest checkpoint that reads back whole (and passes ``check``), and why newer ones did not.

    Args:
        run_dir: the run directory.
        check: ``check(checkpoint)`` raises :class:`DamagedCheckpoint` when a checkpoint that
            reads back whole still cannot be used (say, the records it counts are missing).

    Returns:
        ``(checkpoint or None, ["checkpoint-...ckpt: why it was passed over", ...])``.
    """
    passed_over = []
    for path in reversed(files(run_dir)):
        try:
            checkpoint = read(path)
            if check is not None:
                check(checkpoint)
            return checkpoint, passed_over
        except DamagedCheckpoint as exc:
            passed_over.append(f"{path.name}: {exc}")
    return None, passed_over


def discard_after(run_dir: str | Path, checkpoint: Checkpoint | None) -> None:
    """Remove checkpoints newer than ``checkpoint`` (all, for None) and leftover temporary files.

    A resumed run replays what came after its checkpoint; newer files (damaged, or from that
    replayed stretch) must not be taken for its future.
    """
    keep = checkpoint.path.name if checkpoint is not None and checkpoint.path is not None else ""
    folder = Path(run_dir) / FOLDER
    for path in files(run_dir):
        if path.name > keep:
            path.unlink(missing_ok=True)
    if folder.is_dir():
        for path in folder.glob("*.tmp"):
            path.unlink(missing_ok=True)


# ----------------------------------------------------------------------------------- the writer
class Writer:
    """Writes a run's checkpoints on a background thread, atomically, keeping the newest ``keep``.

    :meth:`submit` hands over the bytes and returns at once; when checkpoints come faster
    than the disk takes them, a waiting one is replaced by the newer one. A write that
    fails (a full disk) leaves the earlier checkpoints as they were and is reported as a
    warning at the next :meth:`submit` or :meth:`close`; training goes on.

    Args:
        run_dir: the run directory (checkpoints go to its ``state/``).
        keep: how many checkpoints to keep (the newest).
    """

    def __init__(self, run_dir: str | Path, keep: int) -> None:
        self.folder = Path(run_dir) / FOLDER
        self.keep = int(keep)
        self._lock = threading.Condition()
        self._pending: tuple[str, bytes | Callable[[], bytes]] | None = None
        self._busy = False
        self._closed = False
        self._errors: list[str] = []
        self._thread: threading.Thread | None = None

    def submit(self, name: str, data: bytes | Callable[[], bytes]) -> None:
        """Queue ``data`` to be written as ``state/<name>``: the bytes, or a function that makes them (run
        on the writer's thread; it must only read values that nothing changes afterwards)."""
        self._report()
        with self._lock:
            if self._thread is None:
                self.folder.mkdir(parents=True, exist_ok=True)
                self._thread = threading.Thread(target=self._work, name="trainlab-checkpoints", daemon=True)
                self._thread.start()
            self._pending = (name, data)
            self._lock.notify_all()

    def flush(self) -> None:
        """Wait until every submitted checkpoint is on disk (or failed, with a warning)."""
        with self._lock:
            while self._pending is not None or self._busy:
                self._lock.wait()
        self._report()

    def close(self) -> None:
        """:meth:`flush`, then stop the thread."""
        self.flush()
        with self._lock:
            self._closed = True
            self._lock.notify_all()
        if self._thread is not None:
            self._thread.join()

    def _work(self) -> None:
        while True:
            with self._lock:
                while self._pending is None and not self._closed:
                    self._lock.wait()
                if self._pending is None:
                    return
                (name, data), self._pending, self._busy = self._pending, None, True
            try:
                write_atomic(self.folder / name, data() if callable(data) else data)
                self._prune()
            except OSError as exc:
                with self._lock:
                    self._errors.append(f"{self.folder / name}: checkpoint not written ({exc.strerror or exc});"
                                        " the earlier ones are kept")
            finally:
                with self._lock:
                    self._busy = False
                    self._lock.notify_all()

    def _prune(self) -> None:
        for path in files(self.folder.parent)[: -self.keep]:
            path.unlink(missing_ok=True)

    def _report(self) -> None:
        with self._lock:
            errors, self._errors = self._errors, []
        for message in errors:
            warnings.warn(message, stacklevel=3)


# ------------------------------------------------------------------------------- callback state
# What each stock callback keeps between epochs (its settings come from the recipe again).
_CALLBACK_STATE: list[tuple[type, tuple[str, ...]]] = [
    (keras.callbacks.EarlyStopping, ("wait", "stopped_epoch", "best", "best_epoch", "best_weights")),
    (keras.callbacks.ReduceLROnPlateau, ("wait", "best", "cooldown_counter")),
    (keras.callbacks.ModelCheckpoint, ("best", "_current_epoch", "_batches_seen_since_last_saving",
                                       "_last_batch_seen")),
]


def callback_state(callback: keras.callbacks.Callback) -> dict[str, Any] | None:
    """What ``callback`` needs to continue after a resume, or None when it keeps nothing.

    Stock callbacks (early stopping, plateau, model checkpoint) are known; any other callback
    may define ``get_state()`` returning a mapping of plain values and NumPy arrays, and
    ``set_state(state)`` taking it back.
    """
    if callable(getattr(callback, "get_state", None)) and callable(getattr(callback, "set_state", None)):
        return dict(callback.get_state())
    for cls, names in _CALLBACK_STATE:
        if isinstance(callback, cls):
            return {name: getattr(callback, name) for name in names if hasattr(callback, name)}
    return None


def set_callback_state(callback: keras.callbacks.Callback, state: Mapping[str, Any]) -> None:
    """Put back what :func:`callback_state` took."""
    if callable(getattr(callback, "get_state", None)) and callable(getattr(callback, "set_state", None)):
        callback.set_state(dict(state))
        return
    for name, value in state.items():
        setattr(callback, name, value)


def split_arrays(value: Any, prefix: str, arrays: dict[str, np.ndarray]) -> Any:
    """``value`` as plain JSON, its NumPy arrays moved into ``arrays`` (under ``prefix``) and referenced."""
    if isinstance(value, np.ndarray):
        arrays[prefix] = value
        return {"__array__": prefix}
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple)):
        items = [split_arrays(v, f"{prefix}/{i}", arrays) for i, v in enumerate(value)]
        return items if isinstance(value, list) else {"__tuple__": items}
    if isinstance(value, Mapping):
        return {str(k): split_arrays(v, f"{prefix}/{k}", arrays) for k, v in value.items()}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if hasattr(value, "numpy"):  # a tensor or a Keras variable's value
        return split_arrays(np.asarray(value), prefix, arrays)
    raise TypeError(f"cannot keep a {type(value).__name__} in a checkpoint ({prefix})")


def join_arrays(value: Any, arrays: Mapping[str, np.ndarray]) -> Any:
    """The inverse of :func:`split_arrays`."""
    if isinstance(value, list):
        return [join_arrays(v, arrays) for v in value]
    if isinstance(value, dict):
        if set(value) == {"__array__"}:
            return arrays[value["__array__"]]
        if set(value) == {"__tuple__"}:
            return tuple(join_arrays(v, arrays) for v in value["__tuple__"])
        return {k: join_arrays(v, arrays) for k, v in value.items()}
    return value
