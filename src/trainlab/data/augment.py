"""Data augmentation: Keras' random preprocessing layers, named in ``data.augment``.

A recipe lists augmentations in order; each is a name or a mapping with ``name`` and
the layer's arguments::

    data:
      source: image_folder
      path: flowers
      augment:
        - random_flip                            # mode: horizontal_and_vertical
        - {name: random_rotation, factor: 0.1}   # up to +-10% of a full turn
        - {name: random_contrast, factor: 0.2}

:func:`check` reads such a list when a recipe is parsed (names, argument names and
values; no Keras is loaded); :func:`build` makes the ``keras.Sequential`` once the
data's shape is known. The image layers (every name but ``gaussian_noise`` and
``gaussian_dropout``) need images, ``(N, height, width, channels)``.

Each layer draws from its own seed, derived from the run's seed and its position, so
two runs with the same seed augment identically. Keras keeps a random layer's stream
in a ``SeedGenerator`` state variable, one of the Sequential's ``non_trainable_variables``:
saving and restoring those variables with a checkpoint resumes the same stream.
Call the Sequential with ``training=True`` (the noise layers do nothing otherwise).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from trainlab.errors import ArgumentError, TrainlabError
from trainlab.registry import Registry

_FILL_MODES = ("reflect", "wrap", "constant", "nearest")
_INTERPOLATIONS = ("nearest", "bilinear")
_FLIP_MODES = ("horizontal", "vertical", "horizontal_and_vertical")


@dataclass(frozen=True)
class Augmentation:
    """One checked augmentation: the Keras layer it makes and that layer's arguments.

    Attributes:
        name: the registered name (``random_flip``).
        layer: the class in ``keras.layers`` (``RandomFlip``).
        arguments: the layer's keyword arguments, checked (the seed comes at :meth:`layer`).
        images_only: True when the layer needs images ``(N, height, width, channels)``.
        xla: False when XLA cannot compile the layer (``training.jit_compile``): TensorFlow
            has no XLA kernel for the image transform of rotation, translation and zoom.
    """

    name: str
    layer: str
    arguments: dict[str, Any] = field(default_factory=dict)
    images_only: bool = True
    xla: bool = True

    def make(self, seed: int, layer_name: str | None = None) -> Any:
        """The Keras layer, drawing from ``seed``."""
        import keras  # noqa: PLC0415 (Keras loads when a model is built, not when a recipe is read)

        return getattr(keras.layers, self.layer)(**self.arguments, seed=seed, name=layer_name)


#: The augmentations by name; ``data.augment`` lists them.
augmentations: Registry[Augmentation] = Registry("augmentation", base=Augmentation, key="data.augment")


def names() -> list[str]:
    """The registered augmentation names, sorted (``trainlab list augmentations``)."""
    return augmentations.names()


# -- the registered augmentations ---------------------------------------------------------
@augmentations.register("random_flip")
def random_flip(mode: str = "horizontal_and_vertical") -> Augmentation:
    """Flip each image left-right and/or up-down at random (``keras.layers.RandomFlip``)."""
    _one_of("mode", mode, _FLIP_MODES)
    return Augmentation("random_flip", "RandomFlip", {"mode": mode, "data_format": "channels_last"})


@augmentations.register("random_rotation")
def random_rotation(
    factor: float | Sequence[float],
    fill_mode: str = "reflect",
    interpolation: str = "bilinear",
    fill_value: float = 0.0,
) -> Augmentation:
    """Rotate by a random fraction of a full turn in ``[-factor, factor]`` or ``[low, high]``."""
    arguments = {"factor": _range("factor", factor, -1.0, 1.0), **_fill(fill_mode, interpolation, fill_value)}
    return Augmentation("random_rotation", "RandomRotation", arguments, xla=False)


@augmentations.register("random_translation")
def random_translation(
    height_factor: float | Sequence[float],
    width_factor: float | Sequence[float],
    fill_mode: str = "reflect",
    interpolation: str = "bilinear",
    fill_value: float = 0.0,
) -> Augmentation:
    """Shift by random fractions of the height and width (``keras.layers.RandomTranslation``)."""
    arguments = {
        "height_factor": _range("height_factor", height_factor, -1.0, 1.0),
        "width_factor": _range("width_factor", width_factor, -1.0, 1.0),
        **_fill(fill_mode, interpolation, fill_value),
    }
    return Augmentation("random_translation", "RandomTranslation", arguments, xla=False)


@augmentations.register("random_zoom")
def random_zoom(
    height_factor: float | Sequence[float],
    width_factor: float | Sequence[float] | None = None,
    fill_mode: str = "reflect",
    interpolation: str = "bilinear",
    fill_value: float = 0.0,
) -> Augmentation:
    """Zoom by random fractions (negative: in, positive: out); no ``width_factor`` keeps the aspect ratio."""
    arguments = {
        "height_factor": _range("height_factor", height_factor, -1.0, 1.0, low_open=True),
        "width_factor": (
            None if width_factor is None else _range("width_factor", width_factor, -1.0, 1.0, low_open=True)
        ),
        **_fill(fill_mode, interpolation, fill_value),
    }
    return Augmentation("random_zoom", "RandomZoom", arguments, xla=False)


@augmentations.register("random_contrast")
def random_contrast(factor: float | Sequence[float], value_range: Sequence[float] = (0.0, 1.0)) -> Augmentation:
    """Scale each image's contrast by a random factor in ``[1 - factor, 1 + factor]``, clipped to ``value_range``."""
    arguments = {"factor": _range("factor", factor, 0.0, 1.0), "value_range": _value_range(value_range)}
    return Augmentation("random_contrast", "RandomContrast", arguments)


@augmentations.register("random_brightness")
def random_brightness(factor: float | Sequence[float], value_range: Sequence[float] = (0.0, 1.0)) -> Augmentation:
    """Add a random ``factor`` of ``value_range``'s width to each image, clipped to ``value_range``."""
    arguments = {"factor": _range("factor", factor, -1.0, 1.0), "value_range": _value_range(value_range)}
    return Augmentation("random_brightness", "RandomBrightness", arguments)


@augmentations.register("gaussian_noise")
def gaussian_noise(stddev: float) -> Augmentation:
    """Add zero-mean Gaussian noise of standard deviation ``stddev`` to every value (any data)."""
    _number("stddev", stddev, 0.0, 1.0)  # Keras' own bound
    return Augmentation("gaussian_noise", "GaussianNoise", {"stddev": float(stddev)}, images_only=False)


@augmentations.register("gaussian_dropout")
def gaussian_dropout(rate: float) -> Augmentation:
    """Multiply every value by Gaussian noise of mean 1 and variance ``rate / (1 - rate)`` (any data)."""
    _number("rate", rate, 0.0, 1.0, high_open=True)
    return Augmentation("gaussian_dropout", "GaussianDropout", {"rate": float(rate)}, images_only=False)


# -- checking and building a list ----------------------------------------------------------
def check(specs: Any, where: str = "data.augment", jit_compile: bool = False) -> list[Augmentation]:
    """Check a ``data.augment`` list without loading Keras: names, argument names and values.

    Args:
        specs: a list of names or mappings ``{name: ..., **arguments}``.
        where: the list's key path, for messages.
        jit_compile: the training step is compiled with XLA (``training.jit_compile``).

    Returns:
        One :class:`Augmentation` per entry.

    Raises:
        TrainlabError: not a list; an unknown name (with a did-you-mean), an unknown
            argument (``data.augment[1].factr``) or a value out of range; with
            ``jit_compile``, an augmentation XLA cannot compile.

    Example:
        >>> [a.layer for a in check(["random_flip", {"name": "gaussian_noise", "stddev": 0.1}])]
        ['RandomFlip', 'GaussianNoise']
    """
    if isinstance(specs, (str, bytes)) or not isinstance(specs, Sequence):
        raise TrainlabError(where, "must be a list of augmentations (names or mappings with 'name')", specs)
    checked = [augmentations.build(spec, f"{where}[{i}]") for i, spec in enumerate(specs)]
    for i, augmentation in enumerate(checked):
        if jit_compile and not augmentation.xla:
            raise TrainlabError(
                f"{where}[{i}]",
                f"{augmentation.name} cannot run under training.jit_compile: true (XLA has no kernel for its image"
                " transform); set training.jit_compile: false or leave it out",
                augmentation.name,
            )
    return checked


def build(
    specs: Any, input_shape: Sequence[int | None], seed: int, where: str = "data.augment", jit_compile: bool = False
) -> Any:
    """The ``keras.Sequential`` that augments batches of samples of shape ``input_shape``.

    Args:
        specs: the ``data.augment`` list (see :func:`check`).
        input_shape: one sample's shape, without the batch axis: ``(height, width,
            channels)`` for images, ``(features,)`` for a table.
        seed: the run's seed; layer ``i`` draws from :func:`layer_seed` ``(seed, i)``.
        where: the list's key path, for messages.
        jit_compile: the training step is compiled with XLA (``training.jit_compile``).

    Returns:
        The Sequential (built for ``input_shape``), or None for an empty list.

    Raises:
        TrainlabError: see :func:`check`; also an image augmentation on data that is not
            images.

    Example:
        >>> augment = build(["random_flip"], (32, 32, 3), seed=0)
        >>> augmented = augment(images, training=True)
    """
    checked = check(specs, where, jit_compile)
    if not checked:
        return None
    shape = tuple(input_shape)
    for i, augmentation in enumerate(checked):
        if augmentation.images_only and len(shape) != 3:
            shown = ", ".join(["N", *("None" if d is None else str(d) for d in shape)])
            raise TrainlabError(
                f"{where}[{i}]",
                f"{augmentation.name} works on images, shape (N, height, width, channels), but the data has shape"
                f" ({shown}); on other data use gaussian_noise or gaussian_dropout",
            )
    import keras  # noqa: PLC0415 (see Augmentation.make)

    layers = [
        _made(augmentation, layer_seed(seed, i), f"augment_{i}_{augmentation.name}", f"{where}[{i}]")
        for i, augmentation in enumerate(checked)
    ]
    return keras.Sequential([keras.Input(shape=shape), *layers], name="augment")


def layer_seed(seed: int, position: int) -> int:
    """The seed of the augmentation at ``position``: independent streams per position, below 2**31."""
    state = np.random.SeedSequence([seed % 2**64, position]).generate_state(1, dtype=np.uint32)[0]
    return int(state >> 1)


def _made(augmentation: Augmentation, seed: int, layer_name: str, where: str) -> Any:
    try:
        return augmentation.make(seed, layer_name)
    except (ValueError, TypeError, NotImplementedError) as exc:  # a check of Keras' that check() does not repeat
        raise TrainlabError(
            where, f"invalid arguments for augmentation {augmentation.name!r} ({exc})", augmentation.arguments
        ) from exc


# -- argument checks (ArgumentError: the registry names the key, data.augment[i].ARG) -------
def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _number(name: str, value: Any, low: float, high: float, high_open: bool = False) -> float:
    above = value < high if high_open else value <= high
    if not _is_number(value) or not (low <= value and above):
        raise ArgumentError(name, f"must be a number in [{low:g}, {high:g}{')' if high_open else ']'}", value)
    return float(value)


def _range(name: str, value: Any, low: float, high: float, low_open: bool = False) -> float | tuple[float, float]:
    """A factor: one number, or ``[lower, upper]``, each within ``[low, high]`` (``(low, high]`` if low_open)."""
    bounds = f"{'(' if low_open else '['}{low:g}, {high:g}]"

    def inside(v: Any) -> bool:
        return _is_number(v) and (low < v if low_open else low <= v) and v <= high

    if isinstance(value, (list, tuple)):
        if len(value) != 2 or not all(inside(v) for v in value) or value[0] > value[1]:
            raise ArgumentError(name, f"must be a number or [lower, upper] with lower <= upper, both in {bounds}",
                                list(value))
        return float(value[0]), float(value[1])
    if not inside(value):
        raise ArgumentError(name, f"must be a number or [lower, upper], in {bounds}", value)
    return float(value)


def _value_range(value: Any) -> tuple[float, float]:
    if not isinstance(value, (list, tuple)) or len(value) != 2 or not all(_is_number(v) for v in value) or not (
        value[0] < value[1]
    ):
        raise ArgumentError("value_range", "must be [low, high], two numbers with low < high (the pixels' range)",
                            value)
    return float(value[0]), float(value[1])


def _one_of(name: str, value: Any, choices: Sequence[str]) -> str:
    if value not in choices:
        raise ArgumentError(name, f"must be one of {', '.join(choices)}", value)
    return value


def _fill(fill_mode: Any, interpolation: Any, fill_value: Any) -> dict[str, Any]:
    """The arguments the geometric layers share, checked."""
    _one_of("fill_mode", fill_mode, _FILL_MODES)
    _one_of("interpolation", interpolation, _INTERPOLATIONS)
    if not _is_number(fill_value):
        raise ArgumentError("fill_value", "must be a number (the value of pixels outside the image)", fill_value)
    return {
        "fill_mode": fill_mode,
        "interpolation": interpolation,
        "fill_value": float(fill_value),
        "data_format": "channels_last",
    }
