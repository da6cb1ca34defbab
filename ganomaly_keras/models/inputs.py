"""Checks on the images given to a model, with errors that say how to fix them.

Models take float images of shape `(batch, size, size, channels)` scaled to [-1, 1]
(`x / 127.5 - 1` for uint8 pixels). Shape and dtype are checked when a function is
traced; range and NaN are checked on the values at run time.
"""

import numpy as np
import tensorflow as tf

# Bilinear resizing and float round-off can step a hair outside [-1, 1].
RANGE_TOLERANCE = 1e-3


def check_images(x, image_size, channels, what="images"):
    """Raise a clear error unless `x` is a float batch of `image_size` (an int side,
    or `(height, width)`) with `channels`.

    Returns `x`, with run-time assertions (finite, within [-1, 1]) attached.
    """
    x = tf.convert_to_tensor(x)
    shape = x.shape
    height, width = (image_size, image_size) if np.ndim(image_size) == 0 else image_size
    expected = f"(batch, {height}, {width}, {channels})"
    if shape.rank is None:
        raise ValueError(f"{what} must have a known rank of 4, {expected}.")
    if shape.rank != 4:
        hint = ""
        if shape.rank == 3 and channels == 1 and shape[-1] != 1:
            hint = " For a batch of grayscale images add a channel axis: x[..., None]."
        elif shape.rank == 3:
            hint = " For a single image add a batch axis: x[None]."
        raise ValueError(
            f"{what} must have shape {expected}; got rank {shape.rank} with shape "
            f"{tuple(shape)}.{hint}"
        )
    if (shape[1] is not None and shape[1] != height) or (
        shape[2] is not None and shape[2] != width
    ):
        raise ValueError(
            f"{what} must be {height} high and {width} wide, the size the model was "
            f"built for; got shape {tuple(shape)}. Resize them first (the pipelines of "
            "ganomaly_keras.data resize for you)."
        )
    if shape[3] is not None and shape[3] != channels:
        convert = (
            "tf.image.rgb_to_grayscale" if channels == 1 else "tf.image.grayscale_to_rgb"
        )
        raise ValueError(
            f"{what} must have {channels} channel(s), as the model was built for; got "
            f"{shape[3]} (shape {tuple(shape)}). Convert them with {convert}, or build "
            f"the model with channels={shape[3]}."
        )
    if not x.dtype.is_floating:
        raise ValueError(
            f"{what} must be floating point scaled to [-1, 1]; got dtype {x.dtype.name}. "
            "For uint8 pixels use x.astype('float32') / 127.5 - 1."
        )
    limit = tf.cast(1.0 + RANGE_TOLERANCE, x.dtype)
    checks = [
        tf.debugging.assert_all_finite(
            x, f"{what} contain NaN or infinite values; clean the data first."
        ),
        tf.debugging.assert_less_equal(
            tf.reduce_max(tf.abs(x)),
            limit,
            message=(
                f"{what} must be scaled to [-1, 1], but some values lie outside. "
                "For uint8 pixels use x / 127.5 - 1; for [0, 1] floats use 2 * x - 1."
            ),
        ),
    ]
    with tf.control_dependencies(checks):
        return tf.identity(x)
