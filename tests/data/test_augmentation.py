"""data/augmentation.py: texture augmentations keep images in range."""


import numpy as np

from ganomaly_keras.data.augmentation import texture_augmentation


def test_texture_augmentation_keeps_images_in_range(rng):
    x = rng.uniform(-1, 1, (8, 16, 16, 3)).astype("float32")
    out = np.asarray(texture_augmentation(seed=0)(x, training=True))
    assert out.shape == x.shape and out.min() >= -1.0 - 1e-6 and out.max() <= 1.0 + 1e-6
    assert not np.allclose(out, x)

