"""The live terminal display of a run: an epoch bar, and the latest metrics on the line below."""

from __future__ import annotations

import math
from collections.abc import Iterable

import keras
from rich.console import Console, RenderableType
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.text import Text

from trainlab.rundir import TRAIN_EVAL, display_order


def format_logs(logs: dict[str, float], keys: list[str] | None = None) -> str:
    """``loss 0.4123  val_loss 0.4410  lr 1.00e-03  grad_norm 0.5622`` for the keys present in ``logs``.

    By default: the loss, the metrics and their validation twins, the learning rate and the
    mean gradient norm; not the ``train_eval_`` twins nor ``grad_norm_max`` (the summary shows them).
    """
    keys = keys or [k for k in display_order(list(logs))
                    if k not in ("grad_norm_max", "learning_rate") and not k.startswith(TRAIN_EVAL)]
    parts = []
    for key in keys:
        if key not in logs:
            continue
        value = logs[key]
        text = f"{value:.2e}" if key in ("lr", "learning_rate") or (value and abs(value) < 1e-3) else f"{value:.4f}"
        parts.append(f"{key} {text}" if math.isfinite(value) else f"{key} {value}")
    return "  ".join(parts)


class _EpochProgress(Progress):
    """The bar on one line, the metrics on the next: a narrow terminal wraps them, never cuts them."""

    def get_renderables(self) -> Iterable[RenderableType]:
        yield self.make_tasks_table(self.tasks)
        for task in self.tasks:
            if task.fields.get("metrics"):
                yield Text(task.fields["metrics"])


class ProgressDisplay(keras.callbacks.Callback):
    """Shows training progress on the terminal (stderr).

    Args:
        verbose: 0 nothing, 1 a live epoch bar with the latest metrics below it (on a terminal;
            elsewhere, such as a log file, a line every tenth of the run), 2 one line per epoch.
        keys: which logs to show (default: loss, the metrics, their validation twins, lr, grad_norm).
        console: a rich Console (default: stderr).
    """

    def __init__(self, verbose: int = 1, keys: list[str] | None = None, console: Console | None = None):
        super().__init__()
        self.verbose = verbose
        self.keys = keys
        self.console = console or Console(stderr=True)
        self._progress: Progress | None = None

    def on_train_begin(self, logs=None):
        epochs = self.params.get("epochs") or 1
        self._every = 1 if self.verbose == 2 else max(1, epochs // 10)
        if self.verbose == 1 and self.console.is_terminal:
            self._progress = _EpochProgress(
                TextColumn("epoch"),
                MofNCompleteColumn(),
                BarColumn(),
                TimeElapsedColumn(),
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
        elif self.verbose and ((epoch + 1) % self._every == 0 or epoch == 0 or epoch + 1 == self.params.get("epochs")):
            self.console.print(f"epoch {epoch + 1}/{self.params.get('epochs')}  {text}", highlight=False, soft_wrap=True)

    def on_train_end(self, logs=None):
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
