"""Keras' stock callbacks by name, for a recipe's ``training.callbacks`` list.

File arguments (``filepath``, ``filename``, ``log_dir``, ``backup_dir``) are relative to
the run directory, so a recipe stays portable.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import keras

from trainlab.callbacks._plateau import ReduceLROnPlateau
from trainlab.registry import Registry

registry: Registry[keras.callbacks.Callback] = Registry(
    "callback", base=keras.callbacks.Callback, key="training.callbacks"
)

_FILE_ARGS = ("filepath", "filename", "log_dir", "backup_dir")
_DEFAULT_FILES = {
    "model_checkpoint": {"filepath": "checkpoints/best.keras"},
    "csv_logger": {"filename": "keras_log.csv"},
    "tensorboard": {"log_dir": "keras_tensorboard"},  # trainlab's own events go to tensorboard/
    "backup_and_restore": {"backup_dir": "backup"},
}

registry.register("early_stopping", keras.callbacks.EarlyStopping)
registry.register("reduce_lr_on_plateau", ReduceLROnPlateau, aliases=["plateau"])
registry.register("model_checkpoint", keras.callbacks.ModelCheckpoint, aliases=["checkpoint"])
registry.register("csv_logger", keras.callbacks.CSVLogger)
registry.register("tensorboard", keras.callbacks.TensorBoard)
registry.register("terminate_on_nan", keras.callbacks.TerminateOnNaN)
registry.register("backup_and_restore", keras.callbacks.BackupAndRestore)
registry.register("swap_ema_weights", keras.callbacks.SwapEMAWeights)


def build(spec: Any, run_dir: str | Path | None = None, where: str = "training.callbacks") -> keras.callbacks.Callback:
    """Build a stock callback from a name or ``{name: ..., **kwargs}``; paths resolve in ``run_dir``.

    Example:
        >>> build({"name": "model_checkpoint", "monitor": "val_accuracy", "save_best_only": True}, "runs/x")
    """
    if isinstance(spec, keras.callbacks.Callback):
        return spec
    name, kwargs = registry.split(spec, where)
    kwargs = {**_DEFAULT_FILES.get(name, {}), **kwargs}
    if run_dir is not None:
        for key in _FILE_ARGS:
            if key in kwargs and not Path(kwargs[key]).is_absolute():
                kwargs[key] = str(Path(run_dir) / kwargs[key])
                Path(kwargs[key]).parent.mkdir(parents=True, exist_ok=True)
    return registry.build({"name": name, **kwargs}, where)
