"""Synthetic defects pasted into normal images, with their masks.

Anomalies are rare where a detector is trained, so the detector makes its own: a
region shaped by Perlin noise (after DRAEM, Zavrtanik et al., ICCV 2021) is filled
with something foreign to that place, and the region is the defect's mask. The
shapes are of two kinds:

- **blobs**: where the noise is above a threshold: stains, spots, missing coating;
- **lines**: where the noise is near one of its level values, a thin winding band:
  scratches and cracks.

The fills, one per image:

- **plain**: a uniform colour or grey level, blended in;
- **shift**: the image itself, brighter or darker;
- **cut-paste**: another image of the batch, moved, so the fill is real texture out of
  place;
- **noise**: uniform noise.

No texture source beyond the normal images is needed (DRAEM's ablation: plain-colour
defects alone keep most of its accuracy). Half of the images (`probability`) stay
normal, with empty masks.

Everything is TensorFlow graph ops, stateless and seeded: the same images and seed give
the same output, inside `tf.data` (`dataset.map`, seeds from the element index) or
inside a training step (seeds from the step counter). Values stay in [-1, 1].
"""

import math

import tensorflow as tf

# Perlin lattice resolutions (cells across an image side) drawn per image.
RESOLUTIONS = (2, 4, 8)
# Blobs: noise above this; lines: noise within LINE_HALF_WIDTH of 0.
BLOB_THRESHOLD = 0.2
LINE_HALF_WIDTH = 0.025
FILLS = ("plain", "shift", "cut_paste", "noise")


def _fold(seed, k):
    return tf.random.experimental.stateless_fold_in(tf.cast(seed, tf.int32), k)


def perlin_noise(batch, height, width, resolution, seed):
    """2-D Perlin noise, `(batch, height, width)`, about [-0.7, 0.7].

    Args:
        batch, height, width: the output's shape.
        resolution: lattice cells along each side (a Python int).
        seed: a `[2]` integer seed tensor.
    """
    angles = tf.random.stateless_uniform(
        (batch, resolution + 1, resolution + 1), seed, 0.0, 2.0 * math.pi
    )
    gradients = tf.stack([tf.cos(angles), tf.sin(angles)], axis=-1)
    ys = tf.linspace(0.0, float(resolution), height + 1)[:-1]
    xs = tf.linspace(0.0, float(resolution), width + 1)[:-1]
    y0, x0 = tf.floor(ys), tf.floor(xs)
    fy, fx = ys - y0, xs - x0
    y0, x0 = tf.cast(y0, tf.int32), tf.cast(x0, tf.int32)

    def corner(dy, dx):
        g = tf.gather(tf.gather(gradients, y0 + dy, axis=1), x0 + dx, axis=2)
        offset_y = (fy - dy)[None, :, None]
        offset_x = (fx - dx)[None, None, :]
        return g[..., 0] * offset_x + g[..., 1] * offset_y

    def fade(t):
        return t * t * t * (t * (t * 6.0 - 15.0) + 10.0)

    wy, wx = fade(fy)[None, :, None], fade(fx)[None, None, :]
    top = corner(0, 0) + wx * (corner(0, 1) - corner(0, 0))
    bottom = corner(1, 0) + wx * (corner(1, 1) - corner(1, 0))
    return top + wy * (bottom - top)


def defect_masks(batch, height, width, seed, probability=0.5):
    """Binary masks `(batch, height, width)` float32: a blob or a line each, or empty
    with probability `1 - probability`."""
    noises = tf.stack(
        [perlin_noise(batch, height, width, r, _fold(seed, i)) for i, r in enumerate(RESOLUTIONS)]
    )
    pick = tf.random.stateless_uniform((batch,), _fold(seed, 10), 0, len(RESOLUTIONS), tf.int32)
    noise = tf.gather(tf.transpose(noises, (1, 0, 2, 3)), pick, batch_dims=1)
    blob = tf.cast(noise > BLOB_THRESHOLD, tf.float32)
    line = tf.cast(tf.abs(noise) < LINE_HALF_WIDTH, tf.float32)
    is_line = tf.random.stateless_uniform((batch, 1, 1), _fold(seed, 11)) < 0.5
    masks = tf.where(is_line, line, blob)
    keep = tf.random.stateless_uniform((batch, 1, 1), _fold(seed, 12)) < probability
    return masks * tf.cast(keep, tf.float32)


def synthetic_defects(images, seed, probability=0.5):
    """Normal images with synthetic defects pasted in, and the defects' masks.

    Args:
        images: float `(batch, height, width, channels)` in [-1, 1].
        seed: a `[2]` integer seed (tensor, list or tuple): the same images and seed
            give the same output.
        probability: the share of images that get a defect; the others are returned
            unchanged with empty masks.

    Returns:
        `(corrupted, masks)`: float32 images in [-1, 1] of `images`' shape, and
        float32 masks `(batch, height, width)` of 0 and 1.
    """
    images = tf.convert_to_tensor(images, tf.float32)
    seed = tf.convert_to_tensor(seed)
    shape = tf.shape(images)
    batch, height, width = shape[0], images.shape[1], images.shape[2]
    channels = images.shape[3]
    masks = defect_masks(batch, height, width, seed, probability)
    m = masks[..., None]
    plain = tf.random.stateless_uniform((batch, 1, 1, channels), _fold(seed, 20), -1.0, 1.0)
    plain = plain + tf.zeros_like(images)
    sign = tf.where(tf.random.stateless_uniform((batch, 1, 1, 1), _fold(seed, 21)) < 0.5, -1.0, 1.0)
    shift = images + sign * tf.random.stateless_uniform((batch, 1, 1, 1), _fold(seed, 22), 0.3, 0.8)
    dy = tf.random.stateless_uniform((), _fold(seed, 23), 0, height, tf.int32)
    dx = tf.random.stateless_uniform((), _fold(seed, 24), 0, width, tf.int32)
    pasted = tf.roll(tf.roll(tf.roll(images, 1, axis=0), dy, axis=1), dx, axis=2)
    noise = tf.random.stateless_uniform(shape, _fold(seed, 25), -1.0, 1.0)
    fills = tf.stack([plain, shift, pasted, noise])  # (fills, batch, h, w, c)
    kind = tf.random.stateless_uniform((batch,), _fold(seed, 26), 0, len(FILLS), tf.int32)
    fill = tf.gather(tf.transpose(fills, (1, 0, 2, 3, 4)), kind, batch_dims=1)
    opacity = tf.random.stateless_uniform((batch, 1, 1, 1), _fold(seed, 27), 0.6, 1.0)
    corrupted = images * (1.0 - opacity * m) + opacity * m * fill
    return tf.clip_by_value(corrupted, -1.0, 1.0), masks


def with_synthetic_defects(dataset, seed=0, probability=0.5):
    """A `tf.data.Dataset` of image batches mapped to `(corrupted, masks)`, seeded by
    `seed` and each batch's index."""
    return dataset.enumerate().map(
        lambda index, images: synthetic_defects(
            images, tf.stack([tf.cast(seed, tf.int64), index]), probability
        ),
        num_parallel_calls=tf.data.AUTOTUNE,
    )
