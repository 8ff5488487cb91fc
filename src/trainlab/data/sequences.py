"""A sequence task generated on the fly: noisy waves or token motifs, for ``rnn`` and ``transformer``."""

from __future__ import annotations

from typing import Literal

import numpy as np

from trainlab.data.sources import RawData, _source
from trainlab.errors import TrainlabError


@_source("synthetic_sequences", "classification")
def synthetic_sequences(
    kind: Literal["waves", "tokens"] = "waves",
    n_samples: int = 1000,
    n_classes: int = 2,
    length: int = 32,
    noise: float = 0.0,
    vocab_size: int = 50,
    seed: int = 0,
) -> RawData:
    """Sequences whose class shows only in how the values unfold, never in one step alone.

    ``waves``: ``(N, length, 1)`` floats, ``sin(2 pi f t + phase)`` plus Gaussian noise of
    ``noise`` (the default for waves, when 0, is 0.5); class ``k`` draws its frequency ``f``
    (cycles over the sequence) from the ``k``-th of ``n_classes`` bands between 1 and 8
    cycles, with a random phase and amplitude, so no single step tells the class.

    ``tokens``: ``(N, length)`` token ids in ``[1, vocab_size)`` (0 is left for padding):
    random tokens with one 3-token motif, the class's own, written at a random position;
    with ``noise`` > 0 that share of the sequences get another class's motif instead
    (label noise). Every token appears in every class, so only the order of three tokens
    tells the class.

    Args:
        kind: ``waves`` or ``tokens``.
        n_samples: number of sequences.
        n_classes: number of classes (>= 2).
        length: steps per sequence (>= 8).
        noise: waves: the noise's standard deviation (0: 0.5); tokens: the share of wrong motifs.
        vocab_size: tokens: the number of token ids (> 3 * n_classes + 1).
        seed: the generator's seed.

    Raises:
        TrainlabError: a length or vocabulary too small for the task.
    """
    if length < 8:
        raise TrainlabError("data.length", "must be >= 8 (steps per sequence)", length)
    rng = np.random.default_rng(seed)
    y = rng.integers(0, n_classes, size=n_samples)
    if kind == "waves":
        return RawData(_waves(rng, y, n_classes, length, noise or 0.5), y, ["value"], None, "classification",
                       origin="synthetic_sequences")
    if vocab_size < 3 * n_classes + 2:
        raise TrainlabError("data.vocab_size", f"must be >= 3 * n_classes + 2 = {3 * n_classes + 2}", vocab_size)
    return RawData(_tokens(rng, y, n_classes, length, noise, vocab_size), y, None, None, "classification",
                   origin="synthetic_sequences")


def _waves(rng: np.random.Generator, y: np.ndarray, n_classes: int, length: int, noise: float) -> np.ndarray:
    bands = np.linspace(1.0, 8.0, n_classes + 1)
    cycles = rng.uniform(bands[y], bands[y + 1])
    phase = rng.uniform(0, 2 * np.pi, size=len(y))
    amplitude = rng.uniform(0.5, 1.5, size=len(y))
    t = np.arange(length) / length
    x = amplitude[:, None] * np.sin(2 * np.pi * cycles[:, None] * t[None, :] + phase[:, None])
    x += rng.normal(0.0, noise, size=x.shape)
    return x[..., None].astype(np.float32)


def _tokens(
    rng: np.random.Generator, y: np.ndarray, n_classes: int, length: int, noise: float, vocab_size: int
) -> np.ndarray:
    # Each class's motif: three distinct tokens, in an order no other class uses.
    motifs = rng.permutation(np.arange(1, vocab_size))[: 3 * n_classes].reshape(n_classes, 3)
    x = rng.integers(1, vocab_size, size=(len(y), length))
    shown = np.where(rng.random(len(y)) < noise, (y + rng.integers(1, n_classes, size=len(y))) % n_classes, y)
    start = rng.integers(0, length - 3, size=len(y))
    rows = np.arange(len(y))[:, None]
    x[rows, start[:, None] + np.arange(3)] = motifs[shown]
    return x.astype(np.int64)
