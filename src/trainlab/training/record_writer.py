"""Where a run's records go: the CSV files of the run directory, and TensorBoard.

The trainer hands every record to :class:`RecordWriter` once; it writes the rows to
``history.csv``, ``steps.csv`` and ``layers.csv`` and, when enabled, the same values to
TensorBoard event files (``tensorboard/train`` and ``tensorboard/validation``, with
Keras' tag names: ``epoch_loss``, ``epoch_accuracy``, ...; per step ``batch_loss``,
``batch_grad_norm``, ``batch_lr``; per layer ``layer_grad_norm/<layer>``, ``layer_weight_norm/<layer>``,
...; histograms of weights and of gradients on a probe batch every ``histogram_freq`` epochs).
``weights.npz`` keeps each layer's kernel values after the first and the last epoch, for the
weight-histogram figures.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import keras
import numpy as np
from tensorboard.compat.proto import event_pb2, summary_pb2
from tensorboard.summary.writer.event_file_writer import EventFileWriter
from tensorboard.util import tensor_util

from trainlab import rundir
from trainlab.training.engine.member import variable_layers

STEP_COLUMNS = ["step", "epoch", "loss", "grad_norm", "lr"]
LAYER_COLUMNS = [
    "epoch", "layer", "grad_norm", "weight_norm", "weight_l1", "update_ratio", "dead_fraction", "saturated_fraction",
]
# events.csv: a non-finite loss or gradient met at ``step`` (the optimizer step the batch would have
# been), what was non-finite, the learning rate the step used, and what was done: ``rollback`` (with
# the share of the recipe's learning rate the rollbacks left, ``lr_scale``, and ``restored_step``,
# the step whose state was put back), ``stop`` or ``give_up``.
EVENT_COLUMNS = ["step", "epoch", "what", "lr", "action", "lr_scale", "restored_step"]
FLUSH_SECONDS = 3
WEIGHT_SAMPLES = 10_000  # kernel values kept per layer in weights.npz (evenly spaced when there are more)


class RecordWriter:
    """Writes a run's records as they come.

    Args:
        run_dir: the run directory.
        history_columns: the columns of ``history.csv``.
        tensorboard: write TensorBoard event files too.
        histogram_freq: weight histograms every N epochs (0: none); needs ``model``.
        step_scalars: per-step scalars in TensorBoard.
        model: the model whose weights the histograms show.
        keep: continue a run's records (resume): how many rows of each file to keep,
            ``{"history": n, "steps": n, "layers": n, "events": n}``; the rows after them, written
            after the checkpoint the run resumes from, are dropped. None: new files.

    Raises:
        ValueError: with ``keep``, a file is missing rows or has another header.
    """

    def __init__(
        self,
        run_dir: Path,
        history_columns: Sequence[str],
        tensorboard: bool = True,
        histogram_freq: int = 0,
        step_scalars: bool = True,
        model: keras.Model | None = None,
        keep: Mapping[str, int] | None = None,
    ) -> None:
        keep = dict(keep) if keep is not None else None
        count = (lambda name: keep.get(name, 0)) if keep is not None else (lambda name: None)  # noqa: E731
        self.history = rundir.CsvRecords(run_dir / rundir.HISTORY, history_columns, count("history"))
        self.steps = rundir.CsvRecords(run_dir / rundir.STEPS, STEP_COLUMNS, count("steps"))
        self.layers = rundir.CsvRecords(run_dir / rundir.LAYERS, LAYER_COLUMNS, count("layers"))
        self._events_path = run_dir / rundir.EVENTS
        self.events: rundir.CsvRecords | None = None  # created at the first event
        if keep is not None and count("events"):
            self.events = rundir.CsvRecords(self._events_path, EVENT_COLUMNS, count("events"))
        elif keep is not None:
            self._events_path.unlink(missing_ok=True)  # events of a stretch the resumed run replays
        # The rows written so far, kept for the diagnosis at the end of the run (no re-read of the files).
        # Blank cells of rows read back are left out, as in rows written by this process.
        present = lambda rows: [{k: v for k, v in r.items() if v is not None} for r in rows]  # noqa: E731
        self.history_rows: list[dict[str, Any]] = present(self.history.kept)
        self.step_rows: list[dict[str, Any]] = present(self.steps.kept)
        self.layer_rows: list[dict[str, Any]] = present(self.layers.kept)
        self.event_rows: list[dict[str, Any]] = present(self.events.kept) if self.events is not None else []
        self._board = _Board(run_dir / rundir.TENSORBOARD, histogram_freq, step_scalars, model) if tensorboard else None
        self._weights_path = run_dir / rundir.WEIGHTS
        self._kernels: dict[int, dict[str, np.ndarray]] = {}  # the first and the latest epoch
        self._pending: tuple[int, keras.Model] | None = None  # the latest epoch, its kernels not read yet

    def counts(self) -> dict[str, int]:
        """Rows written so far to each file (what a checkpoint keeps, to cut the files back on resume)."""
        return {"history": len(self.history_rows), "steps": len(self.step_rows), "layers": len(self.layer_rows),
                "events": len(self.event_rows)}

    def write_event(self, row: Mapping[str, Any]) -> None:
        """Record a non-finite value met and what was done (``events.csv``, created at the first event)."""
        if self.events is None:
            self.events = rundir.CsvRecords(self._events_path, EVENT_COLUMNS)
        self.events.write([row])
        self.event_rows.append(dict(row))

    @property
    def kernels(self) -> dict[int, dict[str, np.ndarray]]:
        """The kernel samples kept for ``weights.npz``: ``{epoch: {layer: values}}`` (first and latest epoch)."""
        self.settle()
        return self._kernels

    @kernels.setter
    def kernels(self, value: Mapping[int, Mapping[str, np.ndarray]]) -> None:
        self._pending = None
        self._kernels = {int(e): dict(ks) for e, ks in value.items()}

    def write_epoch(
        self, row: Mapping[str, Any], steps: Mapping[str, np.ndarray], first_step: int, layers: list[dict[str, Any]]
    ) -> None:
        """Record one epoch: its history row, its steps (arrays ``loss``, ``grad_norm``, ``lr``), its layers."""
        epoch = int(row["epoch"])
        step_rows = [
            {"step": first_step + i, "epoch": epoch, "loss": float(steps["loss"][i]),
             "grad_norm": float(steps["grad_norm"][i]), "lr": float(steps["lr"][i])}
            for i in range(len(steps["loss"]))
        ]
        self.history.write([row])
        self.steps.write(step_rows)
        self.layers.write(layers)
        self.history_rows.append(dict(row))
        self.step_rows.extend(step_rows)
        self.layer_rows.extend(layers)
        if self._board is not None:
            self._board.write_epoch(row, steps, first_step, layers)

    def write_weights(
        self, epoch: int, model: keras.Model, gradients: Callable[[], Mapping[str, np.ndarray]] | None = None
    ) -> None:
        """Keep the kernels of ``epoch`` (for weights.npz); TensorBoard histograms when due.

        The first epoch's kernels are read now; a later epoch's only when they are needed
        (:attr:`kernels`, :meth:`settle`, :meth:`close`), since the next epoch usually replaces
        them: reading every kernel every epoch costs a fused study time on every run and epoch.
        ``gradients()`` gives each variable's gradient by path, for the gradient histograms
        (called only on the epochs that write histograms).
        """
        self._pending = (epoch, model)
        if not self._kernels:
            self.settle()
        if self._board is not None and gradients is not None:
            self._board.write_histograms(epoch, gradients)

    def settle(self) -> None:
        """Read the latest epoch's kernels now, before anything changes the weights (restoring the best epoch's)."""
        if self._pending is None:
            return
        epoch, model = self._pending
        self._pending = None
        # One entry per layer, as layers.csv names them: a layer with several kernels (attention's
        # projections) keeps a sample of all of them.
        grouped: dict[str, list[np.ndarray]] = {}
        for v, layer in zip(model.trainable_variables, variable_layers(model)):
            if v.path.endswith("/kernel"):
                grouped.setdefault(layer, []).append(np.ravel(keras.ops.convert_to_numpy(v)))
        kernels = {layer: _sample(np.concatenate(parts)) for layer, parts in grouped.items()}
        if not self._kernels:
            self._kernels[epoch] = kernels
        else:
            first = min(self._kernels)
            self._kernels = {first: self._kernels[first], epoch: kernels}

    def close(self) -> None:
        self.settle()
        for records in (self.history, self.steps, self.layers, self.events):
            if records is not None:
                records.close()
        if self._board is not None:
            self._board.close()
        if self._kernels:
            arrays = {f"{layer}/epoch_{epoch}": values for epoch, ks in self._kernels.items() for layer, values in ks.items()}
            rundir.write_npz(self._weights_path, arrays)


class _Board:
    """TensorBoard event files, written as plain protobuf events.

    Scalars and histograms are written with TensorBoard's own pure-Python event writer, which
    costs about 20 us per scalar and needs no graph tracing; ``tf.summary`` would cost a trace per
    set of names, or an eager op per value, each as much as a training step.
    """

    def __init__(self, log_dir: Path, histogram_freq: int, step_scalars: bool, model: keras.Model | None) -> None:
        self.train = EventFileWriter(str(log_dir / "train"), flush_secs=FLUSH_SECONDS)
        self.val = EventFileWriter(str(log_dir / "validation"), flush_secs=FLUSH_SECONDS)
        self.histogram_freq = histogram_freq
        self.step_scalars = step_scalars
        self.model = model
        # Scalars are turned into events on a worker thread: it runs while the training thread
        # waits in TensorFlow's runtime (which releases the GIL), so the events cost no wall time.
        self._queue: queue.Queue = queue.Queue()
        self._worker = threading.Thread(target=self._drain, name="trainlab-tensorboard", daemon=True)
        self._worker.start()

    def write_epoch(self, row, steps, first_step, layers) -> None:
        self._queue.put((dict(row), {k: np.array(v) for k, v in steps.items()}, first_step, list(layers)))

    def write_histograms(self, epoch: int, gradients: Callable[[], Mapping[str, np.ndarray]]) -> None:
        """Weights (as Keras' TensorBoard names them) and gradients on the probe batch, every histogram_freq epochs."""
        if not (self.histogram_freq and self.model is not None and epoch % self.histogram_freq == 0):
            return
        values = [histogram_value(variable.path, keras.ops.convert_to_numpy(variable)) for variable in self.model.weights]
        values += [histogram_value(f"gradients/{path}", gradient) for path, gradient in gradients().items()]
        self.train.add_event(event_pb2.Event(step=int(epoch), wall_time=time.time(),
                                             summary=summary_pb2.Summary(value=values)))

    def _drain(self) -> None:
        while (item := self._queue.get()) is not None:
            self._write_scalars(*item)

    def _write_scalars(self, row, steps, first_step, layers) -> None:
        epoch = int(row["epoch"])
        train = {f"epoch_{k}": v for k, v in row.items() if not k.startswith("val_") and k != "epoch"}
        val = {f"epoch_{k[4:]}": v for k, v in row.items() if k.startswith("val_") and v is not None}
        # A layer without weights (a conv block's own activation) has a dead fraction and no norms.
        for name in LAYER_COLUMNS[2:]:
            train.update({f"layer_{name}/{r['layer']}": r[name] for r in layers if r.get(name) is not None})
        _add(self.train, epoch, train)
        _add(self.val, epoch, val)
        if self.step_scalars:
            for i in range(len(steps["loss"])):
                _add(self.train, first_step + i, {
                    "batch_loss": steps["loss"][i], "batch_grad_norm": steps["grad_norm"][i], "batch_lr": steps["lr"][i],
                })

    def close(self) -> None:
        self._queue.put(None)
        self._worker.join()
        self.train.close()
        self.val.close()


def _sample(values: np.ndarray) -> np.ndarray:
    flat = np.asarray(values, dtype=np.float32).ravel()
    if flat.size <= WEIGHT_SAMPLES:
        return flat
    return flat[np.linspace(0, flat.size - 1, WEIGHT_SAMPLES).astype(np.int64)]


def _add(writer: EventFileWriter, step: int, values: Mapping[str, Any]) -> None:
    if not values:
        return
    summary = summary_pb2.Summary(
        value=[summary_pb2.Summary.Value(tag=tag, simple_value=float(v)) for tag, v in values.items()]
    )
    writer.add_event(event_pb2.Event(step=int(step), wall_time=time.time(), summary=summary))


_HISTOGRAM = None  # TensorBoard's histogram plugin metadata, made once


def histogram_value(tag: str, values: np.ndarray, count: int = 30) -> summary_pb2.Summary.Value:
    """What ``tf.summary.histogram(tag, values)`` records, as a summary value, its buckets counted in NumPy.

    The same record, bucket for bucket (TensorBoard's own algorithm, in float64: ``count`` equal
    buckets from the minimum to the maximum, the maximum in the last; a single value fills the
    last bucket), without the ~20 eager TensorFlow ops TensorBoard spends per histogram, nor the
    eager write op that ``tf.summary.write`` costs per value: an epoch's histograms go out as one event.
    """
    global _HISTOGRAM
    if _HISTOGRAM is None:
        from tensorboard.plugins.histogram import metadata

        _HISTOGRAM = metadata.create_summary_metadata(display_name=None, description=None)
    return summary_pb2.Summary.Value(tag=tag, metadata=_HISTOGRAM,
                                     tensor=tensor_util.make_tensor_proto(histogram_buckets(values, count)))


def histogram_buckets(values: np.ndarray, count: int = 30) -> np.ndarray:
    """TensorBoard's histogram buckets of ``values``: ``[count, 3]`` rows of (left edge, right edge, count)."""
    data = np.asarray(values, np.float64).reshape(-1)
    if data.size == 0:
        return np.zeros((count, 3))
    low, high = data.min(), data.max()
    if high - low == 0:
        counts = np.zeros(count)
        counts[-1] = data.size
        return np.stack([np.full(count, high), np.full(count, high), counts], axis=1)
    width = (high - low) / count
    index = np.minimum(np.floor((data - low) / width).astype(np.int64), count - 1)
    edges = np.linspace(low, high, count + 1)
    edges[-1] = high
    return np.stack([edges[:-1], edges[1:], np.bincount(index, minlength=count).astype(np.float64)], axis=1)
