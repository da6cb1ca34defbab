"""data/decoding.py: folders decode to the model's input, stream batches for fit, and
name unreadable files or skip them."""


import os
import warnings

import numpy as np
import pytest
import tensorflow as tf

from ganomaly_keras.data import (
    decode_image_file,
    folder_protocol,
    image_dataset,
    load_split,
    read_folder_dataset,
)
from tests import helpers

pytestmark = pytest.mark.usefixtures("chdir_tmp")


def test_streamed_training_names_a_file_damaged_past_its_header(tmp_path):
    from ganomaly_keras.data.decoding import find_unreadable, image_dataset

    folder = helpers.image_folder(tmp_path / "images", n=5)
    paths = sorted(str(p) for p in folder.iterdir())
    with pytest.raises(tf.errors.InvalidArgumentError):
        for _ in image_dataset(paths, 16, 1, batch_size=2):
            pass
    found = {os.path.basename(u.path): u.reason for u in find_unreadable(paths, 16, 1)}
    assert sorted(found) == ["broken.png", "empty.png"]
    assert "not a PNG" in found["empty.png"] and found["broken.png"]


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

