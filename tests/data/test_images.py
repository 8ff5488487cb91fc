"""The image_folder source: Keras' folder layout, pixels as Keras' load_img reads them, and every folder error."""

import warnings

import numpy as np
import pytest
from PIL import Image

from trainlab.data import load, sources
from trainlab.data.config import DataConfig
from trainlab.data.images import read_image
from trainlab.errors import TrainlabError


def _folder(root, classes=("dog", "cat", "eel"), n=6, size=(10, 12), mode="RGB", suffix=".png", seed=0):
    """Class folders of random images (height x width = size); returns {class: [pixel arrays in file order]}."""
    rng = np.random.default_rng(seed)
    pixels = {}
    for name in classes:
        (root / name).mkdir(parents=True)
        pixels[name] = []
        for i in range(n):
            shape = (*size, 3) if mode == "RGB" else size
            values = rng.integers(0, 256, shape, dtype=np.uint8)
            Image.fromarray(values, mode).save(root / name / f"{i:02d}{suffix}")
            pixels[name].append(values)
    return pixels


def _raw(path, **keys):
    return sources.build({"name": "image_folder", "path": str(path), **keys})


def _error(path, **keys) -> str:
    with pytest.raises(TrainlabError) as info:
        _raw(path, **keys)
    return str(info.value)


# -- what a folder gives -------------------------------------------------------------------


def test_pixels_labels_and_class_names_at_the_original_size(tmp_path):
    pixels = _folder(tmp_path / "pics")
    raw = _raw(tmp_path / "pics", image_size=[10, 12])
    assert raw.x.shape == (18, 10, 12, 3) and raw.x.dtype == np.float32
    assert raw.class_names == ["cat", "dog", "eel"]  # sorted, not in the order the folders were made
    np.testing.assert_array_equal(raw.y, np.repeat([0, 1, 2], 6))
    expected = np.stack([p for name in raw.class_names for p in pixels[name]]).astype(np.float32) / 255.0
    np.testing.assert_array_equal(raw.x, expected)
    assert raw.task == "classification" and raw.origin == str(tmp_path / "pics")


def test_meta_says_how_the_pixels_were_made(tmp_path):
    _folder(tmp_path / "pics", classes=("a", "b"), n=2)
    raw = _raw(tmp_path / "pics", image_size=[7, 5], color="grayscale")
    assert raw.meta == {"image": {"size": [7, 5], "color": "grayscale", "channels": 1, "scale": 1 / 255,
                                  "resize": "bilinear", "class_names": ["a", "b"]}}


@pytest.mark.parametrize("color", ["rgb", "grayscale"])
@pytest.mark.parametrize("size", [(5, 7), (16, 20)])  # shrunk and enlarged
def test_resized_pixels_match_keras_load_img(tmp_path, color, size):
    import keras

    _folder(tmp_path / "pics", classes=("a", "b"), n=3)
    raw = _raw(tmp_path / "pics", image_size=list(size), color=color)
    assert raw.x.shape == (6, *size, 3 if color == "rgb" else 1)
    files = sorted((tmp_path / "pics").glob("*/*.png"))
    for row, file in enumerate(files):
        image = keras.utils.load_img(file, color_mode=color, target_size=size, interpolation="bilinear")
        np.testing.assert_allclose(raw.x[row], keras.utils.img_to_array(image) / 255.0, atol=1e-6)


def test_order_and_classes_match_keras_image_dataset_from_directory(tmp_path):
    # Nested folders, capital endings, other files, a hidden folder, loose images: Keras' rules for each.
    keras = pytest.importorskip("keras")
    root = tmp_path / "pics"
    _folder(root, classes=("b", "a"), n=3)
    _folder(root / "a" / "nested", classes=("deeper",), n=2, seed=1)
    Image.fromarray(np.full((10, 12, 3), 200, np.uint8)).save(root / "b" / "Z.PNG")
    (root / "b" / "notes.txt").write_text("not an image")
    _folder(root / ".cache", classes=("x",), n=1, seed=2)
    Image.fromarray(np.zeros((10, 12, 3), np.uint8)).save(root / "loose.png")

    raw = _raw(root, image_size=[10, 12])
    dataset = keras.utils.image_dataset_from_directory(
        root, image_size=(10, 12), batch_size=None, shuffle=False, verbose=False
    )
    images, labels = zip(*((x.numpy(), y.numpy()) for x, y in dataset))
    assert raw.class_names == dataset.class_names == ["a", "b"]
    np.testing.assert_array_equal(raw.y, labels)
    np.testing.assert_allclose(raw.x * 255.0, np.stack(images), atol=1e-3)  # same size: no resizing either way
    assert len(raw.x) == 3 + 2 + 3 + 1


@pytest.mark.parametrize("suffix", [".jpg", ".jpeg", ".bmp", ".gif"])
def test_other_formats_match_keras_load_img(tmp_path, suffix):
    import keras

    _folder(tmp_path / "pics", classes=("a", "b"), n=2, suffix=suffix)
    raw = _raw(tmp_path / "pics", image_size=[6, 6])
    for row, file in enumerate(sorted((tmp_path / "pics").glob(f"*/*{suffix}"))):
        image = keras.utils.load_img(file, target_size=(6, 6), interpolation="bilinear")
        np.testing.assert_allclose(raw.x[row], keras.utils.img_to_array(image) / 255.0, atol=1e-6)


def test_a_gif_gives_its_first_frame(tmp_path):
    file = tmp_path / "two.gif"
    first, second = (Image.new("RGB", (4, 3), colour) for colour in ((255, 0, 0), (0, 0, 255)))
    first.save(file, save_all=True, append_images=[second])
    np.testing.assert_allclose(read_image(file, (3, 4)), np.broadcast_to([1.0, 0.0, 0.0], (3, 4, 3)), atol=1e-6)


def test_modes_are_converted_as_pillow_converts_them(tmp_path):
    rng = np.random.default_rng(3)
    rgba = Image.fromarray(rng.integers(0, 256, (5, 4, 4), dtype=np.uint8), "RGBA")
    grey = Image.fromarray(rng.integers(0, 256, (5, 4), dtype=np.uint8), "L")
    palette = Image.fromarray(rng.integers(0, 256, (5, 4, 3), dtype=np.uint8), "RGB").quantize(8)
    for name, image in (("rgba.png", rgba), ("grey.png", grey), ("palette.png", palette)):
        image.save(tmp_path / name)
        for color, mode in (("rgb", "RGB"), ("grayscale", "L")):
            expected = np.asarray(image.convert(mode), np.float32).reshape(5, 4, -1) / 255.0
            np.testing.assert_allclose(read_image(tmp_path / name, (5, 4), color), expected, atol=1e-6, err_msg=name)


def test_a_palette_with_alpha_values_reads_without_a_warning(tmp_path):
    # Pillow warns when such a palette image is converted straight to RGB; the run would print it.
    image = Image.fromarray(np.random.default_rng(4).integers(0, 256, (5, 4, 3), dtype=np.uint8)).quantize(8)
    image.save(tmp_path / "alpha.png", transparency=bytes([0, 128, 255, 30, 255, 255, 255, 255]))
    with Image.open(tmp_path / "alpha.png") as opened:
        expected = np.asarray(opened.convert("RGBA").convert("RGB"), np.float32) / 255.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_allclose(read_image(tmp_path / "alpha.png", (5, 4)), expected, atol=1e-6)


def test_sixteen_bit_grey_is_scaled_not_clipped(tmp_path):
    values = np.array([[0, 257, 32768], [65535, 1000, 60000]], dtype=np.uint16)
    Image.fromarray(values).save(tmp_path / "deep.png")
    np.testing.assert_allclose(read_image(tmp_path / "deep.png", (2, 3), "grayscale")[..., 0], values / 65535.0,
                               atol=1e-6)
    np.testing.assert_allclose(read_image(tmp_path / "deep.png", (2, 3), "rgb"),
                               np.repeat((values / 65535.0)[..., None], 3, axis=-1), atol=1e-6)


def test_without_resizing_an_image_of_another_size_is_refused(tmp_path):
    file = tmp_path / "p.png"
    Image.fromarray(np.random.default_rng(5).integers(0, 256, (5, 4, 3), dtype=np.uint8)).save(file)
    np.testing.assert_array_equal(read_image(file, (5, 4), resize=False), read_image(file, (5, 4)))
    with pytest.raises(TrainlabError, match=r"^new/p.png: must be 4x4 pixels \(height x width\), as the run's images"
                                            r" \(the run did not resize its images\), got '5x4'$"):
        read_image(file, (4, 4), shown="new/p.png", resize=False)


def test_a_relative_path_starts_at_base_dir(tmp_path, monkeypatch):
    _folder(tmp_path / "recipes" / "pics", classes=("a", "b"), n=2)
    monkeypatch.chdir(tmp_path)
    raw = sources.build({"name": "image_folder", "path": "pics"}, base_dir=tmp_path / "recipes")
    assert raw.x.shape == (4, 64, 64, 3) and raw.origin == "pics"  # the default size; the path as written


def test_load_gives_stratified_splits(tmp_path):
    _folder(tmp_path / "pics", classes=("a", "b"), n=10)
    splits = load({"source": "image_folder", "path": "pics", "image_size": [4, 5], "validation_split": 0.2},
                  seed=0, base_dir=tmp_path)
    assert splits.task == "binary" and splits.class_names == ["a", "b"] and splits.source == "image_folder"
    assert len(splits.x_train) == 16 and len(splits.x_val) == 4
    assert np.prod(splits.x_train.shape[1:]) == 4 * 5 * 3
    np.testing.assert_array_equal(np.bincount(splits.y_val), [2, 2])


# -- the data section ----------------------------------------------------------------------


def test_image_keys_apply_to_image_folder_only():
    config = DataConfig(source="image_folder", path="pics", image_size=[32, 48], color="grayscale")
    assert config.source_arguments() == {"color": "grayscale", "image_size": [32, 48], "path": "pics"}
    with pytest.raises(TrainlabError, match=r"^data.color: does not apply to data source 'digits'"):
        DataConfig(source="digits", color="rgb")


@pytest.mark.parametrize("size", [[0, 5], [5], [5, 5, 5], 64, [True, 5], [2.5, 5]])
def test_image_size_must_be_two_positive_integers(size):
    with pytest.raises(TrainlabError) as info:
        DataConfig(source="image_folder", path="pics", image_size=size)
    assert str(info.value).startswith("data.image_size: must be [height, width], two integers >= 1, got ")


def test_image_folder_refuses_a_regression_task():
    with pytest.raises(TrainlabError, match="data source 'image_folder' gives class labels"):
        DataConfig(source="image_folder", path="pics", task="regression")


# -- errors --------------------------------------------------------------------------------


def test_missing_folder(tmp_path):
    assert _error("nowhere", base_dir=tmp_path) == f"data.path: folder not found: {tmp_path / 'nowhere'}, got 'nowhere'"


def test_a_file_is_not_a_folder(tmp_path):
    (tmp_path / "pics.png").write_bytes(b"")
    assert _error("pics.png", base_dir=tmp_path) == (
        f"data.path: is a file, expected a folder with one sub-folder of images per class: {tmp_path / 'pics.png'},"
        " got 'pics.png'"
    )


def test_a_folder_without_sub_folders(tmp_path):
    (tmp_path / "pics").mkdir()
    assert _error("pics", base_dir=tmp_path) == (
        "pics: needs one sub-folder of images per class (the sub-folders' names are the class names);"
        " it has no sub-folder"
    )
    for i in range(3):
        Image.new("RGB", (2, 2)).save(tmp_path / "pics" / f"{i}.png")
    message = _error("pics", base_dir=tmp_path)
    assert "; move its 3 images into one sub-folder per class; it has no sub-folder" in message


def test_one_class_is_not_enough(tmp_path):
    _folder(tmp_path / "pics", classes=("cat",), n=2)
    assert _error("pics", base_dir=tmp_path) == (
        "pics: needs at least 2 class sub-folders (one per class); it has one, got 'cat'"
    )


def test_an_empty_class_folder(tmp_path):
    _folder(tmp_path / "pics", classes=("cat", "dog"), n=2)
    (tmp_path / "pics" / "eel").mkdir()
    (tmp_path / "pics" / "eel" / "readme.txt").write_text("no images here")
    assert _error("pics", base_dir=tmp_path) == "pics/eel: class folder holds no images (.bmp, .gif, .jpeg, .jpg, .png)"


@pytest.mark.parametrize("content", [b"", b"not an image at all", "truncated"])
def test_an_unreadable_image_names_the_file(tmp_path, content):
    _folder(tmp_path / "pics", classes=("cat", "dog"), n=2)
    bad = tmp_path / "pics" / "dog" / "sub" / "bad.png"
    bad.parent.mkdir()
    if content == "truncated":  # a header Pillow recognizes, half the pixel data: decoding fails
        Image.fromarray(np.random.default_rng(5).integers(0, 256, (40, 40, 3), dtype=np.uint8)).save(bad)
        bad.write_bytes(bad.read_bytes()[:2000])
    else:
        bad.write_bytes(content)
    message = _error("pics", base_dir=tmp_path)
    reason = "image file is truncated" if content == "truncated" else "not an image file Pillow recognizes"
    assert message == f"pics/dog/sub/bad.png: is not a readable image ({reason})"


def test_a_bad_color_or_size_given_in_python(tmp_path):
    _folder(tmp_path / "pics", classes=("a", "b"), n=1)
    assert _error(tmp_path / "pics", color="cmyk") == "data.color: must be one of rgb, grayscale, got 'cmyk'"
    assert _error(tmp_path / "pics", image_size=[3]) == (
        "data.image_size: must be [height, width], two integers >= 1, got [3]"
    )
