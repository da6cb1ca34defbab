"""data/tfds.py: tensorflow-datasets offline, and clear errors when a dataset cannot
be had."""


import time

import numpy as np
import pytest
import tensorflow as tf

from ganomaly_keras.data import (
    load_tfds,
)
from ganomaly_keras.data import tfds as tfds_source


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

