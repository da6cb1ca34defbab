"""data/synthetic_defects.py: masks match what was pasted, the op is seeded, values
stay in range, and it runs inside tf.data."""

import numpy as np
import tensorflow as tf

from ganomaly_keras.data.synthetic_defects import synthetic_defects, with_synthetic_defects
from tests import helpers


def _texture(rng, n=12, size=32, channels=3):
    return rng.uniform(-0.6, 0.6, (n, size, size, channels)).astype("float32")


def test_masks_are_exactly_where_the_images_changed(rng):
    images = _texture(rng)
    corrupted, masks = synthetic_defects(images, [3, 7], probability=1.0)
    corrupted, masks = corrupted.numpy(), masks.numpy()
    assert set(np.unique(masks)) <= {0.0, 1.0}
    changed = np.any(np.abs(corrupted - images) > 1e-6, axis=-1)
    assert not np.any(changed & (masks == 0))  # nothing changed outside a mask
    assert changed.sum() > 0.5 * masks.sum()  # and most of every mask changed
    assert all(m.sum() > 0 for m in masks)  # probability 1: every image has a defect


def test_the_same_seed_gives_the_same_defects_and_another_seed_others(rng):
    images = _texture(rng)
    first = synthetic_defects(images, [1, 2])
    again = synthetic_defects(images, [1, 2])
    other = synthetic_defects(images, [1, 3])
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert not np.array_equal(first[1].numpy(), other[1].numpy())


def test_values_stay_in_range_and_normal_images_stay_normal(rng):
    images = rng.choice([-1.0, 1.0], (16, 24, 40, 1)).astype("float32")  # extremes
    corrupted, masks = synthetic_defects(images, [0, 0], probability=0.5)
    assert corrupted.shape == images.shape and masks.shape == (16, 24, 40)
    assert float(tf.reduce_min(corrupted)) >= -1.0 and float(tf.reduce_max(corrupted)) <= 1.0
    untouched = masks.numpy().sum(axis=(1, 2)) == 0
    assert 0 < untouched.sum() < 16  # about half keep no defect, and are unchanged
    np.testing.assert_array_equal(corrupted.numpy()[untouched], images[untouched])


def test_it_runs_inside_tf_data_seeded_by_the_batch_index(rng):
    images = _texture(rng, n=8)
    dataset = tf.data.Dataset.from_tensor_slices(images).batch(4)
    first = [(c.numpy(), m.numpy()) for c, m in with_synthetic_defects(dataset, seed=5)]
    second = [(c.numpy(), m.numpy()) for c, m in with_synthetic_defects(dataset, seed=5)]
    assert len(first) == 2
    for (c1, m1), (c2, m2) in zip(first, second):
        np.testing.assert_array_equal(c1, c2)
        np.testing.assert_array_equal(m1, m2)


def test_preview_defects_writes_a_grid(tmp_path):
    from PIL import Image

    folder = helpers.make_inspection_folder(str(tmp_path / "parts"))
    out = tmp_path / "grid.png"
    assert helpers.status(["preview-defects", folder, "--out", str(out), "--count", "3",
                           "--size", "32"]) == 0
    assert Image.open(out).size == (3 * 32, 3 * 32)
