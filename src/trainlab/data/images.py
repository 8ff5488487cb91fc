"""The ``image_folder`` data source: a folder with one sub-folder of images per class.

The layout is Keras' ``image_dataset_from_directory`` with inferred labels::

    flowers/            data: {source: image_folder, path: flowers, image_size: [64, 64]}
      daisy/   001.jpg 002.png ...
      tulip/   ...

As in Keras, the class names are the sub-folders' names, sorted (hidden ones skipped);
each class folder is walked recursively in sorted order, and files ending in .png,
.jpg, .jpeg, .bmp or .gif (any case) are read, the rest ignored. Each image is read
with Pillow (a GIF's first frame), converted to RGB or grayscale, resized to
``image_size`` with Pillow's bilinear filter, as ``keras.utils.load_img(path,
color_mode, target_size, interpolation="bilinear")`` does, and scaled to [0, 1].
(``image_dataset_from_directory`` resizes with ``tf.image.resize``, which does not
smooth when it shrinks, so its pixels differ from these where an image is shrunk.)
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from trainlab.data.sources import RawData, _source
from trainlab.errors import TrainlabError

#: The file endings read as images, Keras' ``ALLOWLIST_FORMATS``.
IMAGE_FORMATS = (".bmp", ".gif", ".jpeg", ".jpg", ".png")

#: The number of channels of each ``data.color``.
CHANNELS = {"rgb": 3, "grayscale": 1}

#: :data:`IMAGE_FORMATS` as messages list them.
FORMATS_TEXT = ", ".join(sorted(IMAGE_FORMATS))


@_source("image_folder", "classification")
def image_folder(
    path: str,
    image_size: Sequence[int] = (64, 64),
    color: str = "rgb",
    base_dir: str | Path | None = None,
) -> RawData:
    """Images in one sub-folder per class, as float32 ``(N, H, W, C)`` pixels in [0, 1].

    Args:
        path: the folder, relative to ``base_dir``.
        image_size: ``[height, width]`` every image is resized to.
        color: "rgb" (3 channels) or "grayscale" (1 channel).
        base_dir: the folder relative paths start from (default: the current directory).

    Returns:
        The pixels, the class codes ``0..K-1`` with the sub-folders' names as
        ``class_names``, and ``meta["image"]``: the size, colour, channels, scale and
        class names that a model serving these images needs.

    Raises:
        TrainlabError: the folder is missing or is a file; it has no class sub-folders
            or only one; a class folder holds no images; an image cannot be read
            (naming the file).

    Example:
        >>> raw = image_folder("flowers", image_size=[32, 32], color="grayscale")
        >>> raw.x.shape, raw.class_names
        ((120, 32, 32, 1), ['daisy', 'tulip'])
    """
    if color not in CHANNELS:
        raise TrainlabError("data.color", f"must be one of {', '.join(CHANNELS)}", color)
    height, width = check_size(image_size)
    folder = resolve_folder(path, base_dir)
    class_names = _class_folders(folder, path)
    files = [_images(folder / name, os.path.join(path, name)) for name in class_names]

    x = np.empty((sum(len(f) for f in files), height, width, CHANNELS[color]), dtype=np.float32)
    y = np.empty(len(x), dtype=np.int64)
    row = 0
    for code, class_files in enumerate(files):
        for file in class_files:
            shown = os.path.join(path, os.path.relpath(file, folder))
            x[row] = read_image(file, (height, width), color, shown)
            y[row] = code
            row += 1
    meta = {
        "image": {
            "size": [height, width],
            "color": color,
            "channels": CHANNELS[color],
            "scale": 1 / 255,
            "resize": "bilinear",
            "class_names": list(class_names),
        }
    }
    return RawData(x, y, None, class_names, "classification", origin=path, meta=meta)


def resolve_folder(path: str, base_dir: str | Path | None = None) -> Path:
    """Return the folder ``path`` resolved against ``base_dir`` (or the current directory).

    Raises:
        TrainlabError: ``data.path`` when there is no such folder, or it is a file.
    """
    folder = Path(path).expanduser()
    if not folder.is_absolute():
        folder = (Path(base_dir) if base_dir is not None else Path.cwd()) / folder
    if folder.is_file():
        raise TrainlabError(
            "data.path", f"is a file, expected a folder with one sub-folder of images per class: {folder}", path
        )
    if not folder.is_dir():
        raise TrainlabError("data.path", f"folder not found: {folder}", path)
    return folder


def read_image(
    file: str | Path, size: tuple[int, int], color: str = "rgb", shown: str | None = None, *, resize: bool = True
) -> np.ndarray:
    """One image file as float32 ``(H, W, C)`` pixels in [0, 1], read as :func:`image_folder` reads it.

    :func:`trainlab.load`'s predictions read image files with this function too, so a run's
    model sees new files exactly as it saw its training images.

    Args:
        file: the image file.
        size: ``(height, width)`` to resize to (Pillow's bilinear filter).
        color: "rgb" or "grayscale".
        shown: the file's name in messages (default: ``file``).
        resize: False: an image of another size is refused instead of resized (a run that
            trained on images of one size without resizing them: MNIST, arrays).

    Raises:
        TrainlabError: Pillow cannot read the file (not an image, or a damaged one), or
            (``resize=False``) the image is not ``size``.

    Example:
        >>> read_image("flowers/daisy/001.jpg", (32, 32), "grayscale").shape
        (32, 32, 1)
    """
    from PIL import Image  # noqa: PLC0415 (Pillow loads when images are read, not when a recipe is)

    shown = str(file) if shown is None else shown
    # Pillow's decoders raise OSError, SyntaxError, ValueError, ... for a damaged file: any of them means that.
    try:
        img = Image.open(file)
    except Exception as exc:  # noqa: BLE001
        raise TrainlabError(shown, f"is not a readable image ({_reason(exc)})") from None
    with img:
        try:
            img.load()  # decodes now (a GIF's first frame), so a damaged file fails here
        except Exception as exc:  # noqa: BLE001
            raise TrainlabError(shown, f"is not a readable image ({_reason(exc)})") from None
        if not resize and (img.height, img.width) != tuple(size):
            raise TrainlabError(shown, f"must be {size[0]}x{size[1]} pixels (height x width), as the run's images"
                                       " (the run did not resize its images)", f"{img.height}x{img.width}")
        return _pixels(img, size, color)


def _pixels(img: Any, size: tuple[int, int], color: str) -> np.ndarray:
    from PIL import Image  # noqa: PLC0415 (see read_image)

    height, width = size
    if img.mode in ("I", "F") or img.mode.startswith("I;16"):
        # 16-bit grey (PNG): Pillow's conversion to 8 bits clips at 255, so rescale 0..65535 here.
        grey = Image.fromarray(np.asarray(img, dtype=np.float32) * np.float32(255.0 / 65535.0))
        if grey.size != (width, height):
            grey = grey.resize((width, height), Image.Resampling.BILINEAR)
        values = np.asarray(grey, dtype=np.float32)[..., None]
        return np.repeat(values, CHANNELS[color], axis=-1) / np.float32(255.0)
    if img.mode == "P":
        img = img.convert("RGBA")  # a palette with transparency: converting it straight to RGB warns
    img = img.convert("L" if color == "grayscale" else "RGB")
    if img.size != (width, height):
        img = img.resize((width, height), Image.Resampling.BILINEAR)
    values = np.asarray(img, dtype=np.float32)
    if values.ndim == 2:
        values = values[..., None]
    return values / np.float32(255.0)


def _reason(exc: Exception) -> str:
    text = str(exc).split("\n")[0].strip()
    if type(exc).__name__ == "UnidentifiedImageError":
        return "not an image file Pillow recognizes"
    return text or type(exc).__name__


def check_size(image_size: Any) -> tuple[int, int]:
    """``image_size`` as ``(height, width)``.

    Raises:
        TrainlabError: ``data.image_size`` is not two integers >= 1.
    """
    pair = isinstance(image_size, (Sequence, np.ndarray)) and not isinstance(image_size, (str, bytes))
    if not pair or len(image_size) != 2 or any(
        isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)) or v < 1 for v in image_size
    ):
        shown = list(image_size) if pair else image_size
        raise TrainlabError("data.image_size", "must be [height, width], two integers >= 1", shown)
    return int(image_size[0]), int(image_size[1])


def _class_folders(folder: Path, path: str) -> list[str]:
    names = sorted(entry.name for entry in folder.iterdir() if entry.is_dir() and not entry.name.startswith("."))
    if not names:
        loose = sum(1 for entry in folder.iterdir() if entry.is_file() and entry.name.lower().endswith(IMAGE_FORMATS))
        hint = f"; move its {loose} images into one sub-folder per class" if loose else ""
        raise TrainlabError(
            path, f"needs one sub-folder of images per class (the sub-folders' names are the class names){hint};"
            " it has no sub-folder",
        )
    if len(names) < 2:
        raise TrainlabError(path, "needs at least 2 class sub-folders (one per class); it has one", names[0])
    return names


def image_files(folder: str | Path) -> list[Path]:
    """The image files in ``folder`` and below, in the order :func:`image_folder` reads a class folder.

    That is Keras' order: the folder walked without following links, roots sorted, files
    sorted in each; a file is an image when its ending is one of :data:`IMAGE_FORMATS` (any case).

    Returns:
        The files (none when the folder holds no image).

    Example:
        >>> [p.name for p in image_files("flowers/daisy")]
        ['001.jpg', '002.png']
    """
    return [
        Path(root) / name
        for root, _, names in sorted(os.walk(folder), key=lambda walked: walked[0])
        for name in sorted(names)
        if name.lower().endswith(IMAGE_FORMATS)
    ]


def _images(folder: Path, shown: str) -> list[Path]:
    files = image_files(folder)
    if not files:
        raise TrainlabError(shown, f"class folder holds no images ({FORMATS_TEXT})")
    return files
