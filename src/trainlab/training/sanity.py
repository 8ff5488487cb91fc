"""Sanity modes: a fast dev run, batch limits, and overfitting a few fixed batches.

Lightning's ``fast_dev_run``, ``limit_train_batches``/``limit_val_batches`` and ``overfit_batches``,
as recipe keys of ``training``:

- ``fast_dev_run: true`` resolves (:func:`resolve`, written back into the run's ``recipe.yaml``) to one
  epoch of :data:`FAST_DEV_BATCHES` training and validation batches (the test split and the
  train-eval sample likewise cut), through every code path a real run takes.
- ``limit_train_batches``: each epoch trains on the first N batches of its (shuffled) order; a
  fraction f takes ``max(1, floor(f x batches))``. Schedules count these steps: ``unit: epoch``
  and the steps per epoch of the callbacks are the limited ones.
- ``limit_val_batches``: validation reads the first N batches (of the evaluation batch size) of the
  validation split, in order; a fraction likewise.
- ``overfit_batches: N``: the training split is its first ``N x batch_size`` samples (trainlab's
  splits are drawn at random, so these are a random sample), trained unshuffled, the same N batches
  every epoch, and validated on too (in inference mode): a model that cannot drive that loss near
  zero has a bug (the diagnosis rule ``cannot_overfit``).

Everything here changes what the data holds before the engine sees it, and how many steps an epoch
has; the engine and the loop run as in any run.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from trainlab import data as tl_data
from trainlab.config import Recipe
from trainlab.errors import TrainlabError
from trainlab.training.engine import steps_per_epoch

FAST_DEV_BATCHES = 2  # training and validation batches of a fast dev run


def resolve(recipe: Recipe) -> Recipe:
    """The recipe with ``training.fast_dev_run`` spelled out: one epoch, 2 training and 2 validation batches,
    a train-eval sample of at most 2 batches and the profiler (if asked for) on that epoch.

    Example:
        >>> resolve(recipe).training.epochs if recipe.training.fast_dev_run else None
        1
    """
    training = recipe.training
    if not training.fast_dev_run:
        return recipe
    update: dict[str, Any] = {
        "epochs": 1, "limit_train_batches": FAST_DEV_BATCHES, "limit_val_batches": FAST_DEV_BATCHES,
        "train_eval_samples": min(training.train_eval_samples, FAST_DEV_BATCHES * training.batch_size),
    }
    if training.overfit_batches is not None:  # overfitting's own fixed batches, fewer of them
        update.update(overfit_batches=min(training.overfit_batches, FAST_DEV_BATCHES), limit_train_batches=None,
                      limit_val_batches=None)
    if training.profile is not None:
        update["profile"] = training.profile.model_copy(update={"epoch": 1})
    return recipe.model_copy(update={"training": training.model_copy(update=update)})


def count(limit: int | float | None, available: int) -> int:
    """How many of ``available`` batches a limit takes: a count (at most all of them) or a fraction
    (``floor(f x available)``, at least one).

    Example:
        >>> count(0.25, 10), count(3, 10), count(None, 10)
        (2, 3, 10)
    """
    if limit is None:
        return available
    if isinstance(limit, float):
        return min(available, max(1, math.floor(limit * available)))
    return min(int(limit), available)


def eval_batch_size(training: Any) -> int:
    """Samples per evaluation batch: ``training.eval_batch_size``, else ``max(1024, batch_size)`` (as the engine
    evaluates)."""
    return int(training.eval_batch_size or max(1024, training.batch_size))


def restrict(data: Any, training: Any) -> Any:
    """The data the run trains, validates and tests on under the sanity keys (the same object when none is set).

    ``overfit_batches``: the training split cut to its first ``N x batch_size`` samples (N batches of a batched
    stream), which the validation split becomes too. ``limit_val_batches``: the validation split cut to its
    first batches. A fast dev run cuts the test split as it cuts the validation split.

    Raises:
        TrainlabError: a fraction of the batches of a stream whose length is unknown.
    """
    changes: dict[str, Any] = {}
    streamed = isinstance(data, tl_data.Streams)
    if training.overfit_batches is not None:
        if streamed:
            n = training.overfit_batches * (1 if data.batched else training.batch_size)
            fixed = data.train.take(n).cache()  # the same elements every epoch, read once
            changes.update(train=fixed, val=fixed)
        else:
            n = training.overfit_batches * training.batch_size
            changes.update(x_train=data.x_train[:n], y_train=data.y_train[:n],
                           w_train=None if data.w_train is None else data.w_train[:n])
            changes.update(x_val=changes["x_train"], y_val=changes["y_train"], w_val=changes["w_train"])
    else:
        changes.update(_cut(data, "val", training.limit_val_batches, training, "training.limit_val_batches"))
    if training.fast_dev_run:
        changes.update(_cut(data, "test", FAST_DEV_BATCHES, training, "training.fast_dev_run"))
    return dataclasses.replace(data, **changes) if changes else data


def _cut(data: Any, split: str, limit: int | float | None, training: Any, key: str) -> dict[str, Any]:
    """The first batches of an evaluation split that ``limit`` keeps, as the changes to ``data``."""
    if limit is None:
        return {}
    size = eval_batch_size(training)
    if isinstance(data, tl_data.Streams):
        ds = getattr(data, split)
        if ds is None:
            return {}
        per = 1 if data.batched else size
        if isinstance(limit, float):
            n = int(ds.cardinality())
            if n < 0:
                raise TrainlabError(key, f"a fraction needs data of known length (this {split} stream's length is"
                                    " unknown); give a count of batches", limit)
            return {split: ds.take(count(limit, math.ceil(n / per)) * per)}
        return {split: ds.take(int(limit) * per)}
    x = getattr(data, f"x_{split}")
    if x is None or not len(x):
        return {}
    n = count(limit, math.ceil(len(x) / size)) * size
    w = getattr(data, f"w_{split}")
    return {f"x_{split}": x[:n], f"y_{split}": getattr(data, f"y_{split}")[:n],
            f"w_{split}": None if w is None else w[:n]}


def train_steps(training: Any, available: int | None) -> int | None:
    """Optimizer steps per epoch under ``limit_train_batches`` (``available``: the epoch's batches; None for a
    stream of unknown length, which a count still limits).

    Raises:
        TrainlabError: a fraction of the batches of a stream whose length is unknown.
    """
    limit = training.limit_train_batches
    if training.overfit_batches is not None or limit is None:
        return available
    if available is None:
        if isinstance(limit, float):
            raise TrainlabError("training.limit_train_batches", "a fraction needs data of known length (this"
                                " stream's length is unknown); give a count of batches", limit)
        return int(limit)  # at most: a shorter stream ends its epoch sooner
    return count(limit, available)


def epoch_steps(training: Any, n_samples: int) -> int:
    """Optimizer steps per epoch of an in-memory training split of ``n_samples``, under the sanity keys (what
    ``trainlab schedules plot --recipe`` counts; a run asks its :class:`~trainlab.training.trainer.Trainer`)."""
    if training.overfit_batches is not None:
        n_samples = min(n_samples, training.overfit_batches * training.batch_size)
    return train_steps(training, steps_per_epoch(n_samples, training.batch_size, training.accumulate_grad_batches))


def shuffled(training: Any) -> bool:
    """Whether each epoch shuffles the training batches (overfitting trains on fixed batches, in order)."""
    return bool(training.shuffle) and training.overfit_batches is None


def describe(training: Any, steps: int | None, available: int | None) -> dict[str, Any] | None:
    """``summary.json``'s ``sanity``: the sanity keys in effect and the batches they left (None when none is set).

    Args:
        training: the resolved ``training`` section.
        steps: training batches per epoch as run.
        available: training batches per epoch of the whole training split (None: unknown).
    """
    keys = ("fast_dev_run", "limit_train_batches", "limit_val_batches", "overfit_batches")
    if not any(getattr(training, k) for k in keys):
        return None
    found = {k: getattr(training, k) for k in keys if getattr(training, k)}
    found["train_batches"] = steps
    if available is not None and training.overfit_batches is None:
        found["train_batches_available"] = available
    return found
