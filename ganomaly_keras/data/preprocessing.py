"""The one preprocessing contract of the package: raw pixels to model input.

Raw images (any size, 1 or 3 channels, integer pixels in [0, max_value] or floats in
[0, max_value]) become float32 `(n, size, size, channels)` in [-1, 1], resized
bilinearly. Export bakes the same arithmetic into its graph.
"""

import numpy as np
import tensorflow as tf


def preprocess_images(images, image_size, channels, max_value=255.0):
    """Scale raw pixels to [-1, 1], resize to `image_size`, match `channels`.

    Args:
        images: array-like `(n, h, w)` or `(n, h, w, c)` with c in {1, 3}.
        image_size: int, output side.
        channels: int, 1 or 3; grayscale and RGB are converted into each other.
        max_value: float, the value of a white pixel in `images` (255 for uint8,
            16 for scikit-learn's digits).

    Returns:
        float32 NumPy array `(n, image_size, image_size, channels)` in [-1, 1].
    """
    x = np.asarray(images)
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4 or x.shape[-1] not in (1, 3):
        raise ValueError(
            "images must have shape (n, h, w) or (n, h, w, c) with 1 or 3 channels; "
            f"got shape {x.shape}."
        )
    if x.dtype == np.bool_ or not np.issubdtype(x.dtype, np.number):
        raise ValueError(f"images must be numeric pixel values; got dtype {x.dtype}.")
    x = tf.convert_to_tensor(x.astype(np.float32) / float(max_value))
    if not bool(tf.reduce_all(tf.math.is_finite(x))):
        raise ValueError("images contain NaN or infinite values; clean the data first.")
    if channels == 1 and x.shape[-1] == 3:
        x = tf.image.rgb_to_grayscale(x)
    elif channels == 3 and x.shape[-1] == 1:
        x = tf.image.grayscale_to_rgb(x)
    elif x.shape[-1] != channels:
        raise ValueError(f"channels must be 1 or 3; got {channels}.")
    if x.shape[1] != image_size or x.shape[2] != image_size:
        x = tf.image.resize(x, (image_size, image_size), method="bilinear")
    x = tf.clip_by_value(x, 0.0, 1.0) * 2.0 - 1.0
    return x.numpy()
