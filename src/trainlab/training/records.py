"""Where a run's records go: the CSV files of the run directory, and TensorBoard.

The trainer hands every record to :class:`Records` once; it writes the rows to
``history.csv``, ``steps.csv`` and ``layers.csv`` and, when enabled, the same values to
TensorBoard event files (``tensorboard/train`` and ``tensorboard/validation``, with
Keras' tag names: ``epoch_loss``, ``epoch_accuracy``, ...; per step ``batch_loss``,
``batch_grad_norm``, ``batch_lr``). TensorBoard scalars are written by small compiled
functions, one call per epoch, because one eager ``tf.summary.scalar`` costs about as
much as a whole training step of a small model.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf
from tensorboard.plugins.scalar import metadata as scalar_metadata

from trainlab.training import rundir

STEP_COLUMNS = ["step", "epoch", "loss", "grad_norm", "lr"]
LAYER_COLUMNS = ["epoch", "layer", "grad_norm", "weight_norm"]


class Records:
    """Writes a run's records as they come.

    Args:
        run_dir: the run directory.
        history_columns: the columns of ``history.csv``.
        tensorboard: write TensorBoard event files too.
        histogram_freq: weight histograms every N epochs (0: none); needs ``model``.
        step_scalars: per-step scalars in TensorBoard.
        model: the model whose weights the histograms show.
    """

    def __init__(
        self,
        run_dir: Path,
        history_columns: Sequence[str],
        tensorboard: bool = True,
        histogram_freq: int = 0,
        step_scalars: bool = True,
        model: keras.Model | None = None,
    ) -> None:
        self.history = rundir.CsvRecords(run_dir / rundir.HISTORY, history_columns)
        self.steps = rundir.CsvRecords(run_dir / rundir.STEPS, STEP_COLUMNS)
        self.layers = rundir.CsvRecords(run_dir / rundir.LAYERS, LAYER_COLUMNS)
        self._board = _Board(run_dir / rundir.TENSORBOARD, histogram_freq, step_scalars, model) if tensorboard else None

    def write_epoch(
        self, row: Mapping[str, Any], steps: Mapping[str, np.ndarray], first_step: int, layers: list[dict[str, Any]]
    ) -> None:
        """Record one epoch: its history row, its steps (arrays ``loss``, ``grad_norm``, ``lr``), its layers."""
        epoch = int(row["epoch"])
        self.history.write([row])
        self.steps.write(
            {"step": first_step + i, "epoch": epoch, "loss": float(steps["loss"][i]),
             "grad_norm": float(steps["grad_norm"][i]), "lr": float(steps["lr"][i])}
            for i in range(len(steps["loss"]))
        )
        self.layers.write(layers)
        if self._board is not None:
            self._board.write_epoch(row, steps, first_step, layers)

    def close(self) -> None:
        for records in (self.history, self.steps, self.layers):
            records.close()
        if self._board is not None:
            self._board.close()


class _Board:
    """TensorBoard event files, written in graph mode (one call per epoch)."""

    def __init__(self, log_dir: Path, histogram_freq: int, step_scalars: bool, model: keras.Model | None) -> None:
        self.train = tf.summary.create_file_writer(str(log_dir / "train"))
        self.val = tf.summary.create_file_writer(str(log_dir / "validation"))
        self.histogram_freq = histogram_freq
        self.step_scalars = step_scalars
        self.model = model
        self._scalar_fns: dict[tuple[str, ...], Any] = {}
        self._steps_fn = tf.function(self._write_steps, reduce_retracing=True)

    def write_epoch(self, row, steps, first_step, layers) -> None:
        epoch = int(row["epoch"])
        train = {f"epoch_{k}": v for k, v in row.items() if not k.startswith("val_") and k != "epoch"}
        val = {f"epoch_{k[4:]}": v for k, v in row.items() if k.startswith("val_") and v is not None}
        train.update({f"layer_grad_norm/{r['layer']}": r["grad_norm"] for r in layers})
        train.update({f"layer_weight_norm/{r['layer']}": r["weight_norm"] for r in layers})
        for writer, values in ((self.train, train), (self.val, val)):
            if values:
                with writer.as_default():
                    self._scalars(tuple(values))(
                        tf.constant([float(v) for v in values.values()], tf.float32), tf.constant(epoch, tf.int64)
                    )
        if self.step_scalars and len(steps["loss"]):
            with self.train.as_default():
                self._steps_fn(
                    *(tf.constant(np.asarray(steps[k], np.float32)) for k in ("loss", "grad_norm", "lr")),
                    tf.constant(first_step, tf.int64),
                )
        if self.histogram_freq and self.model is not None and epoch % self.histogram_freq == 0:
            with self.train.as_default():
                for variable in self.model.weights:
                    tf.summary.histogram(variable.path, keras.ops.convert_to_numpy(variable), step=epoch)
        self.train.flush()
        self.val.flush()

    def _scalars(self, names: tuple[str, ...]):
        if names not in self._scalar_fns:

            @tf.function
            def write(values, step):
                for i, name in enumerate(names):
                    tf.summary.scalar(name, values[i], step=step)

            self._scalar_fns[names] = write
        return self._scalar_fns[names]

    @staticmethod
    def _write_steps(loss, grad_norm, lr, first_step):
        # tf.summary.write keeps the tag as given (tf.summary.scalar would prefix the loop's
        # name scope, "while/"); the metadata marks the values as scalars for TensorBoard.
        metadata = scalar_metadata.create_summary_metadata(display_name=None, description=None)
        for i in tf.range(tf.shape(loss)[0]):
            step = first_step + tf.cast(i, tf.int64)
            tf.summary.write("batch_loss", loss[i], step=step, metadata=metadata)
            tf.summary.write("batch_grad_norm", grad_norm[i], step=step, metadata=metadata)
            tf.summary.write("batch_lr", lr[i], step=step, metadata=metadata)

    def close(self) -> None:
        self.train.close()
        self.val.close()
