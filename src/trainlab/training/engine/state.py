"""The engine's state: read out, written back, kept beside it (snapshot) and restarted.

What a checkpoint holds and a rollback returns to: every variable of a member that training
changes, read and written in flat arrays per dtype (one compiled call for all members).
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from trainlab.optimizers import learning_rate_scale
from trainlab.training.engine.held import Held
from trainlab.training.engine.program import Program


class EngineState:
    """The state part of :class:`~trainlab.training.engine.Engine` (its members, their epoch-start copies)."""

    def state_variables(self, k: int) -> list:
        """Every variable of member ``k`` that training changes: what a checkpoint must hold.

        The model's variables (weights, batch-norm statistics, dropout seed states), the
        optimizer's (iteration count, slots, a constant learning rate), the scale of a
        :class:`~trainlab.schedules.Scaled` schedule, the training metrics' totals, the
        weights at the start of the epoch (the update ratios measure from them), and the
        augmentation's variables (its random layers' seed states), when the member has one.
        """
        member = self.members[k]
        scale = learning_rate_scale(member.optimizer)
        candidates = [
            *member.model.variables, *member.optimizer.variables, *([scale] if scale is not None else []),
            *(v for metric in member.metrics for v in metric.variables), *self._epoch_start[k],
            *(member.augment.variables if member.augment is not None else ()),
        ]
        found, seen = [], set()
        for variable in candidates:
            if id(variable) not in seen:
                seen.add(id(variable))
                found.append(variable)
        return found

    def other_state(self, k: int) -> list:
        """Member ``k``'s float variables besides its trainable weights that training changes: the optimizer's
        (slots, a constant learning rate) and the model's non-trainable ones (batch-norm statistics)."""
        member = self.members[k]
        return [v for v in (*member.optimizer.variables, *member.model.non_trainable_variables)
                if tf.as_dtype(v.dtype).is_floating]

    def nonfinite_variables(self, k: int) -> list[tuple[str, str]]:
        """``(kind, where)`` for each of member ``k``'s weights and optimizer or model state that holds NaN or
        inf, and each weight so large that its squared norm overflows float32 (``where`` then says so).

        ``kind`` is ``weights``, ``optimizer state`` or ``model state``. Read eagerly: only called once
        the end-of-call norms (:class:`~trainlab.training.engine.EpochSteps`) have found something.
        """
        member = self.members[k]
        trainable = {id(v) for v in member.model.trainable_variables}
        optimizer = {id(v) for v in member.optimizer.variables}
        found = []
        for v in (*member.model.trainable_variables, *self.other_state(k)):
            values = np.asarray(value_of(v), dtype=np.float64)
            if np.isfinite(values).all():
                if id(v) not in trainable or np.sum(np.square(values)) <= np.finfo(np.float32).max:
                    continue
                where = f"{_path(v)}: its norm overflows"
            else:
                where = _path(v)
            kind = "weights" if id(v) in trainable else "optimizer state" if id(v) in optimizer else "model state"
            found.append((kind, where))
        return found

    def state_layout(self, k: int) -> list[tuple[str, str, tuple[int, ...]]]:
        """``(path, dtype, shape)`` of each of :meth:`state_variables`, in order."""
        return [(_path(v), _dtype(v), tuple(int(d) for d in v.shape)) for v in self._variables_of(k)]

    def read_state(self) -> list[dict[str, np.ndarray]]:
        """Every member's state variables, read in one compiled call: per member, one flat array per dtype.

        The layout (which variable sits where) is :meth:`state_layout`: variables of one dtype
        follow each other in that order.
        """
        if self._state_fn is None:
            self._variables_of(0)
            self._state_fn = Program(tf.function(self._read_state, autograph=False))
        return [{dtype: t.numpy() for dtype, t in flats.items()} for flats in self._state_fn()]

    def write_state(self, k: int, flats: dict[str, np.ndarray]) -> None:
        """Put back member ``k``'s variables from :meth:`read_state`'s arrays.

        Raises:
            ValueError: the arrays do not fit the variables (another model or optimizer).
        """
        variables = self._variables_of(k)
        offsets: dict[str, int] = {}
        sizes: dict[str, int] = {}
        for v in variables:
            sizes[_dtype(v)] = sizes.get(_dtype(v), 0) + int(np.prod(v.shape, dtype=np.int64))
        if sorted(sizes) != sorted(flats) or any(flats[d].size != n for d, n in sizes.items()):
            found = {d: int(a.size) for d, a in flats.items()}
            raise ValueError(f"the saved state ({found} values by dtype) does not fit this model ({sizes})")
        for v in variables:
            dtype, size = _dtype(v), int(np.prod(v.shape, dtype=np.int64))
            at = offsets.get(dtype, 0)
            v.assign(flats[dtype][at : at + size].reshape(tuple(v.shape)))
            offsets[dtype] = at + size

    def snapshot(self) -> None:
        """Keep a copy of every member's state beside it, for :meth:`restore`.

        The state a rollback returns to, kept without a copy to the host: one compiled call of
        in-memory copies, cheaper than reading the state out.
        The weights at the start of the epoch (the update ratios' copies) are not kept: an epoch's
        first call sets them from the weights it starts from, and nothing else during an epoch does,
        so a rollback to any point of the epoch finds them as they were.

        Not kept either, though it would be cheaper: the weights of a snapshot at an epoch's start, as
        those copies will hold them. A callback may change the weights in ``on_epoch_begin``, after the
        snapshot and before the copies are made.
        """
        if self._snapshot_fn is None:
            self._shadows = [
                [tf.Variable(value_of(v), trainable=False, name="snapshot") for v in self._kept(k)]
                for k in range(len(self.members))
            ]
            self._snapshot_fn = Program(tf.function(self._copy_to_shadows, autograph=False))
        self._snapshot_fn()

    def restore(self, k: int) -> None:
        """Put member ``k``'s state back as the last :meth:`snapshot` kept it."""
        if self._snapshot_fn is None:
            raise RuntimeError("restore() before any snapshot()")
        for variable, shadow in zip(self._kept(k), self._shadows[k]):
            variable.assign(shadow.read_value())

    def _kept(self, k: int) -> list:
        """Member ``k``'s state variables that a snapshot copies: all but the update ratios' copies."""
        starts = {id(v) for v in self._epoch_start[k]}
        return [v for v in self._variables_of(k) if id(v) not in starts]

    def _copy_to_shadows(self):
        for k, shadows in enumerate(self._shadows):
            for variable, shadow in zip(self._kept(k), shadows):
                shadow.assign(value_of(variable))

    def remember_fresh(self) -> None:
        """Keep, on the host, the rest of each member's state as it is now, before any training (optimizer slots,
        iteration count, learning rate, metric totals), for :meth:`restart`: an optimizer's fresh state does not
        depend on the model's weights. Only an engine that will train other runs after its own needs it.

        The members' hyper-parameters that can live in variables (a number learning rate, the dropout rates:
        :mod:`~trainlab.training.engine.held`) are held there from now on, so that runs which differ from these
        only there train in the programs this engine traces."""
        with self.strategy.scope():  # the held variables are the members' own, as their other variables
            self._held = [Held(member.model, member.optimizer) for member in self.members]
        self._fresh = []
        for k, member in enumerate(self.members):
            own = {id(v) for v in (*member.model.variables, *self._epoch_start[k])}
            self._fresh.append([(v, np.array(value_of(v))) for v in self.state_variables(k) if id(v) not in own])

    def restart(self, k: int, model: keras.Model, learning_rate: float | None = None) -> None:
        """Start member ``k`` anew from ``model``: its model's variables take ``model``'s values, the rest of
        its state (optimizer, learning-rate scale, training metrics) the values it had when this engine was built,
        and its held hyper-parameters ``model``'s dropout rates and ``learning_rate`` (a number; None: as built).

        This is how one traced program trains run after run: a study's next seed builds its model as a
        run of its own would (the same initial weights, batch-norm statistics and dropout seeds), and the
        engine that already traced the recipe trains it, its optimizer starting as any fresh one starts,
        with no new tracing and no optimizer or engine of the run's own (each costs time to build).

        Raises:
            RuntimeError: :meth:`remember_fresh` was not called before the engine first trained.
            ValueError: ``model``'s variables differ from the member's model's in number, dtype or shape.
        """
        if self._fresh is None:
            raise RuntimeError("restart() needs remember_fresh(), called before the engine first trained")
        mine, theirs = self.members[k].model.variables, model.variables
        if [(_dtype(v), tuple(v.shape)) for v in mine] != [(_dtype(v), tuple(v.shape)) for v in theirs]:
            raise ValueError("the members' models differ: their variables do not match")
        for target, value in zip(mine, theirs):
            target.assign(value_of(value))
        for target, value in zip(self._epoch_start[k], model.trainable_variables):
            target.assign(value_of(value))
        for target, value in self._fresh[k]:
            target.assign(value)
        self._held[k].assign(model, learning_rate)

    def _variables_of(self, k: int) -> list:
        if not hasattr(self, "_state_vars"):
            self._state_vars = [self.state_variables(i) for i in range(len(self.members))]
        return self._state_vars[k]

    def _read_state(self):
        out = []
        for variables in self._state_vars:
            groups: dict[str, list] = {}
            for v in variables:
                groups.setdefault(_dtype(v), []).append(tf.reshape(value_of(v), [-1]))
            out.append({dtype: tf.concat(values, 0) for dtype, values in groups.items()})
        return out


def value_of(variable) -> tf.Tensor:
    """A Keras or TensorFlow variable's current value."""
    return variable.value if isinstance(variable, keras.Variable) else variable.read_value()


def _dtype(variable) -> str:
    return tf.as_dtype(variable.dtype).name


def _path(variable) -> str:
    return getattr(variable, "path", None) or variable.name

