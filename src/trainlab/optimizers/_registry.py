"""The optimizer registry: every Keras optimizer by its snake_case name, and ``build``.

The recipe speaks ``clip_norm``/``global_clip_norm``/``clip_value`` and accepts a
schedule mapping for ``learning_rate``; the factories translate both to Keras.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Mapping
from typing import Any

import keras

from trainlab import schedules
from trainlab.errors import ArgumentError, TrainlabError
from trainlab.registry import Registry
from trainlab import checks
from trainlab.optimizers._momentum import cycle_momentum

Optimizer = keras.optimizers.Optimizer

registry: Registry[Optimizer] = Registry("optimizer", base=Optimizer, key="optimizer")

# Recipe name -> Keras argument. Keras accepts only one of the three.
_CLIPS = {"clip_norm": "clipnorm", "global_clip_norm": "global_clipnorm", "clip_value": "clipvalue"}

# Keras arguments the factories do not expose: the clips under their recipe names,
# and `name`, which in a spec is the registry name.
_HIDDEN = {"name", *_CLIPS.values()}

# Arguments that are fractions wherever Keras uses them.
_UNIT_INTERVAL = {"momentum", "ema_momentum", "beta_1", "beta_2"}

# Wrappers around other optimizers, not optimizers one can name in a recipe.
_NOT_NAMEABLE = {"Optimizer", "LossScaleOptimizer", "MultiOptimizer"}


def build(spec: Any, where: str = "optimizer", steps_per_epoch: int | None = None) -> Optimizer:
    """Build a Keras optimizer from a name, a mapping or an instance.

    Args:
        spec: ``"adam"``; ``{"name": "sgd", "learning_rate": 0.1, "momentum": 0.9,
            "global_clip_norm": 1.0}``; or an ``Optimizer``, returned unchanged.
            ``learning_rate`` is a number > 0, a schedule mapping (see
            :func:`trainlab.schedules.build`) or a Keras ``LearningRateSchedule``;
            a schedule is wrapped in :class:`trainlab.schedules.Scaled`.
        where: the recipe key path, for error messages.
        steps_per_epoch: steps per epoch, for a schedule with ``unit: epoch``.

    Returns:
        The optimizer.

    Raises:
        TrainlabError: unknown name or argument, a bad learning rate or clip
            (``optimizer.learning_rate: must be > 0, got -0.1``), two clips at once,
            or a value Keras rejects.

    Example:
        >>> opt = build({"name": "adamw", "learning_rate": {"name": "cosine",
        ...              "initial_learning_rate": 1e-3, "decay_steps": 1000}})
    """
    if isinstance(spec, Optimizer):
        return spec
    name, kwargs = registry.split(spec, where)
    if "learning_rate" in kwargs:
        # Resolve here, where the key path is known, so schedule errors name it.
        kwargs["learning_rate"] = learning_rate(kwargs["learning_rate"], f"{where}.learning_rate", steps_per_epoch)
    optimizer = registry.call(name, kwargs, where)
    cycle_momentum(optimizer)  # a one-cycle rate cycles the momentum too
    return optimizer


def learning_rate(
    spec: Any, where: str = "optimizer.learning_rate", steps_per_epoch: int | None = None
) -> float | schedules.Scaled:
    """Resolve a recipe's learning rate to what a Keras optimizer takes.

    Args:
        spec: a number > 0 (kept a plain float, so Keras' ``ReduceLROnPlateau`` and
            ``LearningRateScheduler`` can assign it), a schedule mapping or a
            ``LearningRateSchedule`` (wrapped in :class:`~trainlab.schedules.Scaled`,
            reused if it already is one).
        where: the recipe key path, for error messages.

    Returns:
        A float or a :class:`~trainlab.schedules.Scaled` schedule.

    Raises:
        TrainlabError: not a positive number, or a schedule spec that fails to build.

    Example:
        >>> learning_rate(1e-3)
        0.001
    """
    if isinstance(spec, (Mapping, keras.optimizers.schedules.LearningRateSchedule)):
        return schedules.as_scaled(schedules.build(spec, where, steps_per_epoch))
    if not checks.is_number(spec):
        raise TrainlabError(where, "must be a number > 0 or a schedule mapping with 'name'", spec)
    if not spec > 0:
        raise TrainlabError(where, "must be > 0", spec)
    # Keras rejects an int learning rate ("should be float").
    return float(spec)


def learning_rate_scale(optimizer: Optimizer) -> keras.Variable | None:
    """The scale variable of an optimizer whose learning rate is a ``Scaled`` schedule.

    Args:
        optimizer: a Keras optimizer.

    Returns:
        The ``keras.Variable`` to multiply to lower the rate, or ``None`` when the
        learning rate is a plain number (assign ``optimizer.learning_rate`` instead).

    Example:
        >>> scale = learning_rate_scale(opt)
        >>> scale.assign(scale * 0.5)
    """
    # Keras keeps the schedule object in a private attribute; this is its one reader.
    schedule = getattr(unwrap(optimizer), "_learning_rate", None)
    return schedule.scale if isinstance(schedule, schedules.Scaled) else None


def unwrap(optimizer: Optimizer) -> Optimizer:
    """The optimizer that updates the weights: the inner one of a ``LossScaleOptimizer``, else ``optimizer``.

    A ``LossScaleOptimizer`` (what ``model.compile`` wraps around the optimizer of a ``mixed_float16``
    model) forwards ``learning_rate`` and ``iterations`` to its inner optimizer; anything else of the
    recipe's optimizer (its schedule, momentum, betas) is the inner one's.

    Example:
        >>> unwrap(keras.optimizers.LossScaleOptimizer(keras.optimizers.SGD())).__class__.__name__
        'SGD'
    """
    return optimizer.inner_optimizer if isinstance(optimizer, keras.optimizers.LossScaleOptimizer) else optimizer


def loss_scale(optimizer: Optimizer) -> float | keras.Variable | None:
    """What a training step multiplies the loss by before the gradient, as Keras' ``fit`` does
    (``optimizer.scale_loss``): Keras' ``apply`` divides the gradients by the same factor.

    Args:
        optimizer: a built Keras optimizer.

    Returns:
        A ``LossScaleOptimizer``'s dynamic scale (a variable it halves on an overflow and doubles
        after ``dynamic_growth_steps`` finite steps), a static ``loss_scale_factor`` (a float), or
        None when the loss is not scaled.

    Example:
        >>> loss_scale(keras.optimizers.SGD(loss_scale_factor=1024.0))
        1024.0
    """
    if isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
        return optimizer.dynamic_scale
    return optimizer.loss_scale_factor


def _snake_case(class_name: str) -> str:
    """``ScheduleFreeAdamW`` -> ``schedule_free_adamw``; ``RMSprop`` -> ``rmsprop``."""
    return re.sub(r"(?<=[a-z])(?=[A-Z][a-z])", "_", class_name).lower()


def _construct(cls: type[Optimizer], kwargs: dict[str, Any]) -> Optimizer:
    if "learning_rate" in kwargs:
        kwargs["learning_rate"] = learning_rate(kwargs["learning_rate"])
    clips = {k: kwargs.pop(k) for k in list(kwargs) if k in _CLIPS and kwargs[k] is not None}
    for argument, value in clips.items():
        checks.positive(value, argument)
    if len(clips) > 1:
        first, second = list(clips)[:2]
        raise ArgumentError(
            second, f"cannot be combined with {first}: Keras clips gradients one way; set only one", clips[second]
        )
    return cls(**kwargs, **{_CLIPS[k]: v for k, v in clips.items()})


def _check_value(value: Any, default: Any, argument: str) -> None:
    """Keras checks few of its arguments: catch a string where a number belongs,
    and the common ranges, so the message names the key."""
    if isinstance(default, bool):
        checks.boolean(value, argument)
    elif checks.is_number(default) and argument != "learning_rate":
        checks.number(value, argument)
    if argument in _UNIT_INTERVAL:
        checks.between(value, argument, 0.0, 1.0)
    elif argument == "weight_decay" and value is not None:
        checks.non_negative(value, argument)


def _factory(cls: type[Optimizer], doc: str | None = None, **overrides: Any) -> Callable[..., Optimizer]:
    """A factory for ``cls`` whose signature lists its real arguments, so the
    registry can check a recipe's keys (Keras' own ``**kwargs`` would accept anything)."""
    params = [
        p.replace(kind=inspect.Parameter.KEYWORD_ONLY, default=overrides.get(p.name, p.default))
        for p in inspect.signature(cls).parameters.values()
        if p.name not in _HIDDEN and p.kind not in (inspect.Parameter.VAR_KEYWORD, inspect.Parameter.VAR_POSITIONAL)
    ]
    params += [inspect.Parameter(k, inspect.Parameter.KEYWORD_ONLY, default=None) for k in _CLIPS]

    defaults = {p.name: p.default for p in params}

    def factory(**kwargs: Any) -> Optimizer:
        for argument, value in kwargs.items():
            _check_value(value, defaults[argument], argument)
        return _construct(cls, {**overrides, **kwargs})

    factory.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    factory.__name__ = _snake_case(cls.__name__)
    factory.__doc__ = doc or f"Keras ``{cls.__name__}`` (see ``keras.optimizers.{cls.__name__}``)."
    return factory


def _keras_optimizers() -> dict[str, type[Optimizer]]:
    """Every concrete optimizer Keras exports, by snake_case name."""
    found = {}
    for attr in dir(keras.optimizers):
        cls = getattr(keras.optimizers, attr)
        if inspect.isclass(cls) and issubclass(cls, Optimizer) and attr not in _NOT_NAMEABLE:
            # A required argument (an inner optimizer, say) marks a wrapper.
            required = [
                p for p in inspect.signature(cls).parameters.values() if p.default is inspect.Parameter.empty
                and p.kind not in (inspect.Parameter.VAR_KEYWORD, inspect.Parameter.VAR_POSITIONAL)
            ]
            if not required:
                found[_snake_case(attr)] = cls
    return found


for _name, _cls in sorted(_keras_optimizers().items()):
    registry.register(_name, _factory(_cls))
registry.register(
    "momentum", _factory(keras.optimizers.SGD, doc="Keras ``SGD`` with ``momentum=0.9`` unless set.", momentum=0.9)
)
