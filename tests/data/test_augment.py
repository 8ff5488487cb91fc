"""data.augment: the registry of Keras' random layers, checks at parse time, seeds, and the saved random stream."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from trainlab.data import augment
from trainlab.data.config import DataConfig
from trainlab.errors import TrainlabError

#: One valid entry per registered name, with the Keras layer it must make.
EVERY = {
    "random_flip": ("random_flip", "RandomFlip"),
    "random_rotation": ({"name": "random_rotation", "factor": 0.1}, "RandomRotation"),
    "random_translation": ({"name": "random_translation", "height_factor": 0.1, "width_factor": [-0.2, 0.1]},
                           "RandomTranslation"),
    "random_zoom": ({"name": "random_zoom", "height_factor": 0.2}, "RandomZoom"),
    "random_contrast": ({"name": "random_contrast", "factor": 0.3}, "RandomContrast"),
    "random_brightness": ({"name": "random_brightness", "factor": 0.2}, "RandomBrightness"),
    "gaussian_noise": ({"name": "gaussian_noise", "stddev": 0.1}, "GaussianNoise"),
    "gaussian_dropout": ({"name": "gaussian_dropout", "rate": 0.2}, "GaussianDropout"),
}


def _images(n=4, size=(8, 9), channels=3, seed=0):
    return np.random.default_rng(seed).random((n, *size, channels)).astype(np.float32)


def _error(specs, **kwargs) -> str:
    with pytest.raises(TrainlabError) as info:
        augment.check(specs, **kwargs) if "input_shape" not in kwargs else augment.build(specs, seed=0, **kwargs)
    return str(info.value)


# -- the registry --------------------------------------------------------------------------


def test_every_name_is_covered_here_and_listed():
    assert augment.names() == sorted(EVERY)


@pytest.mark.parametrize("name", sorted(EVERY))
def test_every_name_builds_its_keras_layer(name):
    spec, layer = EVERY[name]
    sequential = augment.build([spec], (8, 9, 3), seed=0)
    assert [type(made).__name__ for made in sequential.layers] == [layer]
    assert sequential(_images(), training=True).shape == (4, 8, 9, 3)


def test_xla_flags_agree_with_keras():
    # training.jit_compile refuses the layers Keras itself marks as not compilable.
    for name, (spec, _) in EVERY.items():
        (checked,) = augment.check([spec])
        (made,) = augment.build([spec], (8, 9, 3), seed=0).layers
        assert checked.xla == made.supports_jit, name


def test_the_layers_compute_what_keras_computes():
    specs = [{"name": "random_flip", "mode": "horizontal"}, {"name": "random_rotation", "factor": [-0.2, 0.1],
                                                             "fill_mode": "constant", "fill_value": 0.5}]
    x = _images()
    ours = augment.build(specs, (8, 9, 3), seed=5)(x, training=True)
    flip = keras.layers.RandomFlip("horizontal", seed=augment.layer_seed(5, 0))
    rotate = keras.layers.RandomRotation((-0.2, 0.1), fill_mode="constant", fill_value=0.5,
                                         seed=augment.layer_seed(5, 1))
    np.testing.assert_allclose(ours, rotate(flip(x, training=True), training=True), atol=1e-6)


def test_a_horizontal_flip_mirrors_each_image_or_leaves_it():
    x = _images(n=32)
    flip = augment.build([{"name": "random_flip", "mode": "horizontal"}], (8, 9, 3), seed=1)
    out = np.asarray(flip(x, training=True))
    mirrored = [np.array_equal(o, i[:, ::-1]) for o, i in zip(out, x)]
    kept = [np.array_equal(o, i) for o, i in zip(out, x)]
    assert all(m or k for m, k in zip(mirrored, kept)) and any(mirrored) and any(kept)


def test_gaussian_noise_works_on_a_table_with_its_stddev():
    x = np.zeros((4000, 20), np.float32)
    sequential = augment.build([{"name": "gaussian_noise", "stddev": 0.3}], (20,), seed=2)
    noise = np.asarray(sequential(x, training=True))
    assert abs(noise.std() - 0.3) < 0.005 and abs(noise.mean()) < 0.005
    np.testing.assert_array_equal(sequential(x, training=False), x)  # validation and test batches: untouched


def test_brightness_and_contrast_keep_pixels_in_zero_one_by_default():
    x = _images(n=64)
    for spec in ({"name": "random_brightness", "factor": 0.5}, {"name": "random_contrast", "factor": 0.9}):
        out = np.asarray(augment.build([spec], (8, 9, 3), seed=3)(x, training=True))
        assert out.min() >= 0.0 and out.max() <= 1.0 and not np.allclose(out, x), spec


def test_a_grayscale_image_takes_the_image_layers():
    x = _images(channels=1)
    specs = [name for name in ("random_flip",)] + [EVERY[n][0] for n in ("random_rotation", "random_contrast")]
    assert augment.build(specs, (8, 9, 1), seed=0)(x, training=True).shape == x.shape


# -- seeds and the saved stream --------------------------------------------------------------


SPECS = [EVERY[name][0] for name in sorted(EVERY)]


def test_the_same_seed_augments_identically_and_another_does_not():
    x = _images()
    first, again, other = (augment.build(SPECS, (8, 9, 3), seed=s) for s in (7, 7, 8))
    for _ in range(3):
        a = np.asarray(first(x, training=True))
        np.testing.assert_array_equal(a, again(x, training=True))
        assert not np.allclose(a, other(x, training=True))


def test_each_position_draws_its_own_stream():
    seeds = {augment.layer_seed(seed, position) for seed in range(5) for position in range(5)}
    assert len(seeds) == 25 and all(0 <= s < 2**31 for s in seeds)
    x = _images()
    flips = augment.build(["random_flip", "random_flip"], (8, 9, 3), seed=0)
    first, second = flips.layers
    assert not np.array_equal(first(x, training=True), second(x, training=True))


def test_restoring_the_variables_restores_the_random_stream():
    x = _images()
    sequential = augment.build(SPECS, (8, 9, 3), seed=11)
    # One seed-generator state per random layer, all non-trainable: a checkpoint of the model's variables keeps them.
    assert len(sequential.non_trainable_variables) == len(SPECS) and not sequential.trainable_variables
    step = tf.function(lambda batch: sequential(batch, training=True))
    for _ in range(3):
        step(x)
    saved = [v.numpy() for v in sequential.non_trainable_variables]
    expected = [np.asarray(step(x)) for _ in range(3)]
    assert not np.allclose(expected[0], expected[1])  # the stream moves on
    for _ in range(2):
        step(x)
    for variable, value in zip(sequential.non_trainable_variables, saved):
        variable.assign(value)
    for want in expected:
        np.testing.assert_array_equal(step(x), want)


def test_a_fresh_build_from_the_saved_state_continues_the_stream():
    # A resumed run builds its augmenter anew and restores the variables from the checkpoint.
    x = _images()
    original = augment.build(SPECS, (8, 9, 3), seed=4)
    original(x, training=True)
    saved = [v.numpy() for v in original.variables]
    want = np.asarray(original(x, training=True))
    resumed = augment.build(SPECS, (8, 9, 3), seed=4)
    for variable, value in zip(resumed.variables, saved):
        variable.assign(value)
    np.testing.assert_array_equal(resumed(x, training=True), want)


# -- checks ----------------------------------------------------------------------------------


def test_an_empty_list_builds_nothing():
    assert augment.build([], (20,), seed=0) is None and augment.check([]) == []


def test_xla_compiles_the_layers_it_supports():
    supported = [EVERY[name][0] for name in sorted(EVERY) if augment.check([EVERY[name][0]])[0].xla]
    sequential = augment.build(supported, (8, 9, 3), seed=0, jit_compile=True)
    compiled = tf.function(lambda batch: sequential(batch, training=True), jit_compile=True)
    assert compiled(_images()).shape == (4, 8, 9, 3)


def test_jit_compile_refuses_rotation_translation_and_zoom():
    assert _error(["random_flip", {"name": "random_rotation", "factor": 0.1}], jit_compile=True) == (
        "data.augment[1]: random_rotation cannot run under training.jit_compile: true (XLA has no kernel for its"
        " image transform); set training.jit_compile: false or leave it out, got 'random_rotation'"
    )
    for name in ("random_translation", "random_zoom"):
        assert _error([EVERY[name][0]], jit_compile=True).startswith(f"data.augment[0]: {name} cannot run under")


@pytest.mark.parametrize("name", [n for n, (_, _) in EVERY.items() if not n.startswith("gaussian")])
def test_an_image_layer_on_a_table_is_refused(name):
    assert _error([EVERY["gaussian_noise"][0], EVERY[name][0]], input_shape=(20,)) == (
        f"data.augment[1]: {name} works on images, shape (N, height, width, channels), but the data has shape"
        " (N, 20); on other data use gaussian_noise or gaussian_dropout"
    )


@pytest.mark.parametrize(
    "specs, expected",
    [
        (["random_flp"], "data.augment[0]: unknown augmentation (did you mean 'random_flip'?); valid names: "
                         "gaussian_dropout, gaussian_noise, random_brightness, random_contrast, random_flip, "
                         "random_rotation, random_translation, random_zoom, got 'random_flp'"),
        ([{"name": "gausian_noise", "stddev": 0.1}], "data.augment[0].name: unknown augmentation (did you mean"
                                                     " 'gaussian_noise'?); valid names: "),
        (["random_flip", {"name": "random_rotation", "factr": 0.1}],
         "data.augment[1].factr: unknown argument for augmentation 'random_rotation' (did you mean 'factor'?);"
         " valid arguments: factor, fill_mode, interpolation, fill_value, got 0.1"),
        (["random_rotation"], "data.augment[0].factor: is required by augmentation 'random_rotation'"),
        ([{"name": "random_flip", "mode": "diagonal"}],
         "data.augment[0].mode: must be one of horizontal, vertical, horizontal_and_vertical, got 'diagonal'"),
        ([{"name": "random_rotation", "factor": 1.5}],
         "data.augment[0].factor: must be a number or [lower, upper], in [-1, 1], got 1.5"),
        ([{"name": "random_rotation", "factor": True}],
         "data.augment[0].factor: must be a number or [lower, upper], in [-1, 1], got True"),
        ([{"name": "random_rotation", "factor": [0.2, -0.2]}],
         "data.augment[0].factor: must be a number or [lower, upper] with lower <= upper, both in [-1, 1],"
         " got [0.2, -0.2]"),
        ([{"name": "random_rotation", "factor": 0.1, "fill_mode": "mirror"}],
         "data.augment[0].fill_mode: must be one of reflect, wrap, constant, nearest, got 'mirror'"),
        ([{"name": "random_zoom", "height_factor": 0.1, "interpolation": "cubic"}],
         "data.augment[0].interpolation: must be one of nearest, bilinear, got 'cubic'"),
        ([{"name": "random_zoom", "height_factor": -1}],
         "data.augment[0].height_factor: must be a number or [lower, upper], in (-1, 1], got -1"),
        ([{"name": "random_translation", "height_factor": 0.1, "width_factor": "a"}],
         "data.augment[0].width_factor: must be a number or [lower, upper], in [-1, 1], got 'a'"),
        ([{"name": "random_contrast", "factor": -0.1}],
         "data.augment[0].factor: must be a number or [lower, upper], in [0, 1], got -0.1"),
        ([{"name": "random_brightness", "factor": 0.1, "value_range": [255, 0]}],
         "data.augment[0].value_range: must be [low, high], two numbers with low < high (the pixels' range),"
         " got [255, 0]"),
        ([{"name": "gaussian_noise", "stddev": 2}], "data.augment[0].stddev: must be a number in [0, 1], got 2"),
        ([{"name": "gaussian_dropout", "rate": 1.0}], "data.augment[0].rate: must be a number in [0, 1), got 1.0"),
        ("random_flip", "data.augment: must be a list of augmentations (names or mappings with 'name'),"
                        " got 'random_flip'"),
    ],
)
def test_mistakes_are_one_line_naming_the_entry(specs, expected):
    message = _error(specs)
    assert message.startswith(expected), message


def test_a_mapping_without_a_name():
    message = _error(["random_flip", {"stddev": 0.1}])
    assert message.startswith("data.augment[1]: ")
    assert message.endswith("mapping needs a 'name' key, got {'stddev': 0.1}")


# -- the data section ----------------------------------------------------------------------


def test_augment_applies_to_every_source_and_is_checked_when_parsed():
    config = DataConfig(source="digits", augment=[{"name": "gaussian_noise", "stddev": 0.1}])
    assert config.augment == [{"name": "gaussian_noise", "stddev": 0.1}]
    assert DataConfig().model_dump()["augment"] == []
    with pytest.raises(TrainlabError, match=r"^data\.augment\[0\]: unknown augmentation \(did you mean 'random_zoom'"):
        DataConfig(source="digits", augment=["random_zom"])
    with pytest.raises(TrainlabError, match=r"^data\.augment\[0\]\.stddev: must be a number in \[0, 1\], got -1"):
        DataConfig(augment=[{"name": "gaussian_noise", "stddev": -1}])
