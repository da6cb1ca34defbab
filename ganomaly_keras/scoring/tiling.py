"""Inspecting images larger than the network's input with overlapping tiles.

A detector built for `image_size` x `image_size` inputs can score images of a larger
`working_size`: it is trained on random `image_size` patches of working-size images,
and scores an image by cutting it into tiles of `image_size` with a stride of half a
tile. It scores every tile, averages the tiles' anomaly maps where they overlap into
one working-size map, and reduces that map to one image score. Small defects keep
their pixels this way, while downscaling the whole image to the network's input would
blur them away.

The tile grid is fixed by the two sizes, so tiling runs inside the exported graph with
plain slicing, padding and addition, all of them builtin LiteRT operators.

`working_size` must be at least `image_size`, and `working_size - image_size` a
multiple of the stride `image_size / 2`. For example, a 64-pixel network accepts
working sizes of 64, 96, 128, 160, ...
"""

import numpy as np
import tensorflow as tf


def validate_working_size(working_size, image_size):
    """`working_size` as an int if the tile grid accepts it, else a ValueError that
    names the nearest sizes that work."""
    if working_size is None:
        return None
    if int(working_size) != working_size:
        raise ValueError(f"working_size must be an integer; got {working_size!r}.")
    working_size = int(working_size)
    if working_size < image_size:
        raise ValueError(
            f"the patch (image_size {image_size}) is larger than the working size "
            f"{working_size}: use a working size of at least {image_size}, or a smaller "
            "image_size."
        )
    stride = image_size // 2
    if (working_size - image_size) % stride:
        below = working_size - (working_size - image_size) % stride
        raise ValueError(
            f"working_size {working_size} does not fit whole tiles of {image_size} at a "
            f"stride of {stride}: use {below} or {below + stride}."
        )
    return working_size


def tile_offsets(working_size, image_size):
    """Top-left corners `(y, x)` of the tiles, row by row."""
    stride = image_size // 2
    starts = range(0, working_size - image_size + 1, stride)
    return [(y, x) for y in starts for x in starts]


def extract_tiles(images, working_size, image_size):
    """Images `(batch, W, W, c)` to tiles `(tiles * batch, s, s, c)`, tile-major."""
    tiles = [
        images[:, y : y + image_size, x : x + image_size, :]
        for y, x in tile_offsets(working_size, image_size)
    ]
    return tf.concat(tiles, axis=0)


def tile_maximum(values, working_size, image_size):
    """Per-tile values `(tiles * batch,)` to the per-image maximum `(batch,)`."""
    count = len(tile_offsets(working_size, image_size))
    return tf.reduce_max(tf.reshape(values, (count, -1)), axis=0)


def _coverage(working_size, image_size):
    counts = np.zeros((working_size, working_size), np.float32)
    for y, x in tile_offsets(working_size, image_size):
        counts[y : y + image_size, x : x + image_size] += 1
    return counts


def assemble(tile_maps, working_size, image_size):
    """Tile maps `(tiles * batch, s, s[, c])` to working-size maps `(batch, W, W[, c])`,
    averaged where tiles overlap."""
    offsets = tile_offsets(working_size, image_size)
    parts = tf.split(tile_maps, len(offsets), axis=0)
    extra = [[0, 0]] * (len(tile_maps.shape) - 3)
    total = None
    for (y, x), part in zip(offsets, parts):
        after_y = working_size - image_size - y
        after_x = working_size - image_size - x
        placed = tf.pad(part, [[0, 0], [y, after_y], [x, after_x]] + extra)
        total = placed if total is None else total + placed
    coverage = _coverage(working_size, image_size)
    if extra:
        coverage = coverage[..., None]
    return total / coverage


def random_patches(images, image_size, seed=None):
    """One random `image_size` patch of each image of a batch `(batch, W, W, c)`."""
    channels = images.shape[-1]

    def crop(image):
        return tf.image.random_crop(image, (image_size, image_size, channels), seed=seed)

    return tf.map_fn(crop, images, fn_output_signature=tf.float32)
