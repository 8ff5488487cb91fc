"""Helpers of the inference tests (a module of its own: ``conftest`` is a name every test folder uses)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def tiny_images(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """8x8 grey images (uint8) of 3 classes: a bright row at the top, the middle or the bottom, on noise."""
    y = rng.integers(0, 3, size=n)
    x = rng.integers(0, 60, size=(n, 8, 8)).astype(np.uint8)
    for i, k in enumerate(y):
        x[i, 1 + 3 * k] = rng.integers(180, 256, size=8)
    return x, y


def write_pngs(folder: Path, images: np.ndarray, labels: np.ndarray | None = None) -> list[str]:
    """Each image as a grey PNG, in ``folder`` or in its class's sub-folder; the files' paths in the folder."""
    from PIL import Image

    names = []
    for i, image in enumerate(images):
        name = f"{i:03d}.png" if labels is None else f"{labels[i]}/{i:03d}.png"
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.asarray(image).reshape(image.shape[:2]).astype(np.uint8), mode="L").save(folder / name)
        names.append(name)
    return names
