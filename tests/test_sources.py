"""Data sources: tensorflow-datasets offline, and the two folder layouts."""

import os
import time
import warnings

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from ganomaly_keras.data import (
    decode_image_file,
    folder_protocol,
    image_dataset,
    load_split,
    load_tfds,
    read_folder_dataset,
)
from ganomaly_keras.data import tfds as tfds_source

# ------------------------------------------------------------------------- tfds


@pytest.fixture
def prepared_tfds(tmp_path):
    """A small image classification dataset prepared in a local tfds data_dir."""
    import tensorflow_datasets as tfds

    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (30, 12, 12, 1), dtype=np.uint8)
    labels = np.arange(30) % 3
    data = tf.data.Dataset.from_tensor_slices({"image": images, "label": labels})
    builder = tfds.dataset_builders.TfDataBuilder(
        name="tiny_shapes",
        config="default",
        version="1.0.0",
        split_datasets={"train": data, "test": data.take(9)},
        features=tfds.features.FeaturesDict(
            {
                "image": tfds.features.Image(shape=(12, 12, 1)),
                "label": tfds.features.ClassLabel(num_classes=3),
            }
        ),
        data_dir=str(tmp_path),
    )
    builder.download_and_prepare()
    return str(tmp_path), images, labels


def test_tfds_dataset_loads_by_name_offline(prepared_tfds):
    data_dir, images, labels = prepared_tfds
    (x_train, y_train), (x_test, y_test) = load_tfds(
        "tiny_shapes", image_size=16, channels=3, data_dir=data_dir, download=False
    )
    assert x_train.shape == (30, 16, 16, 3) and x_test.shape == (9, 16, 16, 3)
    assert x_train.dtype == np.float32 and -1 <= x_train.min() and x_train.max() <= 1
    assert sorted(y_train.tolist()) == sorted(labels.tolist())
    # The same pixels as the preprocessing contract gives (tfds may reorder records).
    from ganomaly_keras.data import preprocess_images

    expected = preprocess_images(images, 16, 3)
    order = [int(np.argmin(np.abs(expected - x).sum(axis=(1, 2, 3)))) for x in x_train]
    np.testing.assert_allclose(x_train, expected[order], atol=1e-6)


def test_unprepared_tfds_dataset_fails_at_once_offline(tmp_path, monkeypatch):
    monkeypatch.setattr(tfds_source, "network_reachable", lambda *a, **k: False)
    start = time.perf_counter()
    with pytest.raises(RuntimeError, match=r"not prepared.*tfds build mnist"):
        load_tfds("mnist", data_dir=str(tmp_path))
    with pytest.raises(RuntimeError, match="download=False"):
        load_tfds("mnist", data_dir=str(tmp_path), download=False)
    assert time.perf_counter() - start < 30


def test_unknown_tfds_name_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="no dataset named 'not_a_dataset_xyz'"):
        load_tfds("not_a_dataset_xyz", data_dir=str(tmp_path))


def test_network_probe_reports_unreachable_quickly():
    # Port 9 (discard) on localhost is closed on any test machine.
    assert tfds_source.network_reachable(("127.0.0.1", 9), timeout=1.0) is False


# ---------------------------------------------------------------------- folders


def _write(path, size, mode, value, fmt):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    channels = 3 if mode == "RGB" else 1
    array = np.full((size, size, channels), value, np.uint8).squeeze()
    Image.fromarray(array, mode=mode).save(path, format=fmt)


@pytest.fixture
def mvtec_folder(tmp_path):
    """An MVTec-layout folder mixing formats, sizes, grayscale and colour."""
    root = tmp_path / "bottle"
    for i in range(10):
        mode = "RGB" if i % 2 else "L"
        fmt, ext = [("PNG", "png"), ("JPEG", "jpg"), ("BMP", "bmp")][i % 3]
        _write(str(root / "train/good" / f"{i:03d}.{ext}"), 20 + i, mode, 40, fmt)
    for i in range(5):
        _write(str(root / "test/good" / f"{i:03d}.png"), 24, "L", 40, "PNG")
        _write(str(root / "test/crack" / f"{i:03d}.png"), 24, "RGB", 220, "PNG")
        _write(str(root / "ground_truth/crack" / f"{i:03d}_mask.png"), 24, "L", 255, "PNG")
    (root / "train/good/notes.txt").write_text("not an image, ignored by extension")
    return root


def test_mvtec_layout_is_read_with_labels_and_masks(mvtec_folder):
    data = read_folder_dataset(mvtec_folder)
    assert data["layout"] == "mvtec"
    assert len(data["train"]) == 10 and set(data["train"].labels.tolist()) == {0}
    test = data["test"]
    assert len(test) == 10 and test.labels.sum() == 5
    assert all(m is None for m, y in zip(test.masks, test.labels) if y == 0)
    assert all(m.endswith("_mask.png") for m, y in zip(test.masks, test.labels) if y == 1)
    assert set(test.defects) == {"good", "crack"}


def test_folder_protocol_splits_are_disjoint_seeded_and_stratified(mvtec_folder):
    splits = folder_protocol(mvtec_folder, validation_fraction=0.2, seed=3)
    again = folder_protocol(mvtec_folder, validation_fraction=0.2, seed=3)
    assert splits["validation"].paths == again["validation"].paths
    paths = [set(s.paths) for s in splits.values()]
    assert not (paths[0] & paths[1] or paths[0] & paths[2] or paths[1] & paths[2])
    assert set(splits["train"].labels.tolist()) == {0} and len(splits["train"]) == 8
    assert set(splits["validation"].labels.tolist()) == {0, 1}
    assert set(splits["test"].labels.tolist()) == {0, 1}
    assert sum(len(s) for s in splits.values()) == 20


def test_folder_images_decode_to_the_model_contract(mvtec_folder):
    splits = folder_protocol(mvtec_folder, seed=0)
    images, labels = load_split(splits["test"], image_size=16, channels=3)
    assert images.shape == (len(splits["test"]), 16, 16, 3)
    # Grey 40 and colour 220 pixels land at 40/255*2-1 and 220/255*2-1.
    np.testing.assert_allclose(images[labels == 0], 40 / 127.5 - 1, atol=1e-5)
    np.testing.assert_allclose(images[labels == 1], 220 / 127.5 - 1, atol=1e-5)
    gray = decode_image_file(splits["train"].paths[0], 16, 1)
    assert gray.shape == (16, 16, 1)


def test_folder_streams_batches_for_fit(mvtec_folder):
    train = folder_protocol(mvtec_folder, validation_fraction=0.0)["train"]
    dataset = image_dataset(train, 16, 1, batch_size=4, shuffle=True, seed=0)
    assert dataset.cardinality().numpy() == 3  # 10 images in batches of 4
    shapes = [tuple(b.shape) for b in dataset]
    assert shapes == [(4, 16, 16, 1), (4, 16, 16, 1), (2, 16, 16, 1)]
    labelled = image_dataset(train, 16, 1, batch_size=10, with_labels=True)
    x, y = next(iter(labelled))
    assert x.shape == (10, 16, 16, 1) and y.numpy().tolist() == [0] * 10


def test_reference_layout(tmp_path):
    root = tmp_path / "ref"
    for folder, n, value in (("train/0.normal", 4, 10), ("test/0.normal", 2, 10), ("test/1.abnormal", 3, 250)):
        for i in range(n):
            _write(str(root / folder / f"{i}.png"), 32, "L", value, "PNG")
    data = read_folder_dataset(root)
    assert data["layout"] == "reference"
    assert len(data["train"]) == 4 and data["test"].labels.tolist() == [0, 0, 1, 1, 1]


def test_corrupt_file_is_named_or_skipped_with_a_warning(mvtec_folder):
    bad = mvtec_folder / "train/good/999.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n this is not really a png")
    train = read_folder_dataset(mvtec_folder)["train"]
    with pytest.raises(ValueError, match="999.png"):
        load_split(train, 16, 1)
    # Inside tf.data the error arrives wrapped by TensorFlow, still naming the file.
    with pytest.raises((ValueError, tf.errors.InvalidArgumentError), match="999.png"):
        for _ in image_dataset(train, 16, 1, batch_size=4):
            pass
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        images, labels = load_split(train, 16, 1, on_error="skip")
        batches = list(image_dataset(train, 16, 1, batch_size=32, on_error="skip"))
    assert len(images) == len(labels) == 10 and batches[0].shape[0] == 10
    assert any("999.png" in str(w.message) for w in caught)


def test_bad_folders_are_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        read_folder_dataset(tmp_path / "missing")
    os.makedirs(tmp_path / "flat/images")
    with pytest.raises(ValueError, match="neither the MVTec AD layout"):
        read_folder_dataset(tmp_path / "flat")
    os.makedirs(tmp_path / "empty/train/good")
    with pytest.raises(ValueError, match="holds no .png"):
        read_folder_dataset(tmp_path / "empty")
