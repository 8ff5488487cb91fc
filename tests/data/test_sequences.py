"""The generated sequence task and digits as images."""

import numpy as np
import pytest

from trainlab.data import DataConfig, load
from trainlab.errors import TrainlabError


def test_waves_are_float_sequences_whose_frequency_band_is_the_class():
    splits = load(DataConfig(source="synthetic_sequences", n_classes=3, n_samples=300, length=64,
                             standardize=False, validation_split=0.0), seed=0)
    x, y = splits.x_train, splits.y_train
    assert x.shape == (300, 64, 1) and x.dtype == np.float32 and splits.n_classes == 3
    # The strongest frequency of each clean-ish wave falls in its class's band (1-8 cycles in 3 bands).
    peak = np.abs(np.fft.rfft(x[..., 0], axis=1))[:, 1:].argmax(axis=1) + 1
    bands = np.digitize(peak, np.linspace(1, 8, 4)[1:-1])
    assert (bands == y).mean() > 0.7  # noise 0.5 blurs the band edges, but the band is the class


def test_tokens_carry_their_class_motif_in_order():
    splits = load(DataConfig(source="synthetic_sequences", kind="tokens", n_classes=4, n_samples=200,
                             validation_split=0.0, vocab_size=30), seed=1)
    x, y = splits.x_train, splits.y_train
    assert x.shape == (200, 32) and x.dtype == np.int32 and not splits.standardized
    assert x.min() >= 1 and splits.vocab_size <= 30
    # Each class's most common trigram is shared by all its sequences and by no other class's majority.
    def trigrams(row):
        return {tuple(row[i:i + 3]) for i in range(len(row) - 2)}
    motifs = []
    for k in range(4):
        rows = [trigrams(r) for r in x[y == k]]
        common = set.intersection(*rows)
        assert len(common) == 1
        motifs.append(common.pop())
    assert len(set(motifs)) == 4


def test_digits_as_images_are_the_same_pixels():
    flat = load(DataConfig(source="digits", standardize=False), seed=0)
    images = load(DataConfig(source="digits", images=True, standardize=False), seed=0)
    assert images.x_train.shape == (len(flat.x_train), 8, 8, 1)
    np.testing.assert_allclose(images.x_train.reshape(len(flat.x_train), -1), flat.x_train / 16.0, rtol=1e-6)
    assert images.preprocessing.meta["image"]["size"] == [8, 8]


@pytest.mark.parametrize(("keys", "message"), [
    ({"length": 4}, "data.length: must be >= 8, got 4"),
    ({"kind": "tokens", "vocab_size": 5, "n_classes": 3}, "data.vocab_size: must be >= 3 * n_classes + 2 = 11, got 5"),
])
def test_sequence_mistakes(keys, message):
    with pytest.raises(TrainlabError) as info:
        load(DataConfig(source="synthetic_sequences", **keys), seed=0)
    assert str(info.value) == message
