"""The live terminal display of a run: an epoch bar with the latest metrics."""

from __future__ import annotations

import math

import keras
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn


def format_logs(logs: dict[str, float], keys: list[str] | None = None) -> str:
    """``loss 0.4123  val_loss 0.4410  lr 1.0e-03`` for the keys present in ``logs``."""
    keys = keys or [k for k in logs if not k.endswith("_time_s")]
    parts = []
    for key in keys:
        if key not in logs:
            continue
        value = logs[key]
        text = f"{value:.2e}" if key in ("lr", "learning_rate") or (value and abs(value) < 1e-3) else f"{value:.4f}"
        parts.append(f"{key} {text}" if math.isfinite(value) else f"{key} {value}")
    return "  ".join(parts)


class ProgressDisplay(keras.callbacks.Callback):
    """Shows training progress on the terminal (stderr).

    Args:
        verbose: 0 nothing, 1 a live epoch bar with the latest metrics, 2 one line per epoch.
        keys: which logs to show (default: loss, the metrics, their validation twins, lr).
        console: a rich Console (default: stderr).
    """

    def __init__(self, verbose: int = 1, keys: list[str] | None = None, console: Console | None = None):
        super().__init__()
        self.verbose = verbose
        self.keys = keys
        self.console = console or Console(stderr=True)
        self._progress: Progress | None = None

    def on_train_begin(self, logs=None):
        if self.verbose == 1:
            self._progress = Progress(
                TextColumn("epoch"),
                MofNCompleteColumn(),
                BarColumn(),
                TimeElapsedColumn(),
                TextColumn("{task.fields[metrics]}"),
                console=self.console,
                transient=False,
            )
            self._progress.start()
            self._task = self._progress.add_task(
                "train", total=self.params.get("epochs"), completed=self.params.get("initial_epoch", 0), metrics=""
            )

    def on_epoch_end(self, epoch, logs=None):
        text = format_logs(logs or {}, self.keys)
        if self._progress is not None:
            self._progress.update(self._task, completed=epoch + 1, metrics=text)
        elif self.verbose == 2:
            self.console.print(f"epoch {epoch + 1}/{self.params.get('epochs')}  {text}", highlight=False)

    def on_train_end(self, logs=None):
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
